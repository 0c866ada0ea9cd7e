"""Model zoo II (issue 7): GoogLeNet, ResNet, DenseNet and SENet, checked against the papers' numbers and PyTorch."""
import tracemalloc
from functools import partial

import numpy
import pytest

import minicnn.functional as F
from minicnn import models, nn
from minicnn.autograd import Tensor, no_grad
from minicnn.models.googlenet import INCEPTION_3, INCEPTION_4, INCEPTION_5
from minicnn.optim import SGD
from minicnn.random import manual_seed
from model_checks import (assert_gradients_match_torch, assert_same_outputs, batch, copy_from_torch_,
                          count_parameters, output_shapes, randomize_batchnorm_, sampled_gradcheck,
                          sgd_step_lowers_loss)

TINY_RESNET_ARCH = ((2, 4), (2, 6), (2, 8), (2, 8))  # ResNet-18's topology with 4–8 channels


def tiny_googlenet(**options):
    return models.googlenet(width=1 / 16, **options)


def tiny_resnet18():
    return models.resnet(TINY_RESNET_ARCH)


def tiny_densenet():
    return models.densenet(num_channels=4, growth_rate=2)


def tiny_densenet121():
    return models.densenet121(growth_rate=2, num_init_features=4)


def tiny_se_resnet18():
    return models.resnet(TINY_RESNET_ARCH, block=partial(models.SEResidual, reduction=2))


def images(rng, shape, dtype="float32"):
    return Tensor(rng.standard_normal(shape).astype(dtype))


@pytest.fixture(autouse=True)
def seeded_weights():
    """The same initial weights on every run, so no test depends on a lucky draw."""
    manual_seed(0)


# ---------------------------------------------------------------- parameter counts (issue 7)

@pytest.mark.parametrize("build, expected", [
    (models.googlenet, 5_977_530),
    (models.resnet18, 11_178_378),
    (models.densenet, 758_226),
    (lambda: models.resnet50(num_classes=1000, in_channels=3), 25_557_032),
    (lambda: models.densenet121(num_classes=1000, in_channels=3), 7_978_856),
    # torchvision's ResNet-18 (bias-free convs, BN shortcuts) at 3 channels / 1000 classes
    (lambda: models.torchvision_resnet(models.BasicBlock, (2, 2, 2, 2), 1000, 3), 11_689_512),
])
def test_parameter_count(build, expected):
    assert count_parameters(build()) == expected


def test_resnet18_backbone_is_torchvisions_resnet18_without_its_fc():
    backbone = models.resnet18_backbone(in_channels=3)
    assert count_parameters(backbone) == 11_689_512 - (512 * 1000 + 1000)
    assert [name for name, _ in backbone.named_children()] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    assert all(m.bias is None for m in backbone.modules() if isinstance(m, nn.Conv2d))


def test_se_resnet18_adds_two_small_dense_layers_per_block():
    # per block with C channels: Linear(C→C/16) and Linear(C/16→C), two blocks per stage
    se = sum(2 * (c * (c // 16) + c // 16 + (c // 16) * c + c) for c in (64, 128, 256, 512))
    assert count_parameters(models.se_resnet18()) == 11_178_378 + se == 11_267_458


def test_factorized_googlenet_has_fewer_parameters():
    # per block: a 5×5 conv r→c (25rc + c) becomes 3×3 r→r and 3×3 r→c (9r² + r + 9rc + c)
    saved = sum(25 * r * c - 9 * r * r - r - 9 * r * c for _, _, (r, c), _ in INCEPTION_3 + INCEPTION_4 + INCEPTION_5)
    assert count_parameters(models.googlenet(factorized=True)) == 5_977_530 - saved == 5_669_434
    assert count_parameters(models.googlenet(factorized=True, batch_norm=True)) < count_parameters(
        models.googlenet(batch_norm=True))


def test_googlenet_aux_heads_add_the_papers_two_classifiers():
    # each head: 1×1 conv to 128 (+bias), FC 2048→1024, FC 1024→10; after 4a (512 ch) and 4d (528 ch)
    def head(channels):
        return channels * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 10 + 10
    assert count_parameters(models.googlenet(aux_logits=True)) == 5_977_530 + head(512) + head(528)


# ---------------------------------------------------------------- shape tables at 96×96 (issue 7)

def test_googlenet_shapes_at_96():
    assert output_shapes(models.googlenet(), (1, 96, 96)) == [
        (64, 24, 24), (192, 12, 12), (480, 6, 6), (832, 3, 3), (1024,), (10,)]


@pytest.mark.parametrize("build", [models.resnet18, models.resnet34, models.se_resnet18])
def test_resnet_shapes_at_96(build):
    assert output_shapes(build(), (1, 96, 96)) == [
        (64, 24, 24), (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3), (10,)]


def test_densenet_shapes_at_96():
    assert output_shapes(models.densenet(), (1, 96, 96)) == [
        (64, 24, 24), (192, 24, 24), (96, 12, 12), (224, 12, 12), (112, 6, 6), (240, 6, 6),
        (120, 3, 3), (248, 3, 3), (10,)]


def test_torchvision_layout_networks_end_at_one_thirty_second_of_the_input():
    assert output_shapes(models.resnet18_backbone(), (3, 64, 96))[-1] == (512, 2, 3)
    assert output_shapes(models.resnet50(width=1 / 8), (1, 64, 64))[4:8] == [
        (8 * 4, 16, 16), (16 * 4, 8, 8), (32 * 4, 4, 4), (64 * 4, 2, 2)]
    assert output_shapes(models.densenet121(), (1, 64, 64))[0] == (1024, 2, 2)


def test_torchvision_layout_state_dict_keys():
    keys = models.resnet50().state_dict().keys()
    assert {"conv1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight",
            "layer4.2.bn3.running_var", "fc.bias"} <= set(keys)
    keys = models.densenet121().state_dict().keys()
    assert {"features.conv0.weight", "features.transition3.2.weight", "features.norm5.bias",
            "classifier.weight"} <= set(keys)


# ---------------------------------------------------------------- blocks

def test_residual_keeps_the_shape_without_a_projection(rng):
    with no_grad():
        assert models.Residual(3, 3)(images(rng, (4, 3, 6, 6))).shape == (4, 3, 6, 6)


def test_residual_with_a_strided_1x1_shortcut_halves_and_widens(rng):
    with no_grad():
        assert models.Residual(3, 6, use_1x1conv=True, strides=2)(images(rng, (4, 3, 6, 6))).shape == (4, 6, 3, 3)


def test_residual_without_projection_cannot_change_channels():
    with pytest.raises(ValueError, match="use_1x1conv"):
        models.Residual(3, 6)


def test_residual_adds_the_input_to_the_branch(rng):
    block = models.Residual(3, 3).eval()
    x = images(rng, (2, 3, 5, 5))
    with no_grad():
        expected = numpy.maximum(block.residual(x).numpy() + x.numpy(), 0)
        numpy.testing.assert_allclose(block(x).numpy(), expected, rtol=1e-6)


def test_dense_block_and_transition(rng):
    block = models.DenseBlock(2, 3, 10)
    x = images(rng, (4, 3, 8, 8))
    with no_grad():
        y = block(x)
        assert y.shape == (4, 23, 8, 8)
        numpy.testing.assert_array_equal(y.numpy()[:, :3], x.numpy())  # the input is passed on unchanged
        assert models.transition_block(23, 10)(y).shape == (4, 10, 4, 4)


def test_inception_concatenates_four_paths(rng):
    block = models.Inception(192, 64, (96, 128), (16, 32), 32)
    x = images(rng, (2, 192, 6, 6))
    with no_grad():
        y = block(x).numpy()
        paths = [path(x).numpy() for path in (block.b1, block.b2, block.b3, block.b4)]
    assert y.shape == (2, 256, 6, 6)
    numpy.testing.assert_array_equal(y, numpy.concatenate(paths, axis=1))


def test_inception_options_batch_norm_and_factorized_5x5():
    plain = models.Inception(8, 2, (2, 4), (2, 4), 2)
    options = models.Inception(8, 2, (2, 4), (2, 4), 2, batch_norm=True, factorized=True)
    kernels = [tuple(m.weight.shape[2:]) for m in options.b3.modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(1, 1), (3, 3), (3, 3)]
    # the first 3×3 keeps the reduced width (2), only the second widens to the path's output (4)
    assert [tuple(m.weight.shape[:2]) for m in options.b3.modules() if isinstance(m, nn.Conv2d)] == [
        (2, 8), (2, 2), (4, 2)]
    assert [tuple(m.weight.shape[2:]) for m in plain.b3.modules() if isinstance(m, nn.Conv2d)] == [(1, 1), (5, 5)]
    convs = [m for m in options.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in options.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == len(convs) == 7 and all(c.bias is None for c in convs)


def test_bottleneck_reduces_then_expands_four_times(rng):
    block = models.Bottleneck(16, 8, stride=2)
    assert [tuple(m.weight.shape) for m in block.modules() if isinstance(m, nn.Conv2d)] == [
        (8, 16, 1, 1), (8, 8, 3, 3), (32, 8, 1, 1), (32, 16, 1, 1)]
    with no_grad():
        assert block(images(rng, (2, 16, 8, 8))).shape == (2, 32, 4, 4)


def test_se_block_scales_each_channel_by_its_sigmoid_gate(rng):
    block = models.SEBlock(8, reduction=4)
    x = images(rng, (2, 8, 3, 3))
    with no_grad():
        y = block(x).numpy()
    squeezed = x.numpy().mean(axis=(2, 3))
    hidden = numpy.maximum(squeezed @ block.fc1.weight.numpy().T + block.fc1.bias.numpy(), 0)
    gate = 1 / (1 + numpy.exp(-(hidden @ block.fc2.weight.numpy().T + block.fc2.bias.numpy())))
    numpy.testing.assert_allclose(y, x.numpy() * gate[:, :, None, None], rtol=1e-5)


# ---------------------------------------------------------------- gradients of blocks and tiny networks (float64, train mode)

def _block_loss(output, target):
    """A scalar of a block's feature maps that mixes every element: mean((y · w)) with fixed weights."""
    weights = numpy.random.default_rng(7).standard_normal(output.shape[1:])
    return (output * Tensor(weights)).mean()


@pytest.mark.parametrize("name, build, input_shape", [
    ("residual", lambda: models.Residual(3, 4, use_1x1conv=True, strides=2), (3, 3, 6, 6)),
    ("dense block", lambda: models.DenseBlock(2, 3, 2), (3, 3, 4, 4)),
    ("transition", lambda: models.transition_block(5, 2), (3, 5, 4, 4)),
    ("inception", lambda: models.Inception(4, 2, (2, 3), (1, 2), 2), (2, 4, 5, 5)),
    ("inception v2", lambda: models.Inception(4, 2, (2, 3), (1, 2), 2, batch_norm=True, factorized=True),
     (3, 4, 4, 4)),
    ("bottleneck", lambda: models.Bottleneck(4, 2, stride=2), (3, 4, 6, 6)),
    ("basic block", lambda: models.BasicBlock(3, 4, stride=2), (3, 3, 6, 6)),
    ("se block", lambda: models.SEBlock(4, reduction=2), (3, 4, 3, 3)),
    ("se residual", lambda: models.SEResidual(3, 4, use_1x1conv=True, strides=2, reduction=2), (3, 3, 6, 6)),
])
def test_block_gradcheck(name, build, input_shape, rng):
    x = rng.standard_normal(input_shape)
    sampled_gradcheck(build(), x, None, loss_fn=_block_loss, tensors=8)


@pytest.mark.parametrize("name, build, input_shape, loss_fn", [
    ("googlenet", tiny_googlenet, (2, 1, 32, 32), F.cross_entropy),
    ("googlenet v2 with aux heads", lambda: tiny_googlenet(aux_logits=True, batch_norm=True, factorized=True),
     (3, 1, 32, 32), models.googlenet_loss),
    ("resnet18", tiny_resnet18, (4, 1, 32, 32), F.cross_entropy),
    ("resnet34", lambda: models.resnet(((3, 4), (4, 6), (6, 8), (3, 8))), (4, 1, 32, 32), F.cross_entropy),
    # the torchvision-layout nets are deep BatchNorm stacks: at 64 pixels their last stage keeps 2×2 maps
    ("resnet50", lambda: models.resnet50(width=1 / 16), (4, 1, 64, 64), F.cross_entropy),
    ("densenet", tiny_densenet, (4, 1, 32, 32), F.cross_entropy),
    ("densenet121", tiny_densenet121, (4, 1, 64, 64), F.cross_entropy),
    ("se_resnet18", tiny_se_resnet18, (4, 1, 32, 32), F.cross_entropy),
])
def test_tiny_network_gradcheck(name, build, input_shape, loss_fn, rng):
    x, labels = batch(rng, input_shape, 10, dtype="float64")
    sampled_gradcheck(build(), x, labels, loss_fn=loss_fn)


@pytest.mark.parametrize("build, loss_fn", [
    (tiny_googlenet, F.cross_entropy),
    (lambda: tiny_googlenet(aux_logits=True), models.googlenet_loss),
    (tiny_resnet18, F.cross_entropy),
    (lambda: models.resnet50(width=1 / 16), F.cross_entropy),
    (tiny_densenet, F.cross_entropy),
    (tiny_densenet121, F.cross_entropy),
    (tiny_se_resnet18, F.cross_entropy),
])
def test_one_sgd_step_lowers_the_loss(build, loss_fn, rng, backend_name):
    x, labels = batch(rng, (8, 1, 64, 64), 10)
    before, after = sgd_step_lowers_loss(build(), x, labels, loss_fn=loss_fn)
    assert after < before


# ---------------------------------------------------------------- GoogLeNet's auxiliary classifiers

def test_aux_heads_count_in_training_and_vanish_in_eval(rng):
    net = tiny_googlenet(aux_logits=True)
    x, labels = batch(rng, (4, 1, 32, 32), 10)
    x = Tensor(x)

    net.train()
    outputs = net(x)
    assert isinstance(outputs, tuple) and [o.shape for o in outputs] == [(4, 10)] * 3
    loss = models.googlenet_loss(outputs, labels)
    expected = sum(weight * F.cross_entropy(o, labels).item() for weight, o in zip((1, 0.3, 0.3), outputs))
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    assert next(net.aux1.parameters()).grad is not None
    assert next(net.aux2.parameters()).grad is not None

    net.zero_grad()
    net.eval()
    logits = net(x)
    assert isinstance(logits, Tensor) and logits.shape == (4, 10)
    # the main path has no dropout or BatchNorm, so the heads change nothing on it
    numpy.testing.assert_allclose(logits.numpy(), outputs[0].numpy(), rtol=1e-5, atol=1e-6)
    loss = models.googlenet_loss(logits, labels)
    assert loss.item() == pytest.approx(F.cross_entropy(logits, labels).item())
    loss.backward()
    assert all(p.grad is None for p in net.aux1.parameters())
    assert all(p.grad is None for p in net.aux2.parameters())


# ---------------------------------------------------------------- PyTorch references (d2l's definitions)

def torch_resnet18(torch):
    tnn = torch.nn

    class Residual(tnn.Module):  # d2l §8.6.2, with its in_channels spelled out
        def __init__(self, cin, cout, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, padding=1, stride=strides)
            self.conv2 = tnn.Conv2d(cout, cout, 3, padding=1)
            self.conv3 = tnn.Conv2d(cin, cout, 1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = tnn.BatchNorm2d(cout), tnn.BatchNorm2d(cout)

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(y + (self.conv3(x) if self.conv3 is not None else x))

    def stage(cin, cout, first):
        return tnn.Sequential(Residual(cin, cout) if first else Residual(cin, cout, True, 2), Residual(cout, cout))

    return tnn.Sequential(
        tnn.Sequential(tnn.Conv2d(1, 64, 7, 2, 3), tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(3, 2, 1)),
        stage(64, 64, True), stage(64, 128, False), stage(128, 256, False), stage(256, 512, False),
        tnn.Sequential(tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten(), tnn.Linear(512, 10)))


def torch_googlenet(torch):
    tnn = torch.nn

    class Inception(tnn.Module):  # d2l §8.4.1
        def __init__(self, cin, c1, c2, c3, c4):
            super().__init__()
            self.b1_1 = tnn.Conv2d(cin, c1, 1)
            self.b2_1, self.b2_2 = tnn.Conv2d(cin, c2[0], 1), tnn.Conv2d(c2[0], c2[1], 3, padding=1)
            self.b3_1, self.b3_2 = tnn.Conv2d(cin, c3[0], 1), tnn.Conv2d(c3[0], c3[1], 5, padding=2)
            self.b4_1, self.b4_2 = tnn.MaxPool2d(3, 1, 1), tnn.Conv2d(cin, c4, 1)

        def forward(self, x):
            relu = torch.relu
            return torch.cat((relu(self.b1_1(x)), relu(self.b2_2(relu(self.b2_1(x)))),
                              relu(self.b3_2(relu(self.b3_1(x)))), relu(self.b4_2(self.b4_1(x)))), dim=1)

    pool = lambda: tnn.MaxPool2d(3, 2, 1)  # noqa: E731
    return tnn.Sequential(
        tnn.Sequential(tnn.Conv2d(1, 64, 7, 2, 3), tnn.ReLU(), pool()),
        tnn.Sequential(tnn.Conv2d(64, 64, 1), tnn.ReLU(), tnn.Conv2d(64, 192, 3, padding=1), tnn.ReLU(), pool()),
        tnn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64),
                       pool()),
        tnn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128), pool()),
        tnn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128), Inception(832, 384, (192, 384), (48, 128), 128),
                       tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten()),
        tnn.Linear(1024, 10))


def torch_densenet(torch):
    tnn = torch.nn

    def conv_block(cin, cout):
        return tnn.Sequential(tnn.BatchNorm2d(cin), tnn.ReLU(), tnn.Conv2d(cin, cout, 3, padding=1))

    class DenseBlock(tnn.Module):  # d2l §8.7.2
        def __init__(self, num_convs, cin, cout):
            super().__init__()
            self.net = tnn.Sequential(*[conv_block(cin + i * cout, cout) for i in range(num_convs)])

        def forward(self, x):
            for blk in self.net:
                x = torch.cat((x, blk(x)), dim=1)
            return x

    layers, channels = [tnn.Sequential(tnn.Conv2d(1, 64, 7, 2, 3), tnn.BatchNorm2d(64), tnn.ReLU(),
                                       tnn.MaxPool2d(3, 2, 1))], 64
    for i in range(4):
        layers.append(DenseBlock(4, channels, 32))
        channels += 4 * 32
        if i != 3:
            layers.append(tnn.Sequential(tnn.BatchNorm2d(channels), tnn.ReLU(),
                                         tnn.Conv2d(channels, channels // 2, 1), tnn.AvgPool2d(2, 2)))
            channels //= 2
    layers.append(tnn.Sequential(tnn.BatchNorm2d(channels), tnn.ReLU(), tnn.AdaptiveAvgPool2d((1, 1)),
                                 tnn.Flatten(), tnn.Linear(channels, 10)))
    return tnn.Sequential(*layers)


@pytest.mark.parametrize("name, build, torch_build", [
    ("resnet18", models.resnet18, torch_resnet18),
    ("googlenet", models.googlenet, torch_googlenet),
    ("densenet", models.densenet, torch_densenet),
])
def test_matches_d2l_pytorch_model_with_copied_weights(name, build, torch_build, rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch_build(torch)
    randomize_batchnorm_(reference)
    model = build()
    copy_from_torch_(model, reference)  # asserts parameters() order and shapes equal d2l's
    x = rng.standard_normal((2, 1, 96, 96)).astype("float32")
    assert_same_outputs(model, reference, x)
    assert_same_outputs(model, reference, x, training=True)  # BatchNorm with batch statistics


def test_resnet18_gradients_match_pytorch(rng):
    """At full width; tests/test_network_parity.py compares every network of the zoo at small widths."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x, labels = batch(rng, (2, 1, 64, 64), 10, dtype="float64")
    assert_gradients_match_torch(models.resnet18(), torch_resnet18(torch), x, labels)


# ---------------------------------------------------------------- memory: the graph is freed after each step

@pytest.mark.slow
def test_resnet18_training_step_memory_does_not_grow(rng):
    # the issue asks for batch 32 at 96×96; batch 16 halves the ~25–50 s that costs on 2 CPU cores
    batch_size, side = 16, 96
    model = models.resnet18()
    optimizer = SGD(model.parameters(), lr=0.05)
    x, labels = batch(rng, (batch_size, 1, side, side), 10)
    peaks = []
    tracemalloc.start()
    try:
        for _ in range(10):
            tracemalloc.reset_peak()
            optimizer.zero_grad()
            F.cross_entropy(model(Tensor(x)), labels).backward()
            optimizer.step()
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert peaks[9] <= 1.1 * peaks[1], f"peak memory per step (bytes): {peaks}"
