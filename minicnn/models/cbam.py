"""CBAM, the Convolutional Block Attention Module (Woo, Park, Lee & Kweon, 2018): channel, then spatial attention.

SENet's block (``senet.py``) learns *which* channels matter from their averages. CBAM
refines it in two steps: its channel attention feeds the channel maxima through the same
MLP as the averages and adds the two, and a spatial attention (``nn.SpatialAttention``)
then learns *where* to look. CBAM-ResNet puts the block on every residual branch, before
the sum, as SE-ResNet does.
"""
from functools import partial

from .. import functional as F
from .. import nn
from .resnet_d2l import RESNET18_ARCH, Residual, resnet
from .senet import SEBlock


class ChannelAttention(SEBlock):
    """CBAM's channel attention (Woo et al. 2018, §3, Eq. 2): σ(MLP(avg-pool(x)) + MLP(max-pool(x))) per channel.

    ``SEBlock``'s squeeze and bottleneck MLP (C → C/r → C), shared by the two descriptors.
    """

    def forward(self, x):
        n, c = x.shape[:2]
        average, maximum = F.flatten(self.squeeze(x)), F.flatten(F.adaptive_max_pool2d(x, 1))
        weights = F.sigmoid(self.excite(average) + self.excite(maximum))
        return x * weights.reshape(n, c, 1, 1)


class CBAMBlock(nn.Module):
    """Channel attention then spatial attention, applied in sequence (Woo et al. 2018, Fig. 1).

    ``reduction`` is the channel MLP's r (16), ``kernel_size`` the spatial filter's (7).
    """

    def __init__(self, channels, reduction=16, kernel_size=7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = nn.SpatialAttention(kernel_size)

    def forward(self, x):
        return self.spatial(self.channel(x))


class CBAMResidual(Residual):
    """d2l's ``Residual`` with a ``CBAMBlock`` on the branch before the sum (Woo et al. 2018, Fig. 3)."""

    def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1, reduction=16, kernel_size=7):
        super().__init__(in_channels, num_channels, use_1x1conv, strides)
        self.cbam = CBAMBlock(num_channels, reduction, kernel_size)

    def residual(self, x):
        return self.cbam(super().residual(x))


def cbam_resnet18(num_classes=10, in_channels=1, reduction=16, kernel_size=7, width=1.0):
    """ResNet-18 (d2l's layout) with a CBAM block in every residual block (Woo et al. 2018); 11,268,242 parameters.

    That is SE-ResNet-18's 11,267,458 plus one bias-free 2→1 7×7 filter (98 weights) per block.
    """
    block = partial(CBAMResidual, reduction=reduction, kernel_size=kernel_size)
    return resnet(RESNET18_ARCH, num_classes, in_channels, block, width)
