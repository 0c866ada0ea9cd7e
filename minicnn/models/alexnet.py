"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012) as d2l §8.1 builds it for 224×224 Fashion-MNIST.

Five convolutions (the first 11×11 with stride 4), three overlapping 3×3/2 max-pools,
ReLU everywhere and two dropout-regularised 4096-unit dense layers.
"""
from .. import nn
from ..kernels import output_hw
from ._width import scaled


def _feature_side(image_size):
    """Side of the last feature map: conv1 (k11, s4, p1) then three 3×3/2 max-pools; 5 at 224."""
    side = output_hw((image_size, image_size), (11, 11), (4, 4), (1, 1))[0]
    for _ in range(3):
        side = output_hw((side, side), (3, 3), (2, 2), (0, 0))[0]
    if side < 1:
        raise ValueError(f"alexnet: image_size={image_size} is too small; it needs at least 65 pixels")
    return side


def alexnet(num_classes=10, in_channels=1, width=1.0, image_size=224):
    """AlexNet, layer for layer as d2l §8.1 (Krizhevsky et al., 2012); 46,764,746 parameters at the defaults.

    ``image_size`` sizes the first dense layer (256·5·5 = 6400 inputs at 224); ``width``
    scales every channel and hidden-unit count (the test's tiny copies use 1/32).
    """
    c1, c2, c3, c5, hidden = (scaled(c, width) for c in (96, 256, 384, 256, 4096))
    side = _feature_side(image_size)
    return nn.Sequential(
        nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c3, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c5, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(c5 * side * side, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(hidden, num_classes),
    )
