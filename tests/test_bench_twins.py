"""The benchmarks' PyTorch twins (benchmarks/twins.py) are minicnn's networks: same weights, same outputs.

Each network is built small in minicnn (a fraction of its channels), its weights copied into
the twin by position (``common.copy_weights_to_torch``, which checks every shape), and both
run one float64 forward: in eval mode, and in training mode too where no dropout makes the
outputs random (BatchNorm then normalises with the batch's statistics).
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from minicnn import nn
from minicnn.autograd import Tensor, no_grad
from minicnn.backend import to_numpy
from minicnn.random import manual_seed

torch = pytest.importorskip("torch")


def benchmark_module(name):
    """benchmarks/<name>.py, loaded under its own name: the examples have a ``common`` module too."""
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


copy_weights_to_torch = benchmark_module("common").copy_weights_to_torch
twins = benchmark_module("twins")
TWINS, minicnn_network = twins.TWINS, twins.minicnn_network

SMALL = {  # name: (width, image side): the smallest images each network accepts, few channels
    "alexnet": (1 / 32, 65),
    "vgg11": (1 / 8, 32),
    "nin": (1 / 32, 67),
    "googlenet": (1 / 16, 28),
    "densenet": (1 / 16, 32),
    "se_resnet18": (1 / 8, 32),
    "resnet18": (1 / 16, 32),
}


def forward_both(model, twin, x, training):
    """(minicnn's output, the twin's) on ``x``, both in training or both in eval mode."""
    model.train(training)
    twin.train(training)
    with no_grad():
        ours = to_numpy(model(Tensor(x)).data)
    with torch.no_grad():
        theirs = twin(torch.from_numpy(x)).numpy()
    return ours, theirs


def test_every_benchmarked_network_has_a_small_size_here():
    assert set(SMALL) == set(TWINS)


@pytest.mark.parametrize("name", SMALL)
def test_twin_computes_what_minicnn_computes(name):
    width, side = SMALL[name]
    manual_seed(0)
    model = minicnn_network(name, side, width).double()
    twin = TWINS[name](torch, side, width).double()
    copy_weights_to_torch(model, twin, torch)
    x = np.random.default_rng(0).standard_normal((3, 1, side, side))
    modes = [False] if any(isinstance(m, nn.Dropout) for m in model.modules()) else [False, True]
    for training in modes:
        ours, theirs = forward_both(model, twin, x, training)
        assert ours.shape == theirs.shape == (3, 10)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=f"{name}, training={training}")


def test_a_twin_of_another_size_is_refused():
    """The copy checks shapes: AlexNet's twin for 128-pixel images has a wider first dense layer."""
    model = minicnn_network("alexnet", 65, 1 / 32)
    with pytest.raises(ValueError, match="parameter shapes"):
        copy_weights_to_torch(model, TWINS["alexnet"](torch, 128, 1 / 32), torch)
