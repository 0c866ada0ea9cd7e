"""DenseNet (Huang, Liu, van der Maaten & Weinberger, 2017): each layer sees every earlier layer's output.

A dense block concatenates each layer's new feature maps onto its input, so the channels
grow by ``growth_rate`` per layer; transition blocks halve channels and size between dense
blocks. ``densenet`` is d2l §8.7's network; ``densenet121`` is the paper's DenseNet-BC-121
in torchvision's layout (1×1 bottleneck before every 3×3, bias-free convolutions).
"""
from .. import functional as F
from .. import nn
from ._width import scaled
from .resnet_d2l import stem


def conv_block(in_channels, num_channels):
    """BN-ReLU-Conv3×3: DenseNet's "pre-activation" layer (d2l §8.7.2)."""
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1))


def bottleneck_layer(in_channels, growth_rate, bn_size=4):
    """DenseNet-B's layer (Huang et al., 2017, §3): BN-ReLU-Conv1×1 to bn_size·k, then BN-ReLU-Conv3×3 to k.

    Its convolutions have no bias (BatchNorm follows), as in torchvision.
    """
    width = bn_size * growth_rate
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, width, kernel_size=1, bias=False),
        nn.BatchNorm2d(width), nn.ReLU(),
        nn.Conv2d(width, growth_rate, kernel_size=3, padding=1, bias=False))


class DenseBlock(nn.Module):
    """``num_convs`` layers, each adding ``num_channels`` maps concatenated onto its input (d2l §8.7.2).

    Output channels: in_channels + num_convs · num_channels. ``layer`` builds each layer
    from (its input channels, num_channels): ``conv_block`` or ``bottleneck_layer``.
    """

    def __init__(self, num_convs, in_channels, num_channels, layer=conv_block):
        super().__init__()
        self.net = nn.Sequential(*[layer(in_channels + i * num_channels, num_channels) for i in range(num_convs)])
        self.out_channels = in_channels + num_convs * num_channels

    def forward(self, x):
        for layer in self.net:
            x = F.concat([x, layer(x)], axis=1)
        return x


def transition_block(in_channels, num_channels, bias=True):
    """BN-ReLU-Conv1×1 then a 2×2 average pool: fewer channels, half the size (d2l §8.7.3).

    d2l's conv keeps its bias; DenseNet-121 (torchvision) uses ``bias=False``.
    """
    return nn.Sequential(
        nn.BatchNorm2d(in_channels), nn.ReLU(),
        nn.Conv2d(in_channels, num_channels, kernel_size=1, bias=bias),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(num_classes=10, in_channels=1, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), width=1.0):
    """d2l's DenseNet (d2l §8.7.4): ResNet's stem, then dense blocks joined by halving transitions.

    ``arch`` counts each dense block's layers, ``num_channels`` is the stem's width and
    ``growth_rate`` the channels each layer adds; ``width`` scales both. 758,226 parameters
    at the defaults.
    """
    num_channels, growth_rate = scaled(num_channels, width), scaled(growth_rate, width)
    stages = {"b1": nn.Sequential(*stem(in_channels, num_channels))}
    for i, num_convs in enumerate(arch):
        stages[f"dense_blk{i + 1}"] = DenseBlock(num_convs, num_channels, growth_rate)
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            stages[f"tran_blk{i + 1}"] = transition_block(num_channels, num_channels // 2)
            num_channels //= 2
    stages["last"] = nn.Sequential(
        nn.BatchNorm2d(num_channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Linear(num_channels, num_classes))
    return nn.Sequential(stages)


def densenet121(num_classes=10, in_channels=1, growth_rate=32, num_init_features=64,
                block_config=(6, 12, 24, 16), width=1.0):
    """DenseNet-BC-121 (Huang et al., 2017, Table 1) in torchvision's layout.

    Bottleneck layers (bn_size 4) and compression 0.5 in the transitions; torchvision's
    names for the top level (``features``: conv0 … norm5, then ``classifier``).
    7,978,856 parameters with 3 input channels and 1000 classes; ``width`` scales
    ``growth_rate`` and ``num_init_features``.
    """
    channels, growth_rate = scaled(num_init_features, width), scaled(growth_rate, width)
    features = dict(zip(("conv0", "norm0", "relu0", "pool0"), stem(in_channels, channels, bias=False)))
    for i, num_layers in enumerate(block_config):
        block = DenseBlock(num_layers, channels, growth_rate, layer=bottleneck_layer)
        features[f"denseblock{i + 1}"] = block
        channels = block.out_channels
        if i != len(block_config) - 1:
            features[f"transition{i + 1}"] = transition_block(channels, channels // 2, bias=False)
            channels //= 2
    features["norm5"] = nn.BatchNorm2d(channels)
    return nn.Sequential({
        "features": nn.Sequential(features),
        "relu": nn.ReLU(),
        "avgpool": nn.AdaptiveAvgPool2d((1, 1)),
        "flatten": nn.Flatten(),
        "classifier": nn.Linear(channels, num_classes),
    })
