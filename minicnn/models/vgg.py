"""VGG (Simonyan & Zisserman, 2015): networks built from repeated blocks, as d2l §8.2 builds them.

A block is n × (3×3 conv, padding 1, ReLU) followed by a 2×2/2 max-pool that halves the
side; five blocks take 224×224 down to 7×7, and a three-layer dense head classifies.
The paper's test-time trick turns that head into convolutions (``fully_convolutional``).
"""
import math

from .. import nn
from ._width import scaled

VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))  # the paper's configuration A
VGG16_ARCH = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))  # the paper's configuration D


def vgg_block(num_convs, in_channels, out_channels):
    """``num_convs`` × (3×3 conv + ReLU), then a 2×2 max-pool that halves height and width (d2l §8.2.1)."""
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch, num_classes=10, in_channels=1, hidden=4096, image_size=224, width=1.0):
    """A VGG: one ``vgg_block`` per (num_convs, out_channels) of ``conv_arch``, then the dense head (d2l §8.2.2).

    ``image_size`` sizes the first dense layer (512·7·7 inputs at 224 for five blocks);
    ``hidden`` is the width of the two hidden dense layers; ``width`` scales the blocks' channels.
    """
    blocks, channels = [], in_channels
    for num_convs, out_channels in conv_arch:
        out_channels = scaled(out_channels, width)
        blocks.append(vgg_block(num_convs, channels, out_channels))
        channels = out_channels
    side = image_size // 2 ** len(conv_arch)
    if side < 1:
        raise ValueError(
            f"vgg: {len(conv_arch)} blocks halve a {image_size}-pixel image to nothing; "
            f"use image_size >= {2 ** len(conv_arch)}"
        )
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(channels * side * side, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, num_classes),
    )


def vgg11(ratio=1, num_classes=10, in_channels=1, width=1.0):
    """VGG-11 (configuration A) with every block's channels scaled by ``width`` (d2l §8.2.3).

    ``ratio`` is d2l's spelling of the same knob, a divisor: d2l trains ``ratio=4``, that is
    ``width=1/4`` (43,093,322 parameters; 128,806,154 at full width). Give one or the other.
    """
    if ratio == 1:
        return vgg(VGG11_ARCH, num_classes, in_channels, width=width)
    if width != 1:
        raise ValueError(f"vgg11: ratio={ratio} and width={width} both set the channels; give only width")
    arch = tuple((num_convs, channels // ratio) for num_convs, channels in VGG11_ARCH)
    return vgg(arch, num_classes, in_channels)


def vgg16(num_classes=10, in_channels=1, width=1.0):
    """VGG-16 (configuration D of Simonyan & Zisserman, 2015, Table 1); ``width`` scales the channels."""
    return vgg(VGG16_ARCH, num_classes, in_channels, width=width)


def fully_convolutional(net):
    """The paper's dense evaluation (Simonyan & Zisserman, 2015, §3.2): the dense head as convolutions.

    The first Linear becomes a k×k convolution over the last feature map (k = 7 at 224)
    and the others 1×1 convolutions, holding the same weights. On the training size the
    result is the same class scores, shaped (N, classes, 1, 1); a larger image gives a
    class-score map (N, classes, h, w) that the paper averages. The returned network
    shares ``net``'s convolutional blocks and copies its dense weights.
    """
    layers = list(net.children())
    flatten = next(i for i, layer in enumerate(layers) if isinstance(layer, nn.Flatten))
    features, head = layers[:flatten], layers[flatten + 1:]
    last_conv = [m for block in features for m in block.modules() if isinstance(m, nn.Conv2d)][-1]
    channels = last_conv.out_channels
    converted = []
    for layer in head:
        if isinstance(layer, nn.Linear):
            layer = _linear_as_conv(layer, channels)
            channels = layer.weight.shape[0]
        converted.append(layer)
    return nn.Sequential(*features, *converted)


def _linear_as_conv(linear, in_channels):
    """A Conv2d computing ``linear`` on a (C, k, k) window: weight (out, C·k·k) reshaped to (out, C, k, k)."""
    out_features, in_features = linear.weight.shape
    side = math.isqrt(in_features // in_channels)
    if in_channels * side * side != in_features:
        raise ValueError(
            f"fully_convolutional: Linear({in_features}→{out_features}) does not read a square "
            f"{in_channels}-channel feature map; is this a VGG head?"
        )
    conv = nn.Conv2d(in_channels, out_features, kernel_size=side, bias=linear.bias is not None)
    conv.weight.data = linear.weight.data.reshape(out_features, in_channels, side, side).copy()
    if linear.bias is not None:
        conv.bias.data = linear.bias.data.copy()
    return conv
