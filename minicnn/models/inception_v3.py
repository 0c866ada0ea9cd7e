"""Inception v3's blocks (Szegedy, Vanhoucke, Ioffe, Shlens & Wojna, 2016, "Rethinking the Inception Architecture").

The paper's idea is to factorise: a big convolution is replaced by a stack of small ones
that sees the same window with fewer weights, and BatchNorm follows every convolution.

- ``FactorizedInception`` (Fig. 5): GoogLeNet's block with the 5×5 path as two 3×3s.
- ``AsymmetricInception`` (Fig. 6): an n×n convolution as a 1×n then an n×1 one.
- ``GridReduction`` (Fig. 10): halve the grid with a stride-2 convolution path *beside* a
  stride-2 pooling path, concatenated, so that neither a pool before the convolutions
  (a representational bottleneck) nor convolutions before the pool (3× the cost) is needed.

``inception_v3`` stacks them into a small network for 28–96 px Fashion-MNIST; see
``docs/networks/inception_v3.md``. The paper's other v3 ingredient, label smoothing, is
``F.cross_entropy(..., label_smoothing=0.1)``.
"""
from .. import nn
from ._width import scaled
from .googlenet import Inception, conv_relu


def conv_bn_relu(in_channels, out_channels, **conv_options):
    """Conv2d (no bias) → BatchNorm2d → ReLU as a list of layers: every convolution of Inception v3."""
    return conv_relu(in_channels, out_channels, batch_norm=True, **conv_options)


def _asymmetric(in_channels, out_channels, n, horizontal):
    """A 1×n (``horizontal``) or n×1 convolution with BN and ReLU, padded to keep the size."""
    kernel, padding = ((1, n), (0, n // 2)) if horizontal else ((n, 1), (n // 2, 0))
    return conv_bn_relu(in_channels, out_channels, kernel_size=kernel, padding=padding)


class FactorizedInception(Inception):
    """Fig. 5 of Szegedy et al. (2016): 1×1; 1×1→3×3; 1×1→3×3→3×3; pool→1×1, with BN after every conv.

    GoogLeNet's ``Inception`` with ``batch_norm=True, factorized=True``: the two stacked 3×3
    convolutions see a 5×5 window. Same arguments as ``Inception``; output c1 + c2[1] + c3[1] + c4.
    """

    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__(in_channels, c1, c2, c3, c4, batch_norm=True, factorized=True)


class AsymmetricInception(nn.Concat):
    """Fig. 6 of Szegedy et al. (2016): each n×n convolution factorised into a 1×n then an n×1.

    Paths: ``b1`` 1×1 to c1; ``b2`` 1×1 to c2[0] → 1×n → n×1 to c2[1] (one n×n view);
    ``b3`` 1×1 to c3[0] → 1×n → n×1 → 1×n → n×1 to c3[1] (two stacked n×n views);
    ``b4`` 3×3 max-pool → 1×1 to c4. The inner convolutions keep the reduced width and
    the last one widens, so a 1×n + n×1 pair costs 2n·r² weights where an n×n costs n²·r².
    Output channels: c1 + c2[1] + c3[1] + c4; height and width are kept (odd ``n``).
    """

    def __init__(self, in_channels, c1, c2, c3, c4, n=7):
        if n % 2 == 0:
            raise ValueError(f"AsymmetricInception: n must be odd to keep the size with padding n//2, got {n}")
        double = []
        for i in range(4):
            out = c3[1] if i == 3 else c3[0]
            double += _asymmetric(c3[0], out, n, horizontal=i % 2 == 0)
        super().__init__({
            "b1": nn.Sequential(*conv_bn_relu(in_channels, c1, kernel_size=1)),
            "b2": nn.Sequential(*conv_bn_relu(in_channels, c2[0], kernel_size=1),
                                *_asymmetric(c2[0], c2[0], n, horizontal=True),
                                *_asymmetric(c2[0], c2[1], n, horizontal=False)),
            "b3": nn.Sequential(*conv_bn_relu(in_channels, c3[0], kernel_size=1), *double),
            "b4": nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                *conv_bn_relu(in_channels, c4, kernel_size=1)),
        })
        self.out_channels = c1 + c2[1] + c3[1] + c4


class GridReduction(nn.Concat):
    """Fig. 10 of Szegedy et al. (2016): stride-2 convolutions and a stride-2 max-pool in parallel, concatenated.

    Paths: ``b1`` 1×1 to c1[0] → 3×3 stride 2 to c1[1]; ``b2`` 1×1 to c2[0] → 3×3 →
    3×3 stride 2 to c2[1]; ``b3`` 3×3 max-pool stride 2, which passes all ``in_channels``
    on. Output channels: c1[1] + c2[1] + in_channels, so the grid shrinks while the
    channels grow. ``padding=0`` is the paper's (35 → 17); ``padding=1`` halves any size,
    rounding up (28 → 14 → 7 → 4).
    """

    def __init__(self, in_channels, c1, c2, padding=0):
        reduce = dict(kernel_size=3, stride=2, padding=padding)
        super().__init__({
            "b1": nn.Sequential(*conv_bn_relu(in_channels, c1[0], kernel_size=1),
                                *conv_bn_relu(c1[0], c1[1], **reduce)),
            "b2": nn.Sequential(*conv_bn_relu(in_channels, c2[0], kernel_size=1),
                                *conv_bn_relu(c2[0], c2[0], kernel_size=3, padding=1),
                                *conv_bn_relu(c2[0], c2[1], **reduce)),
            "b3": nn.MaxPool2d(**reduce),
        })
        self.out_channels = c1[1] + c2[1] + in_channels


def _scaled(spec, width):
    """An int or a tuple of channel counts, each scaled by ``width``."""
    return tuple(scaled(c, width) for c in spec) if isinstance(spec, tuple) else scaled(spec, width)


def _stage(block, in_channels, rows, width, **options):
    """One ``block`` per row of channel specs (scaled by ``width``), chained; returns (Sequential, out_channels)."""
    blocks = []
    for row in rows:
        blocks.append(block(in_channels, *(_scaled(spec, width) for spec in row), **options))
        in_channels = blocks[-1].out_channels
    return nn.Sequential(*blocks), in_channels


# Channel plans, one row per block, in each block's argument order.
FACTORIZED_ROWS = ((32, (32, 48), (16, 32), 16), (32, (32, 48), (16, 32), 16))  # 128 out each
REDUCTION_1 = ((64, 96), (32, 64))                                               # 96 + 64 + 128 = 288
ASYMMETRIC_ROWS = ((64, (48, 64), (48, 64), 64), (64, (48, 64), (48, 64), 64))  # 256 out each
REDUCTION_2 = ((96, 128), (64, 96))                                              # 128 + 96 + 256 = 480


def inception_v3(num_classes=10, in_channels=1, width=1.0, n=7, dropout=0.5):
    """A small Inception-v3-style network for 28–96 px inputs (Szegedy et al. 2016); 773,162 parameters.

    stem (3×3 stride 2, 3×3, 3×3, with BN) → two ``FactorizedInception`` → ``GridReduction``
    → two ``AsymmetricInception`` (1×n, n×1) → ``GridReduction`` → global average pool,
    dropout, Linear. A 28×28 image is seen at 14×14, 7×7 and 4×4; 96×96 at 48, 24 and 12.
    The paper's network is for 299×299 ImageNet images and has tens of millions of
    parameters; this one keeps its three kinds of block at a size that trains on a CPU.
    ``width`` scales every channel count, ``n`` is the asymmetric blocks' kernel length.
    """
    c32, c64 = scaled(32, width), scaled(64, width)
    stem = nn.Sequential(*conv_bn_relu(in_channels, c32, kernel_size=3, stride=2, padding=1),
                         *conv_bn_relu(c32, c32, kernel_size=3, padding=1),
                         *conv_bn_relu(c32, c64, kernel_size=3, padding=1))
    factorized, channels = _stage(FactorizedInception, c64, FACTORIZED_ROWS, width)
    reduction1 = GridReduction(channels, *(_scaled(spec, width) for spec in REDUCTION_1), padding=1)
    asymmetric, channels = _stage(AsymmetricInception, reduction1.out_channels, ASYMMETRIC_ROWS, width, n=n)
    reduction2 = GridReduction(channels, *(_scaled(spec, width) for spec in REDUCTION_2), padding=1)
    return nn.Sequential({
        "stem": stem, "factorized": factorized, "reduction1": reduction1,
        "asymmetric": asymmetric, "reduction2": reduction2,
        "head": nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Dropout(p=dropout),
                              nn.Linear(reduction2.out_channels, num_classes)),
    })
