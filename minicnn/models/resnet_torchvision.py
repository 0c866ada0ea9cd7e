"""ResNet (He, Zhang, Ren & Sun, 2016) in torchvision's layout and names: ResNet-50, and FCN's backbone.

Where d2l's ``Residual`` (``resnet_d2l.py``) keeps its convolution biases and projects
the shortcut with a bare 1×1 convolution, torchvision's blocks use bias-free convolutions
followed by BatchNorm, a conv+BN "downsample" shortcut, and the stride on the 3×3
convolution. ``BasicBlock`` builds ResNet-18/34, the paper's ``Bottleneck`` ResNet-50.
The module names are torchvision's, so the state_dict keys are too.
"""
from .. import functional as F
from .. import nn
from ._width import scaled
from .resnet_d2l import stem

STAGE_CHANNELS = (64, 128, 256, 512)  # the paper's Table 1, before a bottleneck's ×4 expansion


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
    channels = scaled(STAGE_CHANNELS[0], width)
    parts = dict(zip(("conv1", "bn1", "relu", "maxpool"), stem(in_channels, channels, bias=False)))
    for i, (num_blocks, stage_channels) in enumerate(zip(layers, STAGE_CHANNELS)):
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
