"""LeNet-5 (LeCun et al., 1998) as d2l builds it, and its BatchNorm variant (Ioffe & Szegedy, 2015).

Sigmoid activations and average pooling, as in the original; d2l §7.6 and §8.5.
"""
from .. import nn


def lenet(num_classes=10, in_channels=1):
    """LeNet for 28×28 inputs: two 5×5 conv + sigmoid + avg-pool stages, then three dense layers (d2l §7.6)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )


def lenet_bn(num_classes=10, in_channels=1):
    """LeNet with BatchNorm after every conv and hidden dense layer, before the sigmoid (d2l §8.5.4)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
    )
