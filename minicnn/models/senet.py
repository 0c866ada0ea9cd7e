"""Squeeze-and-Excitation networks (Hu, Shen & Sun, 2018): learned attention over channels.

An SE block squeezes each channel to one number (global average pooling), lets a small
bottleneck MLP decide how much each channel matters (a sigmoid weight in (0, 1)), and
rescales the channels by it. SE-ResNet puts one on every residual branch, before the sum.
"""
from functools import partial

from .. import functional as F
from .. import nn
from .resnet_d2l import RESNET18_ARCH, Residual, resnet


class SEBlock(nn.Module):
    """Squeeze (GAP), excite (Linear C→C/r, ReLU, Linear C/r→C, sigmoid), scale the channels (Hu et al., 2018).

    ``reduction`` is the paper's r (16); the hidden layer keeps at least one unit.
    """

    def __init__(self, channels, reduction=16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.squeeze = nn.AdaptiveAvgPool2d((1, 1))
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def excite(self, s):
        """The bottleneck MLP on the (N, C) channel descriptor: fc2(relu(fc1(s))), before the sigmoid."""
        return self.fc2(F.relu(self.fc1(s)))

    def forward(self, x):
        n, c = x.shape[:2]
        weights = F.sigmoid(self.excite(F.flatten(self.squeeze(x))))
        return x * weights.reshape(n, c, 1, 1)


class SEResidual(Residual):
    """d2l's ``Residual`` with an ``SEBlock`` rescaling the branch before the sum (Hu et al., 2018, Fig. 3)."""

    def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1, reduction=16):
        super().__init__(in_channels, num_channels, use_1x1conv, strides)
        self.se = SEBlock(num_channels, reduction)

    def residual(self, x):
        return self.se(super().residual(x))


def se_resnet18(num_classes=10, in_channels=1, reduction=16, width=1.0):
    """ResNet-18 (d2l's layout) with an SE block in every residual block (Hu et al., 2018); 11,267,458 parameters."""
    return resnet(RESNET18_ARCH, num_classes, in_channels, partial(SEResidual, reduction=reduction), width)
