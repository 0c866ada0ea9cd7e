"""The PyTorch twins of minicnn's classic networks, for the benchmarks, and the pairs they form.

Each twin is written from the architecture in ``minicnn/models/*.py`` (d2l chapter 8), with its
parameters registered in the same order and with the same shapes as minicnn's, so that
``common.copy_weights_to_torch`` can give both the same weights by position; each takes
the same size keywords as its minicnn constructor (``image_size``, ``width``).
``tests/test_bench_twins.py`` checks that each twin computes what minicnn's network computes.
PyTorch is passed in (``torch``), so this module imports neither framework.
"""

VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))  # Simonyan & Zisserman's configuration A
VGG11_QUARTER = tuple((convs, channels // 4) for convs, channels in VGG11_ARCH)  # d2l's ratio 4
RESNET18_ARCH = ((2, 64), (2, 128), (2, 256), (2, 512))  # (residual blocks, channels) per stage
# Szegedy et al. 2015, Table 1, per stage: #1×1, (#3×3 reduce, #3×3), (#5×5 reduce, #5×5), pool proj
INCEPTION_STAGES = (
    ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)),
    ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
     (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)),
    ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)),
)


def scaled(channels, width):
    """minicnn's ``width`` rule: ``channels`` times ``width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


def torch_alexnet(torch, image_size=224, width=1.0):
    """AlexNet as d2l §8.1: five convolutions (11×11/4 first), three 3×3/2 max-pools, two dropout dense layers."""
    nn = torch.nn
    c1, c2, c3, c5, hidden = (scaled(c, width) for c in (96, 256, 384, 256, 4096))
    features = nn.Sequential(
        nn.Conv2d(1, c1, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(), nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(),
        nn.Conv2d(c3, c5, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten())
    flat = features(torch.zeros(1, 1, image_size, image_size)).shape[1]
    return nn.Sequential(*features, nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 10))


def torch_vgg(torch, conv_arch, hidden=4096, image_size=224, width=1.0):
    """A VGG as d2l §8.2: per (convs, channels), that many 3×3 Conv-ReLU and a 2×2 max-pool; a dense head."""
    nn = torch.nn
    layers, channels = [], 1
    for num_convs, out_channels in conv_arch:
        for _ in range(num_convs):
            layers += [nn.Conv2d(channels, scaled(out_channels, width), 3, padding=1), nn.ReLU()]
            channels = scaled(out_channels, width)
        layers.append(nn.MaxPool2d(2, 2))
    flat = channels * (image_size // 2 ** len(conv_arch)) ** 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(flat, hidden), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 10))


def torch_nin(torch, width=1.0):
    """NiN as d2l §8.3: blocks of a convolution and two 1×1 convolutions, max-pools, global average pooling."""
    nn = torch.nn

    def block(in_channels, channels, kernel_size, stride, padding):
        return nn.Sequential(nn.Conv2d(in_channels, channels, kernel_size, stride, padding), nn.ReLU(),
                             nn.Conv2d(channels, channels, 1), nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.ReLU())

    c1, c2, c3 = (scaled(c, width) for c in (96, 256, 384))
    return nn.Sequential(
        block(1, c1, 11, 4, 0), nn.MaxPool2d(3, 2), block(c1, c2, 5, 1, 2), nn.MaxPool2d(3, 2),
        block(c2, c3, 3, 1, 1), nn.MaxPool2d(3, 2), nn.Dropout(0.5), block(c3, 10, 3, 1, 1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


def torch_googlenet(torch, width=1.0):
    """GoogLeNet as d2l §8.4: stages b1 … b5 of Inception blocks (four paths joined on channels), a Linear."""
    nn = torch.nn

    def conv_relu(in_channels, channels, kernel_size, **options):
        return [nn.Conv2d(in_channels, channels, kernel_size, **options), nn.ReLU()]

    class Inception(nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.b1 = nn.Sequential(*conv_relu(in_channels, c1, 1))
            self.b2 = nn.Sequential(*conv_relu(in_channels, c2[0], 1), *conv_relu(c2[0], c2[1], 3, padding=1))
            self.b3 = nn.Sequential(*conv_relu(in_channels, c3[0], 1), *conv_relu(c3[0], c3[1], 5, padding=2))
            self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *conv_relu(in_channels, c4, 1))
            self.out_channels = c1 + c2[1] + c3[1] + c4

        def forward(self, x):
            return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)

    def stage(in_channels, rows):
        blocks = []
        for c1, c2, c3, c4 in rows:
            blocks.append(Inception(in_channels, scaled(c1, width), tuple(scaled(c, width) for c in c2),
                                    tuple(scaled(c, width) for c in c3), scaled(c4, width)))
            in_channels = blocks[-1].out_channels
        return blocks, in_channels

    c64, c192 = scaled(64, width), scaled(192, width)
    stage3, c480 = stage(c192, INCEPTION_STAGES[0])
    stage4, c832 = stage(c480, INCEPTION_STAGES[1])
    stage5, c1024 = stage(c832, INCEPTION_STAGES[2])
    return nn.Sequential(
        nn.Sequential(*conv_relu(1, c64, 7, stride=2, padding=3), nn.MaxPool2d(3, 2, 1)),
        nn.Sequential(*conv_relu(c64, c64, 1), *conv_relu(c64, c192, 3, padding=1), nn.MaxPool2d(3, 2, 1)),
        nn.Sequential(*stage3, nn.MaxPool2d(3, 2, 1)),
        nn.Sequential(*stage4, nn.MaxPool2d(3, 2, 1)),
        nn.Sequential(*stage5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()),
        nn.Linear(c1024, 10))


def _stem(nn, channels):
    """ResNet's (and DenseNet's) input layers: 7×7/2 conv, BatchNorm, ReLU, 3×3/2 max-pool."""
    return nn.Sequential(nn.Conv2d(1, channels, 7, stride=2, padding=3), nn.BatchNorm2d(channels), nn.ReLU(),
                         nn.MaxPool2d(3, stride=2, padding=1))


def torch_resnet18(torch, width=1.0, reduction=None):
    """d2l's ResNet-18 (d2l §8.6): residual blocks with biased convs and a 1×1 shortcut where the shape changes.

    With ``reduction``, SE-ResNet-18 (Hu et al., 2018): an SE block (GAP, Linear C→C/r, ReLU,
    Linear C/r→C, sigmoid) rescales each residual branch before the sum.
    """
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, in_channels, channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.conv3 = nn.Conv2d(in_channels, channels, 1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
            self.se = None
            if reduction:
                hidden = max(1, channels // reduction)
                self.se = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, hidden),
                                        nn.ReLU(), nn.Linear(hidden, channels), nn.Sigmoid())

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            if self.se is not None:
                y = y * self.se(y)[:, :, None, None]
            return torch.relu(y + (x if self.conv3 is None else self.conv3(x)))

    arch = [(blocks, scaled(channels, width)) for blocks, channels in RESNET18_ARCH]
    stages, in_channels = [_stem(nn, arch[0][1])], arch[0][1]
    for i, (num_blocks, channels) in enumerate(arch):
        first = Residual(in_channels, channels) if i == 0 else Residual(in_channels, channels, True, 2)
        stages.append(nn.Sequential(first, *[Residual(channels, channels) for _ in range(num_blocks - 1)]))
        in_channels = channels
    stages.append(nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(in_channels, 10)))
    return nn.Sequential(*stages)


def torch_se_resnet18(torch, reduction=16, width=1.0):
    """SE-ResNet-18 (Hu et al., 2018): ``torch_resnet18`` with an SE block on every residual branch."""
    return torch_resnet18(torch, width, reduction)


def torch_densenet(torch, num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), width=1.0):
    """d2l's DenseNet (d2l §8.7): BN-ReLU-Conv3×3 layers, concatenated; BN-ReLU-Conv1×1-AvgPool transitions."""
    nn = torch.nn

    def conv_block(in_channels, channels):
        return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(), nn.Conv2d(in_channels, channels, 3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, in_channels, channels):
            super().__init__()
            self.net = nn.Sequential(*[conv_block(in_channels + i * channels, channels) for i in range(num_convs)])

        def forward(self, x):
            for layer in self.net:
                x = torch.cat((x, layer(x)), dim=1)
            return x

    channels, growth_rate = scaled(num_channels, width), scaled(growth_rate, width)
    layers = [_stem(nn, channels)]
    for i, num_convs in enumerate(arch):
        layers.append(DenseBlock(num_convs, channels, growth_rate))
        channels += num_convs * growth_rate
        if i != len(arch) - 1:
            layers.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                        nn.Conv2d(channels, channels // 2, 1), nn.AvgPool2d(2, 2)))
            channels //= 2
    layers.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                nn.Flatten(), nn.Linear(channels, 10)))
    return nn.Sequential(*layers)


def minicnn_network(name, image_size, width=1.0):
    """minicnn's network ``name`` (a key of ``TWINS``) for ``image_size``-pixel images, channels scaled by ``width``."""
    from minicnn import models
    builders = {
        "alexnet": lambda: models.alexnet(image_size=image_size, width=width),
        "vgg11": lambda: models.vgg(VGG11_QUARTER, image_size=image_size, width=width),
        "nin": lambda: models.nin(width=width),
        "googlenet": lambda: models.googlenet(width=width),
        "densenet": lambda: models.densenet(width=width),
        "se_resnet18": lambda: models.se_resnet18(width=width),
        "resnet18": lambda: models.resnet18(width=width),
    }
    return builders[name]()


TWINS = {  # name: the PyTorch twin of minicnn_network(name, image_size, width), given (torch, image_size, width)
    "alexnet": lambda torch, image_size, width=1.0: torch_alexnet(torch, image_size, width),
    "vgg11": lambda torch, image_size, width=1.0: torch_vgg(torch, VGG11_QUARTER, image_size=image_size, width=width),
    "nin": lambda torch, image_size, width=1.0: torch_nin(torch, width),
    "googlenet": lambda torch, image_size, width=1.0: torch_googlenet(torch, width),
    "densenet": lambda torch, image_size, width=1.0: torch_densenet(torch, width=width),
    "se_resnet18": lambda torch, image_size, width=1.0: torch_se_resnet18(torch, width=width),
    "resnet18": lambda torch, image_size, width=1.0: torch_resnet18(torch, width),
}
