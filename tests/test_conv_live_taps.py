"""conv2d drops the kernel taps that only ever meet padding (functional/conv.py, ``_live_taps``).

A 3×3 convolution with padding 1 on a 1×1 map is its centre tap alone; a 5×5 one with padding 2
on a 2×2 map its middle 3×3. The output and every gradient must stay PyTorch's, the dropped
taps' weight gradient exactly zero; the kernels must receive the smaller weight.
"""
import numpy as np
import pytest

import minicnn.functional.conv as C
from minicnn import Tensor, gradcheck, kernels

CASES = [  # (input shape, output channels, kernel, padding, live kernel the kernels get)
    ((2, 3, 1, 1), 4, (3, 3), (1, 1), (1, 1)),
    ((2, 3, 2, 2), 4, (5, 5), (2, 2), (3, 3)),
    ((2, 3, 1, 3), 4, (3, 3), (1, 1), (1, 3)),
    ((2, 3, 2, 1), 2, (5, 3), (2, 1), (3, 1)),
]


@pytest.mark.parametrize("shape, c_out, kernel, padding, live", CASES)
def test_kernels_get_only_the_live_taps(monkeypatch, rng, shape, c_out, kernel, padding, live):
    seen = []
    original = kernels.conv2d
    monkeypatch.setattr(kernels, "conv2d", lambda x, w, *rest: seen.append(w.shape[2:]) or original(x, w, *rest))
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((c_out, shape[1]) + kernel).astype(np.float32)
    C.conv2d(Tensor(x), Tensor(w), padding=padding)
    assert seen == [live]


def test_a_map_every_tap_meets_keeps_the_whole_kernel(monkeypatch, rng):
    seen = []
    original = kernels.conv2d
    monkeypatch.setattr(kernels, "conv2d", lambda x, w, *rest: seen.append(w.shape[2:]) or original(x, w, *rest))
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    C.conv2d(Tensor(x), Tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32)), padding=1)
    assert seen == [(3, 3)]


@pytest.mark.parametrize("shape, c_out, kernel, padding, live", CASES)
def test_gradcheck(rng, shape, c_out, kernel, padding, live):
    x = Tensor(rng.standard_normal(shape), requires_grad=True)
    w = Tensor(rng.standard_normal((c_out, shape[1]) + kernel), requires_grad=True)
    b = Tensor(rng.standard_normal(c_out), requires_grad=True)
    assert gradcheck(lambda *t: C.conv2d(*t, padding=padding), [x, w, b])


@pytest.mark.parametrize("shape, c_out, kernel, padding, live", CASES)
def test_matches_pytorch(rng, shape, c_out, kernel, padding, live):
    torch = pytest.importorskip("torch")
    x, w, b = rng.standard_normal(shape), rng.standard_normal((c_out, shape[1]) + kernel), rng.standard_normal(c_out)
    g = rng.standard_normal((shape[0], c_out) + shape[2:])
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv2d(*ours, padding=padding)
    y.backward(Tensor(g))
    theirs = [torch.from_numpy(a).requires_grad_() for a in (x, w, b)]
    expected = torch.nn.functional.conv2d(*theirs, padding=padding)
    expected.backward(torch.from_numpy(g))
    np.testing.assert_allclose(y.data, expected.detach().numpy(), rtol=1e-12)
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(mine.grad, other.grad.numpy(), rtol=1e-12, atol=1e-12)
    dead = np.ones(kernel, dtype=bool)
    top, left = (kernel[0] - live[0]) // 2, (kernel[1] - live[1]) // 2
    dead[top:top + live[0], left:left + live[1]] = False
    assert np.all(ours[1].grad[:, :, dead] == 0)
