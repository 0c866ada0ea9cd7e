"""Layers: gradients (float64), PyTorch's default initialisation, errors, names and outputs against PyTorch."""
import math

import numpy
import pytest

from minicnn import Tensor, backend, gradcheck, nn
from minicnn.random import manual_seed


def _tensor(array, requires_grad=False, dtype=None):
    return Tensor(backend.asarray(array, dtype=dtype), requires_grad=requires_grad)


def _layer_gradcheck(layer, x):
    """gradcheck with respect to the input and every parameter of ``layer`` (float64)."""
    return gradcheck(lambda x, *_: layer(x), [x] + list(layer.parameters()))


# --- gradients -----------------------------------------------------------------------

def test_linear_gradcheck(rng):
    layer = nn.Linear(4, 3).double()
    assert _layer_gradcheck(layer, _tensor(rng.standard_normal((5, 4)), requires_grad=True))
    no_bias = nn.Linear(4, 3, bias=False).double()
    assert _layer_gradcheck(no_bias, _tensor(rng.standard_normal((2, 4)), requires_grad=True))


@pytest.mark.parametrize("stride, padding, dilation", [(1, 0, 1), (2, 1, 1), (1, 2, 2)])
def test_conv2d_gradcheck(rng, stride, padding, dilation):
    layer = nn.Conv2d(2, 3, kernel_size=3, stride=stride, padding=padding, dilation=dilation).double()
    assert _layer_gradcheck(layer, _tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True))


@pytest.mark.parametrize("stride, padding, output_padding", [(1, 0, 0), (2, 1, 0), (2, 1, 1)])
def test_conv_transpose2d_gradcheck(rng, stride, padding, output_padding):
    layer = nn.ConvTranspose2d(2, 3, kernel_size=3, stride=stride, padding=padding,
                               output_padding=output_padding).double()
    assert _layer_gradcheck(layer, _tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True))


def test_small_network_gradcheck_in_train_and_eval(rng):
    manual_seed(0)  # fixed weights: a ReLU or max-pool tie within a step of the point would spoil the check
    net = nn.Sequential(
        nn.Conv2d(1, 2, kernel_size=3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 2), nn.Tanh(),
    ).double()
    x = _tensor(rng.standard_normal((2, 1, 4, 4)), requires_grad=True)
    net(_tensor(rng.standard_normal((2, 1, 4, 4))))  # give BatchNorm non-trivial running statistics
    assert _layer_gradcheck(net.train(), x)
    assert _layer_gradcheck(net.eval(), x)


# --- default initialisation ------------------------------------------------------------

def _check_uniform(tensor, bound):
    values = tensor.numpy()
    assert numpy.abs(values).max() <= bound
    if values.size >= 1000:
        assert numpy.abs(values).max() > 0.98 * bound
        assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)


@pytest.mark.parametrize("make, fan_in", [
    (lambda: nn.Linear(400, 120), 400),
    (lambda: nn.Conv2d(16, 32, kernel_size=3), 16 * 9),
    (lambda: nn.ConvTranspose2d(16, 8, kernel_size=4), 8 * 16),  # PyTorch counts weight.shape[1]·kh·kw
])
def test_default_init_bounds_and_std(backend_name, make, fan_in):
    layer = make()
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=√5): √(2/(1+5))·√(3/fan_in)
    _check_uniform(layer.weight, bound)
    _check_uniform(layer.bias, bound)
    assert layer.weight.dtype == numpy.float32 and layer.weight.requires_grad


@pytest.mark.parametrize("name, args", [
    ("Linear", (400, 120)), ("Conv2d", (16, 32, 3)), ("ConvTranspose2d", (16, 8, 4)),
])
def test_default_init_matches_torch_statistics(name, args):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    manual_seed(0)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert ours.weight.shape == tuple(theirs.weight.shape)
    bound = numpy.abs(theirs.weight.detach().numpy()).max()  # weight and bias share one bound
    for mine, reference in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
        reference = reference.detach().numpy()
        assert numpy.abs(mine.numpy()).max() <= bound * 1.01
        # two sample standard deviations of n uniform draws differ by ~0.9/√n relative
        assert mine.numpy().std() == pytest.approx(reference.std(), rel=3 / math.sqrt(reference.size))


def test_normalization_layers_start_as_identity():
    for layer in (nn.BatchNorm2d(3), nn.LayerNorm(3), nn.GroupNorm(1, 3)):
        assert (layer.weight.numpy() == 1).all() and (layer.bias.numpy() == 0).all()
    bn = nn.BatchNorm1d(3)
    assert (bn.running_mean.numpy() == 0).all() and (bn.running_var.numpy() == 1).all()


# --- forward values and errors -------------------------------------------------------

def test_linear_computes_x_wt_plus_b(rng):
    layer = nn.Linear(3, 2)
    x = rng.standard_normal((4, 3)).astype("float32")
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    numpy.testing.assert_allclose(layer(_tensor(x)).numpy(), expected, rtol=1e-5)


def test_linear_error_names_layer_and_fix():
    with pytest.raises(ValueError, match=r"Linear\(400→120\) got 256 features.*Flatten"):
        nn.Linear(400, 120)(Tensor(backend.xp().ones((2, 256), dtype="float32")))


def test_conv_channel_mismatch_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 16.*\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        nn.Conv2d(3, 16, 3)(Tensor(backend.xp().ones((2, 1, 8, 8), dtype="float32")))
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(4, 2"):
        nn.ConvTranspose2d(4, 2, 3)(Tensor(backend.xp().ones((2, 3, 8, 8), dtype="float32")))


def test_pooling_layers_by_hand():
    x = _tensor(numpy.arange(16.0).reshape(1, 1, 4, 4))
    numpy.testing.assert_array_equal(nn.MaxPool2d(2)(x).numpy()[0, 0], [[5, 7], [13, 15]])
    numpy.testing.assert_array_equal(nn.AvgPool2d(2)(x).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    numpy.testing.assert_array_equal(nn.AdaptiveAvgPool2d((1, 1))(x).numpy(), [[[[7.5]]]])
    assert nn.MaxPool2d(3).stride == 3 and nn.MaxPool2d(3, stride=2, padding=1)(x).shape == (1, 1, 2, 2)


def test_activations_and_flatten(rng):
    x = rng.standard_normal((2, 3, 2, 2))
    t = _tensor(x)
    numpy.testing.assert_allclose(nn.ReLU()(t).numpy(), numpy.maximum(x, 0))
    numpy.testing.assert_allclose(nn.Sigmoid()(t).numpy(), 1 / (1 + numpy.exp(-x)))
    numpy.testing.assert_allclose(nn.Tanh()(t).numpy(), numpy.tanh(x))
    e = numpy.exp(x)
    numpy.testing.assert_allclose(nn.Softmax(dim=1)(t).numpy(), e / e.sum(axis=1, keepdims=True))
    assert nn.Flatten()(t).shape == (2, 12)
    assert nn.Flatten(start_dim=1, end_dim=2)(t).shape == (2, 6, 2)
    assert nn.Identity(54, unused="x")(t) is t


def test_float32_stays_float32(rng):
    x = _tensor(rng.standard_normal((2, 3, 6, 6)), dtype="float32")
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 2, 2, stride=2), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(32, 3))
    assert net(x).dtype == numpy.float32


# --- against PyTorch ---------------------------------------------------------------------

def _lenet(module):
    return module.Sequential(
        module.Conv2d(1, 6, kernel_size=5, padding=2), module.BatchNorm2d(6), module.Sigmoid(),
        module.MaxPool2d(kernel_size=2, stride=2),
        module.Conv2d(6, 16, kernel_size=5), module.ReLU(), module.AvgPool2d(kernel_size=2, stride=2),
        module.ConvTranspose2d(16, 8, kernel_size=2, stride=2), module.AdaptiveAvgPool2d((2, 2)),
        module.Flatten(), module.Linear(32, 10), module.Dropout(0.5), module.Linear(10, 4),
    )


def test_parameter_order_names_and_outputs_match_torch(rng):
    torch = pytest.importorskip("torch")
    ours, theirs = _lenet(nn), _lenet(torch.nn)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((3, 1, 28, 28)).astype("float32")
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        ours[-2].p = theirs[-2].p = 0.0  # dropout masks cannot agree across libraries
        numpy.testing.assert_allclose(ours(_tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                                      rtol=1e-4, atol=1e-5)
    for key, value in theirs.state_dict().items():  # running statistics evolved alike
        numpy.testing.assert_allclose(backend.to_numpy(ours.state_dict()[key]), value.numpy(), rtol=1e-5, atol=1e-6)


def test_layer_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for name, args, kwargs in [
        ("Linear", (400, 120), {}), ("Linear", (4, 2), {"bias": False}),
        ("Conv2d", (1, 6, 5), {"padding": 2}), ("Conv2d", (3, 4, 3), {"stride": 2, "dilation": 2, "bias": False}),
        ("ConvTranspose2d", (3, 3, 4), {"stride": 2, "padding": 1}), ("AvgPool2d", (3, 1, 1), {}),
        ("AdaptiveAvgPool2d", ((1, 1),), {}), ("ReLU", (), {}), ("Sigmoid", (), {}), ("Flatten", (), {}),
        ("Softmax", (1,), {}), ("Identity", (), {}),
    ]:
        assert repr(getattr(nn, name)(*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))
