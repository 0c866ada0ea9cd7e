"""Spatial attention, CBAM's "where" (Woo, Park, Lee & Kweon, 2018, "CBAM: Convolutional Block Attention Module").

Channel attention (SENet's squeeze-and-excitation, ``models/senet.py``) decides *which*
feature maps matter for an image; spatial attention decides *where* in the image to look.
"""
from .. import functional as F
from .conv import Conv2d
from .module import Module


class SpatialAttention(Module):
    """Scale every pixel by a weight in (0, 1) computed from the channels there (Woo et al. 2018, §3, Eq. 3).

    At each pixel the channels are pooled two ways, their mean and their max; the two
    (N, 1, H, W) maps are stacked, convolved by one ``kernel_size``×``kernel_size`` filter
    (bias-free, padded to keep the size) and squashed by a sigmoid: M = σ(conv([mean; max])).
    The output is x · M, the same map for every channel.
    """

    def __init__(self, kernel_size=7):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"SpatialAttention: kernel_size must be odd to keep the size, got {kernel_size}")
        self.conv = Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def attention(self, x):
        """The (N, 1, H, W) map M = σ(conv([channel mean; channel max]))."""
        if x.ndim != 4:
            raise ValueError(f"SpatialAttention expects (N, C, H, W) feature maps, got shape {tuple(x.shape)}")
        pooled = F.cat([F.mean(x, dim=1, keepdim=True), F.max(x, dim=1, keepdim=True)], dim=1)
        return F.sigmoid(self.conv(pooled))

    def forward(self, x):
        return x * self.attention(x)
