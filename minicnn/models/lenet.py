"""LeNet-5 (LeCun et al., 1998) as d2l builds it, and its BatchNorm variant (Ioffe & Szegedy, 2015).

Sigmoid activations and average pooling, as in the original; d2l §7.6 and §8.5.
"""
from .. import nn
from ._width import scaled


def _widths(width):
    """LeNet's channel and unit counts (6, 16, 120, 84) scaled by ``width``."""
    return (scaled(c, width) for c in (6, 16, 120, 84))


def lenet(num_classes=10, in_channels=1, width=1.0):
    """LeNet for 28×28 inputs: two 5×5 conv + sigmoid + avg-pool stages, then three dense layers (d2l §7.6).

    61,706 parameters at the defaults; ``width`` scales every channel and hidden-unit count.
    """
    c1, c2, h1, h2 = _widths(width)
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(c2 * 5 * 5, h1), nn.Sigmoid(),
        nn.Linear(h1, h2), nn.Sigmoid(),
        nn.Linear(h2, num_classes),
    )


def lenet_bn(num_classes=10, in_channels=1, width=1.0):
    """LeNet with BatchNorm after every conv and hidden dense layer, before the sigmoid (d2l §8.5.4).

    44,878 parameters at the defaults; ``width`` scales every channel and hidden-unit count.
    """
    c1, c2, h1, h2 = _widths(width)
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=5), nn.BatchNorm2d(c1), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5), nn.BatchNorm2d(c2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(c2 * 4 * 4, h1), nn.BatchNorm1d(h1), nn.Sigmoid(),
        nn.Linear(h1, h2), nn.BatchNorm1d(h2), nn.Sigmoid(),
        nn.Linear(h2, num_classes),
    )
