"""Whole networks against PyTorch (issue 19): the loss and every gradient, float64, weights copied by position.

Each network of the zoo is built small (a few channels, small images) in minicnn and, layer for
layer, in PyTorch below; ``assert_gradients_match_torch`` copies PyTorch's weights in, runs one
forward and backward on both in training mode (BatchNorm on batch statistics) and compares the
loss, the input's gradient and each parameter's gradient. The twins are written from the papers
and d2l, not from minicnn's code; only the channel counts follow minicnn's ``width`` rule.
"""
import pytest

from minicnn import models
from minicnn.random import manual_seed
from model_checks import assert_gradients_match_torch, batch, randomize_batchnorm_

torch = pytest.importorskip("torch")
tnn = torch.nn


def scaled(channels, width):
    """minicnn's width rule: the channel count times ``width``, rounded, at least 1."""
    return max(1, int(round(channels * width)))


@pytest.fixture(autouse=True)
def seeded():
    manual_seed(0)
    torch.manual_seed(0)


# ---------------------------------------------------------------- the PyTorch twins

def torch_lenet():
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.Sigmoid(), tnn.AvgPool2d(2, 2),
        tnn.Conv2d(6, 16, 5), tnn.Sigmoid(), tnn.AvgPool2d(2, 2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.Sigmoid(), tnn.Linear(120, 84), tnn.Sigmoid(), tnn.Linear(84, 10))


def torch_lenet_bn():
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5), tnn.BatchNorm2d(6), tnn.Sigmoid(), tnn.AvgPool2d(2, 2),
        tnn.Conv2d(6, 16, 5), tnn.BatchNorm2d(16), tnn.Sigmoid(), tnn.AvgPool2d(2, 2), tnn.Flatten(),
        tnn.Linear(256, 120), tnn.BatchNorm1d(120), tnn.Sigmoid(),
        tnn.Linear(120, 84), tnn.BatchNorm1d(84), tnn.Sigmoid(), tnn.Linear(84, 10))


def torch_alexnet(width, side):
    c1, c2, c3, c5, hidden = (scaled(c, width) for c in (96, 256, 384, 256, 4096))
    features = tnn.Sequential(
        tnn.Conv2d(1, c1, 11, stride=4, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(c1, c2, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(c2, c3, 3, padding=1), tnn.ReLU(), tnn.Conv2d(c3, c3, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(c3, c5, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2), tnn.Flatten())
    flat = features(torch.zeros(1, 1, side, side)).shape[1]
    return tnn.Sequential(*features, tnn.Linear(flat, hidden), tnn.ReLU(), tnn.Dropout(0.5),
                          tnn.Linear(hidden, hidden), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(hidden, 10))


def torch_vgg(arch, hidden, side):
    layers, channels = [], 1
    for num_convs, out in arch:
        for _ in range(num_convs):
            layers += [tnn.Conv2d(channels, out, 3, padding=1), tnn.ReLU()]
            channels = out
        layers.append(tnn.MaxPool2d(2, 2))
    flat = channels * (side // 2 ** len(arch)) ** 2
    return tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(flat, hidden), tnn.ReLU(), tnn.Dropout(0.5),
                          tnn.Linear(hidden, hidden), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(hidden, 10))


def torch_nin(width):
    def block(cin, cout, k, s, p):
        return tnn.Sequential(tnn.Conv2d(cin, cout, k, s, p), tnn.ReLU(), tnn.Conv2d(cout, cout, 1), tnn.ReLU(),
                              tnn.Conv2d(cout, cout, 1), tnn.ReLU())
    c1, c2, c3 = (scaled(c, width) for c in (96, 256, 384))
    return tnn.Sequential(
        block(1, c1, 11, 4, 0), tnn.MaxPool2d(3, 2), block(c1, c2, 5, 1, 2), tnn.MaxPool2d(3, 2),
        block(c2, c3, 3, 1, 1), tnn.MaxPool2d(3, 2), tnn.Dropout(0.5), block(c3, 10, 3, 1, 1),
        tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten())


def conv_relu(cin, cout, batch_norm, kernel, **options):
    """Conv-ReLU, or Conv (no bias)-BN-ReLU for Inception v2."""
    if not batch_norm:
        return [tnn.Conv2d(cin, cout, kernel, **options), tnn.ReLU()]
    return [tnn.Conv2d(cin, cout, kernel, bias=False, **options), tnn.BatchNorm2d(cout), tnn.ReLU()]


class TorchInception(tnn.Module):
    """Szegedy et al. 2015, Fig. 2(b): four paths joined on channels."""

    def __init__(self, cin, c1, c2, c3, c4, batch_norm):
        super().__init__()
        self.b1 = tnn.Sequential(*conv_relu(cin, c1, batch_norm, 1))
        self.b2 = tnn.Sequential(*conv_relu(cin, c2[0], batch_norm, 1), *conv_relu(c2[0], c2[1], batch_norm, 3, padding=1))
        self.b3 = tnn.Sequential(*conv_relu(cin, c3[0], batch_norm, 1), *conv_relu(c3[0], c3[1], batch_norm, 5, padding=2))
        self.b4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1), *conv_relu(cin, c4, batch_norm, 1))
        self.out_channels = c1 + c2[1] + c3[1] + c4

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


GOOGLENET_TABLE = (  # Szegedy et al. 2015, Table 1: #1×1, (#3×3 reduce, #3×3), (#5×5 reduce, #5×5), pool proj
    ((64, (96, 128), (16, 32), 32), (128, (128, 192), (32, 96), 64)),
    ((192, (96, 208), (16, 48), 64), (160, (112, 224), (24, 64), 64), (128, (128, 256), (24, 64), 64),
     (112, (144, 288), (32, 64), 64), (256, (160, 320), (32, 128), 128)),
    ((256, (160, 320), (32, 128), 128), (384, (192, 384), (48, 128), 128)),
)


class TorchGoogLeNet(tnn.Module):
    """d2l §8.4.2's stages b1…b5 and the head; the auxiliary classifiers after 4a and 4d (paper §5)."""

    def __init__(self, width, aux_logits, batch_norm):
        super().__init__()
        c64, c192 = scaled(64, width), scaled(192, width)
        pool = lambda: tnn.MaxPool2d(3, 2, 1)  # noqa: E731
        self.b1 = tnn.Sequential(*conv_relu(1, c64, batch_norm, 7, stride=2, padding=3), pool())
        self.b2 = tnn.Sequential(*conv_relu(c64, c64, batch_norm, 1), *conv_relu(c64, c192, batch_norm, 3, padding=1),
                                 pool())
        stages, channels = [], c192
        for rows in GOOGLENET_TABLE:
            blocks = []
            for c1, c2, c3, c4 in rows:
                blocks.append(TorchInception(channels, scaled(c1, width), tuple(scaled(c, width) for c in c2),
                                             tuple(scaled(c, width) for c in c3), scaled(c4, width), batch_norm))
                channels = blocks[-1].out_channels
            stages.append(blocks)
        self.b3 = tnn.Sequential(*stages[0], pool())
        self.b4 = tnn.Sequential(*stages[1], pool())
        self.b5 = tnn.Sequential(*stages[2], tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten())
        self.fc = tnn.Linear(channels, 10)
        self.aux_logits = aux_logits
        if aux_logits:
            self.aux1 = self._aux(stages[1][0].out_channels, batch_norm)
            self.aux2 = self._aux(stages[1][3].out_channels, batch_norm)

    @staticmethod
    def _aux(cin, batch_norm):
        return tnn.Sequential(tnn.AdaptiveAvgPool2d((4, 4)), *conv_relu(cin, 128, batch_norm, 1), tnn.Flatten(),
                              tnn.Linear(2048, 1024), tnn.ReLU(), tnn.Dropout(0.7), tnn.Linear(1024, 10))

    def forward(self, x):
        x = self.b3(self.b2(self.b1(x)))
        if not self.aux_logits:
            return self.fc(self.b5(self.b4(x)))
        x = self.b4[0](x)
        aux1 = self.aux1(x)
        x = self.b4[3](self.b4[2](self.b4[1](x)))
        aux2 = self.aux2(x)
        return self.fc(self.b5(self.b4[5](self.b4[4](x)))), aux1, aux2


def torch_googlenet_loss(outputs, target):
    """Main head plus 0.3 × each auxiliary head (Szegedy et al. 2015, §5)."""
    ce = torch.nn.functional.cross_entropy
    if not isinstance(outputs, tuple):
        return ce(outputs, target)
    return ce(outputs[0], target) + 0.3 * (ce(outputs[1], target) + ce(outputs[2], target))


def torch_stem(cin, channels, bias=True):
    """ResNet's (and DenseNet's) stem: 7×7/2 conv, BN, ReLU, 3×3/2 max-pool."""
    return [tnn.Conv2d(cin, channels, 7, 2, 3, bias=bias), tnn.BatchNorm2d(channels), tnn.ReLU(), tnn.MaxPool2d(3, 2, 1)]


class TorchResidual(tnn.Module):
    """d2l §8.6.2's block; with ``reduction`` an SE block rescales the branch (Hu et al. 2018, Fig. 3)."""

    def __init__(self, cin, cout, use_1x1conv=False, strides=1, reduction=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, padding=1, stride=strides)
        self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1)
        self.conv3 = tnn.Conv2d(cin, cout, 1, stride=strides) if use_1x1conv else None
        self.bn1, self.bn2 = tnn.BatchNorm2d(cout), tnn.BatchNorm2d(cout)
        if reduction:
            hidden = max(1, cout // reduction)
            self.se = tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(cout, hidden), tnn.ReLU(),
                                     tnn.Linear(hidden, cout), tnn.Sigmoid())
        else:
            self.se = None

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        if self.se is not None:
            y = y * self.se(y)[:, :, None, None]
        return torch.relu(y + (self.conv3(x) if self.conv3 is not None else x))


def torch_resnet(arch, reduction=None):
    """d2l §8.6.3: the stem, one stage per (blocks, channels), global average pooling and a Linear."""
    channels = arch[0][1]
    layers = [tnn.Sequential(*torch_stem(1, channels))]
    for i, (num_blocks, cout) in enumerate(arch):
        blocks = [TorchResidual(channels, cout, reduction=reduction) if i == 0
                  else TorchResidual(channels, cout, True, 2, reduction=reduction)]
        blocks += [TorchResidual(cout, cout, reduction=reduction) for _ in range(num_blocks - 1)]
        layers.append(tnn.Sequential(*blocks))
        channels = cout
    layers.append(tnn.Sequential(tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.Linear(channels, 10)))
    return tnn.Sequential(*layers)


class TorchBasicBlock(tnn.Module):
    """torchvision's BasicBlock: two bias-free 3×3 convs with BN, a conv+BN shortcut where the shape changes."""

    expansion = 1

    def __init__(self, cin, channels, stride=1):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, channels, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(channels)
        self.conv2 = tnn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(channels)
        self.downsample = (tnn.Sequential(tnn.Conv2d(cin, channels, 1, stride, bias=False), tnn.BatchNorm2d(channels))
                           if stride != 1 or cin != channels else None)

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


class TorchBottleneck(tnn.Module):
    """torchvision's Bottleneck (ResNet v1.5): 1×1, 3×3 with the stride, 1×1 to 4× the channels."""

    expansion = 4

    def __init__(self, cin, channels, stride=1):
        super().__init__()
        cout = 4 * channels
        self.conv1, self.bn1 = tnn.Conv2d(cin, channels, 1, bias=False), tnn.BatchNorm2d(channels)
        self.conv2, self.bn2 = tnn.Conv2d(channels, channels, 3, stride, 1, bias=False), tnn.BatchNorm2d(channels)
        self.conv3, self.bn3 = tnn.Conv2d(channels, cout, 1, bias=False), tnn.BatchNorm2d(cout)
        self.downsample = (tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))
                           if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (x if self.downsample is None else self.downsample(x)))


def torch_torchvision_resnet(block, layers, width, in_channels=1, head=True):
    """torchvision's ResNet: conv1, bn1, relu, maxpool, layer1…layer4, then avgpool and fc."""
    channels = scaled(64, width)
    parts = torch_stem(in_channels, channels, bias=False)
    for i, (num_blocks, stage) in enumerate(zip(layers, (64, 128, 256, 512))):
        stage = scaled(stage, width)
        blocks = [block(channels, stage, 1 if i == 0 else 2)]
        channels = stage * block.expansion
        blocks += [block(channels, stage) for _ in range(num_blocks - 1)]
        parts.append(tnn.Sequential(*blocks))
    if head:
        parts += [tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.Linear(channels, 10)]
    return tnn.Sequential(*parts), channels


class TorchDenseBlock(tnn.Module):
    """Each layer's output concatenated onto its input (Huang et al. 2017, d2l §8.7.2)."""

    def __init__(self, layers):
        super().__init__()
        self.net = tnn.Sequential(*layers)

    def forward(self, x):
        for layer in self.net:
            x = torch.cat([x, layer(x)], dim=1)
        return x


def torch_densenet(channels, growth, arch):
    """d2l §8.7.4: the stem, dense blocks of BN-ReLU-Conv3×3 layers, halving transitions, BN-ReLU-GAP-Linear."""
    layers = [tnn.Sequential(*torch_stem(1, channels))]
    for i, num_convs in enumerate(arch):
        layers.append(TorchDenseBlock([
            tnn.Sequential(tnn.BatchNorm2d(channels + j * growth), tnn.ReLU(),
                           tnn.Conv2d(channels + j * growth, growth, 3, padding=1)) for j in range(num_convs)]))
        channels += num_convs * growth
        if i != len(arch) - 1:
            layers.append(tnn.Sequential(tnn.BatchNorm2d(channels), tnn.ReLU(), tnn.Conv2d(channels, channels // 2, 1),
                                         tnn.AvgPool2d(2, 2)))
            channels //= 2
    layers.append(tnn.Sequential(tnn.BatchNorm2d(channels), tnn.ReLU(), tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(),
                                 tnn.Linear(channels, 10)))
    return tnn.Sequential(*layers)


def torch_densenet121(channels, growth, block_config):
    """DenseNet-BC (Huang et al. 2017, Table 1): 1×1 bottlenecks to 4k, bias-free convs, compression 0.5."""
    layers = torch_stem(1, channels, bias=False)
    for i, num_layers in enumerate(block_config):
        layers.append(TorchDenseBlock([
            tnn.Sequential(tnn.BatchNorm2d(channels + j * growth), tnn.ReLU(),
                           tnn.Conv2d(channels + j * growth, 4 * growth, 1, bias=False),
                           tnn.BatchNorm2d(4 * growth), tnn.ReLU(), tnn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))
            for j in range(num_layers)]))
        channels += num_layers * growth
        if i != len(block_config) - 1:
            layers.append(tnn.Sequential(tnn.BatchNorm2d(channels), tnn.ReLU(),
                                         tnn.Conv2d(channels, channels // 2, 1, bias=False), tnn.AvgPool2d(2, 2)))
            channels //= 2
    return tnn.Sequential(*layers, tnn.BatchNorm2d(channels), tnn.ReLU(), tnn.AdaptiveAvgPool2d((1, 1)),
                          tnn.Flatten(), tnn.Linear(channels, 10))


def torch_fcn(width, num_classes):
    """FCN-32s (Long et al. 2015; d2l §14.11): a ResNet-18 backbone, a 1×1 scorer, ×32 transposed convolution."""
    backbone, channels = torch_torchvision_resnet(TorchBasicBlock, (2, 2, 2, 2), width, in_channels=3, head=False)
    return tnn.Sequential(*backbone, tnn.Conv2d(channels, num_classes, 1),
                          tnn.ConvTranspose2d(num_classes, num_classes, 64, stride=32, padding=16))


# ---------------------------------------------------------------- the networks, small

RESNET18_ARCH_16 = tuple((2, scaled(c, 1 / 16)) for c in (64, 128, 256, 512))  # d2l's ResNet-18 at width 1/16
TINY_VGG_ARCH = ((1, 4), (1, 6), (2, 8), (2, 8), (2, 8))  # VGG-11's
GOOGLENET_WIDTH = 1 / 16

NETWORKS = {  # name: (minicnn network, its PyTorch twin, input side)
    "lenet": (models.lenet, torch_lenet, 28),
    "lenet_bn": (models.lenet_bn, torch_lenet_bn, 28),
    "alexnet": (lambda: models.alexnet(width=1 / 32, image_size=67), lambda: torch_alexnet(1 / 32, 67), 67),
    "vgg": (lambda: models.vgg(TINY_VGG_ARCH, hidden=16, image_size=32), lambda: torch_vgg(TINY_VGG_ARCH, 16, 32), 32),
    "nin": (lambda: models.nin(width=1 / 32), lambda: torch_nin(1 / 32), 67),
    "googlenet": (lambda: models.googlenet(width=GOOGLENET_WIDTH),
                  lambda: TorchGoogLeNet(GOOGLENET_WIDTH, False, False), 32),
    "resnet18": (lambda: models.resnet18(width=1 / 16), lambda: torch_resnet(RESNET18_ARCH_16), 32),
    "se_resnet18": (lambda: models.se_resnet18(width=1 / 16, reduction=4),
                    lambda: torch_resnet(RESNET18_ARCH_16, reduction=4), 32),
    "densenet": (lambda: models.densenet(width=1 / 16), lambda: torch_densenet(4, 2, (4, 4, 4, 4)), 32),
    "densenet121": (lambda: models.densenet121(width=1 / 16), lambda: torch_densenet121(4, 2, (6, 12, 24, 16)), 32),
    "resnet50": (lambda: models.resnet50(width=1 / 16),
                 lambda: torch_torchvision_resnet(TorchBottleneck, (3, 4, 6, 3), 1 / 16)[0], 32),
}


@pytest.mark.parametrize("name", NETWORKS)
def test_network_loss_and_gradients_match_pytorch(name, rng):
    build, torch_build, side = NETWORKS[name]
    reference = torch_build()
    randomize_batchnorm_(reference)
    x, labels = batch(rng, (4, 1, side, side), 10, dtype="float64")
    assert_gradients_match_torch(build(), reference, x, labels)


@pytest.mark.parametrize("batch_norm", [False, True])
def test_googlenet_with_aux_heads_matches_pytorch(batch_norm, rng):
    reference = TorchGoogLeNet(GOOGLENET_WIDTH, True, batch_norm)
    randomize_batchnorm_(reference)
    model = models.googlenet(aux_logits=True, batch_norm=batch_norm, width=GOOGLENET_WIDTH)
    x, labels = batch(rng, (4, 1, 64, 64), 10, dtype="float64")
    assert_gradients_match_torch(model, reference, x, labels, models.googlenet_loss, torch_googlenet_loss)


def test_fcn_matches_pytorch_pixel_by_pixel(rng):
    reference = torch_fcn(1 / 16, num_classes=3)
    randomize_batchnorm_(reference)
    x = rng.standard_normal((2, 3, 64, 64))
    labels = rng.integers(0, 3, size=(2, 64, 64))
    assert_gradients_match_torch(models.fcn_resnet18(num_classes=3, width=1 / 16), reference, x, labels)


def test_the_comparison_catches_one_different_layer(rng):
    """The check can fail: a twin whose last activation is tanh instead of the sigmoid does not pass."""
    reference = torch_lenet()
    reference[10] = tnn.Tanh()
    x, labels = batch(rng, (4, 1, 28, 28), 10, dtype="float64")
    with pytest.raises(AssertionError, match="loss"):
        assert_gradients_match_torch(models.lenet(), reference, x, labels)
