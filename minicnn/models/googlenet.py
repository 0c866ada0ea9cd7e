"""GoogLeNet / Inception v1 (Szegedy et al., 2015) as d2l §8.4 builds it, with the papers' options.

An Inception block looks at its input through four parallel paths — 1×1, 3×3 and 5×5
convolutions and a 3×3 max-pool, with 1×1 convolutions cutting the channels first — and
concatenates what they see along the channel axis. GoogLeNet stacks nine of them.

Options from the papers: ``aux_logits`` adds Inception v1's two auxiliary classifiers
(after 4a and 4d), ``batch_norm`` puts BatchNorm after every convolution (Inception v2,
Ioffe & Szegedy 2015), ``factorized`` replaces each 5×5 convolution by two 3×3 ones
(Szegedy et al. 2016, "Rethinking the Inception Architecture", §3.1). Inception v3's
other blocks and a small v3-style network are in ``inception_v3.py``.
"""
from .. import functional as F
from .. import nn
from ._width import scaled

# The paper's Table 1 (d2l §8.4.2), one row per Inception block:
# (#1×1, (#3×3 reduce, #3×3), (#5×5 reduce, #5×5), pool proj)
INCEPTION_3 = ((64, (96, 128), (16, 32), 32),
               (128, (128, 192), (32, 96), 64))
INCEPTION_4 = ((192, (96, 208), (16, 48), 64),
               (160, (112, 224), (24, 64), 64),
               (128, (128, 256), (24, 64), 64),
               (112, (144, 288), (32, 64), 64),
               (256, (160, 320), (32, 128), 128))
INCEPTION_5 = ((256, (160, 320), (32, 128), 128),
               (384, (192, 384), (48, 128), 128))
AUX_LOSS_WEIGHT = 0.3  # how much each auxiliary classifier's loss counts in training (paper §5)


def conv_relu(in_channels, out_channels, batch_norm=False, **conv_options):
    """Conv2d then ReLU, with BatchNorm between them (and no conv bias) when ``batch_norm`` (Inception v2)."""
    if not batch_norm:
        return [nn.Conv2d(in_channels, out_channels, **conv_options), nn.ReLU()]
    return [nn.Conv2d(in_channels, out_channels, bias=False, **conv_options),
            nn.BatchNorm2d(out_channels), nn.ReLU()]


class Inception(nn.Concat):
    """Four parallel paths — 1×1; 1×1→3×3; 1×1→5×5; 3×3 max-pool→1×1 — joined on channels (d2l §8.4.1).

    ``c1`` is the 1×1 path's width, ``c2`` and ``c3`` are (reduce, output) pairs of the
    3×3 and 5×5 paths, ``c4`` the pool path's projection. Output channels: c1 + c2[1] + c3[1] + c4.
    With ``factorized`` the 5×5 path is 1×1 → 3×3 (keeping c3[0] channels) → 3×3 (to c3[1]),
    Inception v3's Fig. 5 (Szegedy et al. 2016): the same 5×5 view with fewer weights.
    The paths are ``b1`` … ``b4``; ``nn.Concat`` runs each on the input and joins the results.
    """

    def __init__(self, in_channels, c1, c2, c3, c4, batch_norm=False, factorized=False):
        if factorized:  # two stacked 3×3s see the same 5×5 window: 9·r·r + 9·r·c3 < 25·r·c3 weights when r < c3
            wide = (conv_relu(c3[0], c3[0], batch_norm, kernel_size=3, padding=1)
                    + conv_relu(c3[0], c3[1], batch_norm, kernel_size=3, padding=1))
        else:
            wide = conv_relu(c3[0], c3[1], batch_norm, kernel_size=5, padding=2)
        super().__init__({
            "b1": nn.Sequential(*conv_relu(in_channels, c1, batch_norm, kernel_size=1)),
            "b2": nn.Sequential(*conv_relu(in_channels, c2[0], batch_norm, kernel_size=1),
                                *conv_relu(c2[0], c2[1], batch_norm, kernel_size=3, padding=1)),
            "b3": nn.Sequential(*conv_relu(in_channels, c3[0], batch_norm, kernel_size=1), *wide),
            "b4": nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1),
                                *conv_relu(in_channels, c4, batch_norm, kernel_size=1)),
        })
        self.out_channels = c1 + c2[1] + c3[1] + c4


def aux_classifier(in_channels, num_classes, batch_norm=False):
    """Inception v1's auxiliary head (Szegedy et al. 2015, §5): pool, 1×1 conv 128, FC 1024, dropout 0.7, FC.

    The paper pools 5×5 with stride 3, which gives 4×4 at 224 pixels; an adaptive 4×4
    average pool (torchvision's choice) gives 4×4 at any input size.
    """
    return nn.Sequential(
        nn.AdaptiveAvgPool2d((4, 4)),
        *conv_relu(in_channels, 128, batch_norm, kernel_size=1),
        nn.Flatten(),
        nn.Linear(128 * 4 * 4, 1024), nn.ReLU(), nn.Dropout(p=0.7),
        nn.Linear(1024, num_classes),
    )


def _inceptions(in_channels, table, width, **options):
    """One Inception block per row of ``table`` (channels scaled by ``width``); returns (blocks, out_channels)."""
    blocks = []
    for c1, c2, c3, c4 in table:
        block = Inception(in_channels, scaled(c1, width), tuple(scaled(c, width) for c in c2),
                          tuple(scaled(c, width) for c in c3), scaled(c4, width), **options)
        blocks.append(block)
        in_channels = block.out_channels
    return blocks, in_channels


class GoogLeNet(nn.Module):
    """GoogLeNet, stage for stage as d2l §8.4.2: b1 … b5 then a Linear (Szegedy et al., 2015).

    In training mode with ``aux_logits=True``, ``forward`` returns the tuple
    ``(logits, aux1, aux2)`` — the main head and the auxiliary heads after Inception 4a
    and 4d; combine them with ``googlenet_loss``. In eval mode it returns the logits alone.
    """

    def __init__(self, num_classes=10, in_channels=1, aux_logits=False, batch_norm=False,
                 factorized=False, width=1.0):
        super().__init__()
        options = dict(batch_norm=batch_norm, factorized=factorized)
        c64, c192 = scaled(64, width), scaled(192, width)
        self.b1 = nn.Sequential(*conv_relu(in_channels, c64, batch_norm, kernel_size=7, stride=2, padding=3),
                                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.b2 = nn.Sequential(*conv_relu(c64, c64, batch_norm, kernel_size=1),
                                *conv_relu(c64, c192, batch_norm, kernel_size=3, padding=1),
                                nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        blocks3, c480 = _inceptions(c192, INCEPTION_3, width, **options)
        self.b3 = nn.Sequential(*blocks3, nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        blocks4, c832 = _inceptions(c480, INCEPTION_4, width, **options)
        self.b4 = nn.Sequential(*blocks4, nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        blocks5, c1024 = _inceptions(c832, INCEPTION_5, width, **options)
        self.b5 = nn.Sequential(*blocks5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
        self.fc = nn.Linear(c1024, num_classes)
        self.aux_logits = aux_logits
        if aux_logits:
            self.aux1 = aux_classifier(blocks4[0].out_channels, num_classes, batch_norm)
            self.aux2 = aux_classifier(blocks4[3].out_channels, num_classes, batch_norm)

    def forward(self, x):
        x = self.b3(self.b2(self.b1(x)))
        if not (self.training and self.aux_logits):
            return self.fc(self.b5(self.b4(x)))
        inception_4a, inception_4b, inception_4c, inception_4d, inception_4e, pool = self.b4
        x = inception_4a(x)
        aux1 = self.aux1(x)
        x = inception_4d(inception_4c(inception_4b(x)))
        aux2 = self.aux2(x)
        x = pool(inception_4e(x))
        return self.fc(self.b5(x)), aux1, aux2


def googlenet(num_classes=10, in_channels=1, aux_logits=False, batch_norm=False, factorized=False, width=1.0):
    """GoogLeNet as d2l §8.4 (5,977,530 parameters at the defaults); see ``GoogLeNet`` for the options.

    ``factorized=True`` has 5,669,434 parameters (308,096 fewer: two 3×3 convolutions in
    place of each 5×5), ``batch_norm=True`` 5,984,810, both 5,676,970.
    """
    return GoogLeNet(num_classes, in_channels, aux_logits, batch_norm, factorized, width)


def googlenet_loss(outputs, target):
    """Cross-entropy of the main head plus 0.3 × each auxiliary head's (Szegedy et al. 2015, §5).

    In training mode with aux_logits the model returns (logits, aux1, aux2) and all three
    count; in eval mode it returns the logits alone and only they count.
    """
    if not isinstance(outputs, tuple):
        return F.cross_entropy(outputs, target)
    logits, aux1, aux2 = outputs
    aux = F.cross_entropy(aux1, target) + F.cross_entropy(aux2, target)
    return F.cross_entropy(logits, target) + AUX_LOSS_WEIGHT * aux
