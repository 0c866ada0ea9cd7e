"""ResNet (He, Zhang, Ren & Sun, 2016): residual blocks learn f(x) - x, so very deep nets still train.

Two layouts live here. d2l §8.6's ``Residual`` (3×3 conv-BN-ReLU-3×3 conv-BN, convolutions
keeping their bias, an optional 1×1 conv on the shortcut) builds ``resnet18`` and
``resnet34`` exactly as d2l does. torchvision's layout (bias-free convolutions, a
conv+BN "downsample" shortcut, stride on the 3×3) builds the paper's ``Bottleneck``
``resnet50`` and, with ``BasicBlock``, the ResNet-18 backbone that FCN reuses; its module
names are torchvision's, so its state_dict keys are too.
"""
from .. import functional as F
from .. import nn
from ._width import scaled

RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))  # (residual blocks, channels) per stage
RESNET34_ARCH = ((3, 64), (4, 128), (6, 256), (3, 512))


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


def resnet(arch, num_classes=10, in_channels=1, block=Residual):
    """d2l's ResNet (d2l §8.6.3): stem b1, one stage per (num_residuals, channels) of ``arch``, then GAP + Linear.

    The stem's width is the first stage's; ``block`` builds each residual block
    (``Residual``, or SENet's ``SEResidual``).
    """
    channels = arch[0][1]
    stages = {"b1": nn.Sequential(
        nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(channels), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1))}
    for i, (num_residuals, num_channels) in enumerate(arch):
        stages[f"b{i + 2}"] = resnet_block(channels, num_channels, num_residuals, i == 0, block)
        channels = num_channels
    stages["last"] = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes))
    return nn.Sequential(stages)


def resnet18(num_classes=10, in_channels=1):
    """ResNet-18 exactly as d2l §8.6.3 (He et al., 2016); 11,178,378 parameters at the defaults."""
    return resnet(RESNET18_ARCH, num_classes, in_channels)


def resnet34(num_classes=10, in_channels=1):
    """ResNet-34 in d2l's layout: stages of 3, 4, 6 and 3 residual blocks (He et al., 2016, Table 1)."""
    return resnet(RESNET34_ARCH, num_classes, in_channels)


def _downsample(in_channels, out_channels, stride):
    """torchvision's projection shortcut: a bias-free 1×1 conv with stride, then BatchNorm."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                         nn.BatchNorm2d(out_channels))


class BasicBlock(nn.Module):
    """ResNet-18/34's block in torchvision's layout: two bias-free 3×3 convs with BN (He et al., 2016, Fig. 2).

    A conv+BN ``downsample`` shortcut replaces the identity where the stride or the channels change.
    """

    expansion = 1

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        changes_shape = stride != 1 or in_channels != channels
        self.downsample = _downsample(in_channels, channels, stride) if changes_shape else None

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


class Bottleneck(nn.Module):
    """The paper's bottleneck (He et al., 2016, Fig. 5): 1×1 reduce, 3×3, 1×1 expand ×4, bias-free with BN.

    The stride sits on the 3×3 conv, as in torchvision ("ResNet v1.5").
    """

    expansion = 4

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        changes_shape = stride != 1 or in_channels != out_channels
        self.downsample = _downsample(in_channels, out_channels, stride) if changes_shape else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(y + shortcut)


def torchvision_resnet(block, layers, num_classes=10, in_channels=1, width=1.0, head=True):
    """A ResNet in torchvision's layout and names: conv1, bn1, relu, maxpool, layer1…layer4[, avgpool, flatten, fc].

    ``layers`` counts the blocks of each stage; ``width`` scales every channel count (the
    tests' tiny copies); ``head=False`` stops after layer4 (a backbone, as FCN uses).
    """
    channels = scaled(64, width)
    parts = {
        "conv1": nn.Conv2d(in_channels, channels, kernel_size=7, stride=2, padding=3, bias=False),
        "bn1": nn.BatchNorm2d(channels),
        "relu": nn.ReLU(),
        "maxpool": nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    }
    for i, (num_blocks, stage_channels) in enumerate(zip(layers, (64, 128, 256, 512))):
        stage_channels, stride = scaled(stage_channels, width), 1 if i == 0 else 2
        stage = [block(channels, stage_channels, stride)]
        channels = stage_channels * block.expansion
        stage += [block(channels, stage_channels) for _ in range(num_blocks - 1)]
        parts[f"layer{i + 1}"] = nn.Sequential(*stage)
    if head:
        parts.update(avgpool=nn.AdaptiveAvgPool2d((1, 1)), flatten=nn.Flatten(),
                     fc=nn.Linear(channels, num_classes))
    return nn.Sequential(parts)


def resnet50(num_classes=10, in_channels=1, width=1.0):
    """ResNet-50: bottleneck stages of 3, 4, 6 and 3 blocks (He et al., 2016, Table 1), torchvision's layout.

    25,557,032 parameters with 3 input channels and 1000 classes; ``width`` scales the channels.
    """
    return torchvision_resnet(Bottleneck, (3, 4, 6, 3), num_classes, in_channels, width)


def resnet18_backbone(in_channels=3, width=1.0):
    """torchvision's ResNet-18 without avgpool and fc: FCN's encoder (d2l §14.11).

    It maps (N, in_channels, H, W) to (N, 512·width, H/32, W/32).
    """
    return torchvision_resnet(BasicBlock, (2, 2, 2, 2), in_channels=in_channels, width=width, head=False)
