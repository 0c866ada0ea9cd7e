"""torch.nn's surface that d2l's chapters use: loss layers, ModuleList, LeakyReLU, Module helpers, container slicing.

Losses are compared with PyTorch in float64 (label smoothing included) and gradient-checked.
"""
import numpy
import pytest

import minicnn
import minicnn.functional as F
from minicnn import Tensor, backend, gradcheck, nn, optim

torch = pytest.importorskip("torch")


def leaf(values, requires_grad=True):
    return Tensor(backend.asarray(numpy.asarray(values, dtype="float64")), requires_grad=requires_grad)


@pytest.fixture
def rng():
    return numpy.random.default_rng(11)


CROSS_ENTROPY_CASES = [((5, 4), (5,)), ((2, 3, 4, 5), (2, 4, 5))]


@pytest.mark.parametrize("shape, target_shape", CROSS_ENTROPY_CASES, ids=["NC", "NCHW"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
def test_cross_entropy_with_label_smoothing_matches_torch(backend_name, rng, shape, target_shape, reduction, smoothing):
    logits = rng.standard_normal(shape) * 3
    target = rng.integers(0, shape[1], target_shape)
    x, tx = leaf(logits), torch.tensor(logits, requires_grad=True)
    t = Tensor(backend.asarray(target))
    out = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(x, t)
    expected = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(tx, torch.tensor(target))
    numpy.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = rng.standard_normal(tuple(expected.shape))
    (expected * torch.tensor(weights)).sum().backward()
    (out * leaf(weights, False)).sum().backward()
    numpy.testing.assert_allclose(backend.to_numpy(x.grad), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda z: F.cross_entropy(z, t, reduction, smoothing) * leaf(weights, False), [leaf(logits)])


def test_label_smoothing_outside_zero_one_is_refused(backend_name):
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(leaf(numpy.zeros((2, 3))), Tensor(backend.asarray(numpy.array([0, 1]))), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss_layer_matches_torch(backend_name, rng, reduction):
    p, q = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    out = nn.MSELoss(reduction=reduction)(leaf(p), leaf(q))
    expected = torch.nn.MSELoss(reduction=reduction)(torch.tensor(p), torch.tensor(q))
    numpy.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)
    assert gradcheck(lambda a, b: nn.MSELoss(reduction=reduction)(a, b).sum(), [leaf(p), leaf(q)])


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    layers.append(nn.Linear(3, 1))
    assert len(layers) == 3 and isinstance(layers[-1], nn.Linear)
    assert [name for name, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(NotImplementedError, match="iterate over it"):
        layers(minicnn.ones(1, 2))


def test_sequential_iterates_indexes_and_grows_as_torch():
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert [type(layer).__name__ for layer in net] == ["Linear", "ReLU", "Linear"]
    assert net[0] is list(net.children())[0] and net[-1] is list(net.children())[-1]
    net.add_module("final", nn.Sigmoid())
    assert net(minicnn.ones(5, 4)).shape == (5, 2) and type(net[3]).__name__ == "Sigmoid"


class Pair(nn.Concat):
    """A container with a constructor of its own, like GoogLeNet's Inception."""

    def __init__(self, channels):
        super().__init__(nn.Conv2d(channels, 2, 1), nn.Conv2d(channels, 3, 1), nn.Identity())
        self.channels = channels


def test_slicing_keeps_the_class_and_its_settings():
    block = Pair(4)
    first_two = block[:2]
    assert type(first_two) is Pair and first_two.channels == 4 and len(first_two) == 2 and len(block) == 3
    assert first_two(minicnn.ones(1, 4, 3, 3)).shape == (1, 5, 3, 3)
    rows = nn.Concat(nn.Identity(), nn.Identity(), axis=2)
    assert rows[:1].axis == 2 and rows[:2](minicnn.ones(1, 1, 2, 2)).shape == (1, 1, 4, 2)
    net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    assert type(net[1:]) is nn.Sequential and net[1:][1] is net[2]


def test_apply_visits_every_module_and_children_in_order():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Linear", "Sequential", "Sequential"]
    assert [type(c).__name__ for c in net.children()] == ["Linear", "Sequential"]


def test_modules_move_by_device_and_zero_grad_can_keep_zeros():
    net = nn.Linear(2, 1)
    assert net.to(minicnn.device("cpu")) is net and net.cpu() is net
    assert backend.backend_of(net.weight.data) == "numpy"
    net(minicnn.ones(3, 2)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert net.weight.grad is not None and not net.weight.grad.any()
    net.zero_grad()
    assert net.weight.grad is None
    sgd = optim.SGD(net.parameters(), lr=0.1)
    net(minicnn.ones(3, 2)).sum().backward()
    sgd.zero_grad(set_to_none=False)
    assert not net.bias.grad.any()
    sgd.zero_grad()
    assert net.bias.grad is None
