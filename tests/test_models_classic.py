"""Model zoo I (issue 6): LeNet, BatchNorm-LeNet, AlexNet, VGG and NiN, checked against d2l's numbers and PyTorch."""
import math

import numpy
import pytest

from minicnn import models, nn
from minicnn.autograd import Tensor, no_grad
from minicnn.random import manual_seed
from model_checks import (assert_same_outputs, batch, copy_from_torch_, count_parameters, output_shapes,
                          randomize_batchnorm_, sampled_gradcheck, sgd_step_lowers_loss)

TINY_VGG_ARCH = ((1, 2), (1, 3), (2, 4), (2, 4), (2, 4))  # VGG-11's topology with 2–4 channels
TINY_VGG16_ARCH = ((2, 2), (2, 3), (3, 4), (3, 4), (3, 4))  # VGG-16's (configuration D)


def tiny_vgg(image_size=32):
    return models.vgg(TINY_VGG_ARCH, hidden=8, image_size=image_size)


def distinct(shapes):
    """The shapes with consecutive repeats dropped (activations and dropout keep the shape)."""
    return [shape for i, shape in enumerate(shapes) if i == 0 or shape != shapes[i - 1]]


@pytest.fixture(autouse=True)
def seeded_weights():
    """The same initial weights on every run, so no test depends on a lucky draw."""
    manual_seed(0)


# ---------------------------------------------------------------- parameter counts (issue 6)

@pytest.mark.parametrize("build, expected", [
    (models.lenet, 61_706),
    (models.lenet_bn, 44_878),
    (models.nin, 1_992_166),
    (lambda: models.vgg11(ratio=4), 43_093_322),
])
def test_parameter_count(build, expected):
    assert count_parameters(build()) == expected


def test_alexnet_parameter_count():
    assert count_parameters(models.alexnet()) == 46_764_746


def test_vgg11_and_vgg16_full_size_parameter_counts():
    assert count_parameters(models.vgg11()) == 128_806_154
    # VGG-16 (configuration D) with 3 channels and 1000 classes is the well-known 138,357,544
    assert count_parameters(models.vgg16(num_classes=1000, in_channels=3)) == 138_357_544


# ---------------------------------------------------------------- shape tables (issue 6)

def test_lenet_shapes_at_28():
    assert distinct(output_shapes(models.lenet(), (1, 28, 28))) == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]


def test_lenet_bn_shapes_at_28():
    # conv1 has no padding: 28 - 4 = 24, then 12, 8, 4 and 16·4·4 = 256 features
    assert distinct(output_shapes(models.lenet_bn(), (1, 28, 28))) == [
        (6, 24, 24), (6, 12, 12), (16, 8, 8), (16, 4, 4), (256,), (120,), (84,), (10,)]


def test_alexnet_shapes_at_224():
    assert distinct(output_shapes(models.alexnet(), (1, 224, 224))) == [
        (96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12), (256, 12, 12),
        (256, 5, 5), (6400,), (4096,), (10,)]


def test_nin_shapes_at_224():
    assert distinct(output_shapes(models.nin(), (1, 224, 224))) == [
        (96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12), (384, 5, 5),
        (10, 5, 5), (10, 1, 1), (10,)]


def test_vgg11_ratio4_shapes_at_224():
    # every block halves the side: 224 → 112 → 56 → 28 → 14 → 7
    assert distinct(output_shapes(models.vgg11(ratio=4), (1, 224, 224))) == [
        (16, 112, 112), (32, 56, 56), (64, 28, 28), (128, 14, 14), (128, 7, 7), (6272,), (4096,), (10,)]


# ---------------------------------------------------------------- blocks

def test_vgg_block_convolves_then_halves(rng):
    block = models.vgg_block(2, 3, 8)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs] == [(8, 3, 3, 3), (8, 8, 3, 3)]
    with no_grad():
        assert block(Tensor(rng.standard_normal((2, 3, 10, 10)).astype("float32"))).shape == (2, 8, 5, 5)


def test_nin_block_is_a_conv_then_two_pixelwise_convs(rng):
    block = models.nin_block(3, 5, kernel_size=3, strides=2, padding=1)
    kernels = [tuple(m.weight.shape) for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert kernels == [(5, 3, 3, 3), (5, 5, 1, 1), (5, 5, 1, 1)]
    with no_grad():
        assert block(Tensor(rng.standard_normal((2, 3, 9, 9)).astype("float32"))).shape == (2, 5, 5, 5)


def test_vgg_rejects_an_image_too_small_for_its_blocks():
    with pytest.raises(ValueError, match="image_size"):
        models.vgg(TINY_VGG_ARCH, image_size=16)


def test_alexnet_rejects_an_image_too_small_for_its_pools():
    with pytest.raises(ValueError, match="65"):
        models.alexnet(image_size=64)


# ---------------------------------------------------------------- VGG's dense-to-conv trick

def test_fully_convolutional_vgg_matches_the_dense_head_at_224(rng):
    net = tiny_vgg(image_size=224).eval()
    conv_net = models.fully_convolutional(net).eval()
    head = [m for m in conv_net.children() if isinstance(m, nn.Conv2d)]
    assert [tuple(c.weight.shape[2:]) for c in head] == [(7, 7), (1, 1), (1, 1)]
    assert not any(isinstance(m, (nn.Linear, nn.Flatten)) for m in conv_net.modules())
    x = Tensor(rng.standard_normal((2, 1, 224, 224)).astype("float32"))
    with no_grad():
        scores = net(x).numpy()
        score_map = conv_net(x).numpy()
    assert score_map.shape == (2, 10, 1, 1)
    numpy.testing.assert_allclose(score_map[:, :, 0, 0], scores, rtol=1e-5, atol=1e-6)


def test_fully_convolutional_vgg_gives_a_score_map_on_larger_images(rng):
    conv_net = models.fully_convolutional(tiny_vgg(image_size=64)).eval()
    with no_grad():
        score_map = conv_net(Tensor(rng.standard_normal((1, 1, 96, 128)).astype("float32")))
    # 96×128 pixels → a 3×4 feature map → the 2×2 "dense" conv fits at 2×3 positions
    assert score_map.shape == (1, 10, 2, 3)


# ---------------------------------------------------------------- end-to-end gradients (float64, train mode)

@pytest.mark.parametrize("name, build, input_shape", [
    ("lenet", models.lenet, (3, 1, 28, 28)),
    ("lenet_bn", models.lenet_bn, (4, 1, 28, 28)),
    ("alexnet", lambda: models.alexnet(width=1 / 32, image_size=65), (2, 1, 65, 65)),
    ("vgg", tiny_vgg, (2, 1, 32, 32)),
    ("vgg16", lambda: models.vgg(TINY_VGG16_ARCH, hidden=8, image_size=32), (2, 1, 32, 32)),
    ("nin", lambda: models.nin(width=1 / 32), (2, 1, 67, 67)),
])
def test_tiny_network_gradcheck(name, build, input_shape, rng):
    x, labels = batch(rng, input_shape, 10, dtype="float64")
    sampled_gradcheck(build(), x, labels)


@pytest.mark.parametrize("build, input_shape", [
    (models.lenet, (8, 1, 28, 28)),
    (models.lenet_bn, (8, 1, 28, 28)),
    (lambda: models.alexnet(width=1 / 32, image_size=65), (4, 1, 65, 65)),
    (tiny_vgg, (4, 1, 32, 32)),
    (lambda: models.nin(width=1 / 32), (4, 1, 67, 67)),
])
def test_one_sgd_step_lowers_the_loss(build, input_shape, rng, backend_name):
    x, labels = batch(rng, input_shape, 10)
    before, after = sgd_step_lowers_loss(build(), x, labels)
    assert after < before


# ---------------------------------------------------------------- Xavier initialisation (d2l's init_cnn)

def test_init_xavier_redraws_conv_and_linear_weights_within_glorots_bound():
    net = models.lenet()
    biases = [m.bias.numpy() for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    models.init_xavier_(net)
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    for layer, bias in zip(layers, biases):
        w = layer.weight.numpy()
        receptive = w[0, 0].size if w.ndim == 4 else 1
        bound = math.sqrt(6 / ((w.shape[0] + w.shape[1]) * receptive))
        assert numpy.abs(w).max() <= bound
        assert numpy.abs(w).max() > 0.9 * bound  # uses the whole range, not PyTorch's narrower default
        numpy.testing.assert_array_equal(layer.bias.numpy(), bias)


# ---------------------------------------------------------------- PyTorch references (d2l's definitions)

def torch_lenet(tnn):
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.Sigmoid(), tnn.AvgPool2d(2, 2),
        tnn.Conv2d(6, 16, 5), tnn.Sigmoid(), tnn.AvgPool2d(2, 2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.Sigmoid(), tnn.Linear(120, 84), tnn.Sigmoid(), tnn.Linear(84, 10))


def torch_lenet_bn(tnn):
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5), tnn.BatchNorm2d(6), tnn.Sigmoid(), tnn.AvgPool2d(2, 2),
        tnn.Conv2d(6, 16, 5), tnn.BatchNorm2d(16), tnn.Sigmoid(), tnn.AvgPool2d(2, 2), tnn.Flatten(),
        tnn.Linear(256, 120), tnn.BatchNorm1d(120), tnn.Sigmoid(),
        tnn.Linear(120, 84), tnn.BatchNorm1d(84), tnn.Sigmoid(), tnn.Linear(84, 10))


def torch_alexnet(tnn):
    return tnn.Sequential(
        tnn.Conv2d(1, 96, 11, stride=4, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(96, 256, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
        tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(384, 384, 3, padding=1), tnn.ReLU(),
        tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2), tnn.Flatten(),
        tnn.Linear(6400, 4096), tnn.ReLU(), tnn.Dropout(0.5),
        tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(4096, 10))


def torch_tiny_vgg(tnn):
    layers, channels = [], 1
    for num_convs, out in TINY_VGG_ARCH:
        for _ in range(num_convs):
            layers += [tnn.Conv2d(channels, out, 3, padding=1), tnn.ReLU()]
            channels = out
        layers.append(tnn.MaxPool2d(2, 2))
    return tnn.Sequential(*layers, tnn.Flatten(), tnn.Linear(4, 8), tnn.ReLU(), tnn.Dropout(0.5),
                          tnn.Linear(8, 8), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(8, 10))


def torch_nin(tnn):
    def block(cin, cout, k, s, p):
        return tnn.Sequential(tnn.Conv2d(cin, cout, k, s, p), tnn.ReLU(), tnn.Conv2d(cout, cout, 1), tnn.ReLU(),
                              tnn.Conv2d(cout, cout, 1), tnn.ReLU())
    return tnn.Sequential(
        block(1, 96, 11, 4, 0), tnn.MaxPool2d(3, 2), block(96, 256, 5, 1, 2), tnn.MaxPool2d(3, 2),
        block(256, 384, 3, 1, 1), tnn.MaxPool2d(3, 2), tnn.Dropout(0.5), block(384, 10, 3, 1, 1),
        tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten())


@pytest.mark.parametrize("name, build, torch_build, side", [
    ("lenet", models.lenet, torch_lenet, 28),
    ("lenet_bn", models.lenet_bn, torch_lenet_bn, 28),
    ("alexnet", models.alexnet, torch_alexnet, 224),
    ("vgg", tiny_vgg, torch_tiny_vgg, 32),
    ("nin", models.nin, torch_nin, 224),
])
def test_matches_d2l_pytorch_model_with_copied_weights(name, build, torch_build, side, rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = torch_build(torch.nn)
    randomize_batchnorm_(reference)
    model = build()
    copy_from_torch_(model, reference)  # asserts parameters() order and shapes equal d2l's
    x = rng.standard_normal((2, 1, side, side)).astype("float32")
    assert_same_outputs(model, reference, x)
    if name == "lenet_bn":  # batch statistics in training mode too
        assert_same_outputs(model, reference, x, training=True)
