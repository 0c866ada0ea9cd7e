"""Network in Network (Lin, Chen & Yan, 2014) as d2l §8.3 builds it.

Each NiN block is an ordinary convolution followed by two 1×1 convolutions — a small
per-pixel MLP across channels. There is no dense head: the last block emits one channel
per class and global average pooling turns each into a score.
"""
from .. import nn
from ._width import scaled


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    """Conv(k, s, p)-ReLU then two 1×1 Conv-ReLU pairs: an MLP applied at every pixel (d2l §8.3.1)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=strides, padding=padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )


def nin(num_classes=10, in_channels=1, width=1.0):
    """NiN for 224×224 inputs, layer for layer as d2l §8.3.2 (Lin et al., 2014); 1,992,166 parameters.

    ``width`` scales the channels of the first three blocks (the tests' tiny copies use 1/32).
    """
    c1, c2, c3 = (scaled(c, width) for c in (96, 256, 384))
    return nn.Sequential(
        nin_block(in_channels, c1, kernel_size=11, strides=4, padding=0),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(c1, c2, kernel_size=5, strides=1, padding=2),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nin_block(c2, c3, kernel_size=3, strides=1, padding=1),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Dropout(p=0.5),
        nin_block(c3, num_classes, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )
