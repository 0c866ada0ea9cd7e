"""ResNet (He, Zhang, Ren & Sun, 2016) exactly as d2l §8.6 builds it: residual blocks learn f(x) - x.

d2l's ``Residual`` is 3×3 conv-BN-ReLU-3×3 conv-BN with the convolutions keeping their
bias and an optional 1×1 convolution on the shortcut; ``resnet18`` and ``resnet34`` stack
it layer for layer as d2l does. The paper's other layout, torchvision's (bias-free
convolutions, conv+BN shortcuts, the bottleneck ResNet-50), is in ``resnet_torchvision.py``;
both start with the same ``stem``.
"""
from .. import functional as F
from .. import nn
from ._width import scaled

RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))  # (residual blocks, channels) per stage
RESNET34_ARCH = ((3, 64), (4, 128), (6, 256), (3, 512))


def stem(in_channels, channels, bias=True):
    """ResNet's input layers (He et al., 2016, Table 1): 7×7 conv stride 2, BN, ReLU, 3×3 max-pool stride 2.

    A list of the four layers, a quarter of the input's side; d2l's convolution keeps its
    bias, torchvision's has none. DenseNet starts the same way.
    """
    return [nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3, bias=bias),
            nn.BatchNorm2d(channels), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]


class Residual(nn.Module):
    """d2l's residual block (d2l §8.6.2): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)).

    The shortcut is the identity, or with ``use_1x1conv`` a 1×1 convolution with stride
    ``strides`` that matches the branch's channels and size.
    """

    def __init__(self, in_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        if not use_1x1conv and (in_channels != num_channels or strides != 1):
            raise ValueError(
                f"Residual({in_channels}→{num_channels}, strides={strides}): an identity shortcut "
                "cannot change channels or size; pass use_1x1conv=True"
            )
        self.conv1 = nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def residual(self, x):
        """The branch that learns f(x) - x: conv-BN-ReLU-conv-BN."""
        return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))

    def forward(self, x):
        shortcut = x if self.conv3 is None else self.conv3(x)
        return F.relu(self.residual(x) + shortcut)


def resnet_block(in_channels, num_channels, num_residuals, first_block=False, block=Residual):
    """One stage of ``num_residuals`` blocks; all but the first stage start by halving the size (d2l §8.6.3)."""
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blocks.append(block(in_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blocks.append(block(num_channels, num_channels))
    return nn.Sequential(*blocks)


def resnet(arch, num_classes=10, in_channels=1, block=Residual, width=1.0):
    """d2l's ResNet (d2l §8.6.3): stem b1, one stage per (num_residuals, channels) of ``arch``, then GAP + Linear.

    The stem's width is the first stage's; ``block`` builds each residual block
    (``Residual``, or SENet's ``SEResidual``); ``width`` scales every channel count.
    """
    arch = tuple((num_residuals, scaled(num_channels, width)) for num_residuals, num_channels in arch)
    channels = arch[0][1]
    stages = {"b1": nn.Sequential(*stem(in_channels, channels))}
    for i, (num_residuals, num_channels) in enumerate(arch):
        stages[f"b{i + 2}"] = resnet_block(channels, num_channels, num_residuals, i == 0, block)
        channels = num_channels
    stages["last"] = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes))
    return nn.Sequential(stages)


def resnet18(num_classes=10, in_channels=1, width=1.0):
    """ResNet-18 exactly as d2l §8.6.3 (He et al., 2016); 11,178,378 parameters at the defaults."""
    return resnet(RESNET18_ARCH, num_classes, in_channels, width=width)


def resnet34(num_classes=10, in_channels=1, width=1.0):
    """ResNet-34 in d2l's layout: stages of 3, 4, 6 and 3 residual blocks (He et al., 2016, Table 1)."""
    return resnet(RESNET34_ARCH, num_classes, in_channels, width=width)
