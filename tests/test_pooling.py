"""Pooling: hand-computed values (−∞ padding, padding counted in the mean, adaptive bins),
float64 gradient checks, clear errors, and parity with PyTorch (padded pools included)."""
import numpy as np
import pytest

import minicnn.functional.pooling as P
from minicnn import Tensor, gradcheck
from minicnn.backend import to_numpy

# (input shape, kernel, stride, padding): rectangular, strided, padded, overlapping, odd sizes
POOL_CASES = [
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 5), 3, 2, 1),
    ((2, 1, 9, 8), (3, 2), (2, 1), (1, 1)),
    ((1, 2, 11, 11), 5, 4, 2),
    ((2, 2, 5, 7), 3, 1, 1),
    ((1, 1, 7, 7), 7, 1, 3),
]
ADAPTIVE_CASES = [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), 3), ((1, 2, 4, 6), 1), ((1, 1, 3, 2), (5, 4))]


def _distinct(xp, shape, rng, dtype="float64"):
    """Values with no ties, so the max is unique and finite differences see one winner."""
    values = rng.permutation(np.prod(shape)).reshape(shape) / 7.0 - 3.0
    return Tensor(xp.asarray(values.astype(dtype)), requires_grad=True)


def test_max_pool_pads_with_minus_infinity():
    x = Tensor(-np.arange(1.0, 10.0).reshape(1, 1, 3, 3))  # all negative: zero padding would win
    y = P.max_pool2d(x, 3, stride=2, padding=1)
    np.testing.assert_array_equal(y.data[0, 0], [[-1.0, -2.0], [-4.0, -5.0]])  # never 0


def test_avg_pool_counts_padding_in_the_mean():
    x = Tensor(np.ones((1, 1, 3, 3)))
    y = P.avg_pool2d(x, 3, stride=1, padding=1)
    expected = np.array([[4, 6, 4], [6, 9, 6], [4, 6, 4]]) / 9.0
    np.testing.assert_allclose(y.data[0, 0], expected)


def test_adaptive_bins_follow_pytorch():
    # H = 5 into 3 bins: [0, 2), [1, 4), [3, 5) (floor(i*5/3) to ceil((i+1)*5/3))
    x = Tensor(np.arange(5.0).reshape(1, 1, 5, 1))
    y = P.adaptive_avg_pool2d(x, (3, 1))
    np.testing.assert_allclose(y.data[0, 0, :, 0], [0.5, 2.0, 3.5])
    z = P.adaptive_max_pool2d(x, (3, 1))
    np.testing.assert_array_equal(z.data[0, 0, :, 0], [1.0, 3.0, 4.0])


def test_global_average_pooling(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    y = P.adaptive_avg_pool2d(Tensor(x), 1)
    np.testing.assert_allclose(y.data, x.mean(axis=(2, 3), keepdims=True))


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_max_pool_gradcheck(backend_name, xp, rng, shape, kernel, stride, padding):
    x = _distinct(xp, shape, rng)
    assert gradcheck(lambda t: P.max_pool2d(t, kernel, stride, padding), [x])


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_avg_pool_gradcheck(backend_name, xp, rng, shape, kernel, stride, padding):
    x = Tensor(xp.asarray(rng.standard_normal(shape)), requires_grad=True)
    assert gradcheck(lambda t: P.avg_pool2d(t, kernel, stride, padding), [x])


@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_adaptive_pool_gradcheck(backend_name, xp, rng, shape, output_size):
    x = _distinct(xp, shape, rng)
    assert gradcheck(lambda t: P.adaptive_avg_pool2d(t, output_size), [x])
    assert gradcheck(lambda t: P.adaptive_max_pool2d(t, output_size), [x])


def test_pools_keep_float32(backend_name, xp, rng):
    for pool in (lambda t: P.max_pool2d(t, 3, 2, 1), lambda t: P.avg_pool2d(t, 2),
                 lambda t: P.adaptive_avg_pool2d(t, 3), lambda t: P.adaptive_max_pool2d(t, 3)):
        x = _distinct(xp, (2, 2, 7, 7), rng, "float32")
        y = pool(x)
        y.sum().backward()
        assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda x: P.max_pool2d(x, 3, padding=2), "padding \\(2, 2\\) must be between 0 and half"),
    (lambda x: P.avg_pool2d(x, 2, padding=2), "at most half of kernel size"),
    (lambda x: P.max_pool2d(x, 0), "must be positive"),
    (lambda x: P.avg_pool2d(x, 2, stride=0), "must be positive"),
    (lambda x: P.max_pool2d(x, 7), "too small for kernel \\(7, 7\\)"),
    (lambda x: P.max_pool2d(x[0], 2), "expected a 4-D input"),
    (lambda x: P.adaptive_avg_pool2d(x, 0), "must be positive"),
    (lambda x: P.avg_pool2d(x, (2, 2, 2)), "kernel_size must be an int or a pair"),
])
def test_errors_name_the_op_and_arguments(call, message):
    x = Tensor(np.ones((1, 2, 5, 5)))
    with pytest.raises((ValueError, TypeError), match=message):
        call(x)


@pytest.mark.parametrize("shape, kernel, stride, padding", POOL_CASES)
def test_pools_match_torch(rng, shape, kernel, stride, padding):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(np.float32)
    expected, indices = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding,
                                                       return_indices=True)
    y = P.max_pool2d(Tensor(x), kernel, stride, padding)
    np.testing.assert_array_equal(to_numpy(y.data), expected.numpy())
    np.testing.assert_array_equal(_argmax(x, kernel, stride, padding), indices.numpy())
    mean = torch.nn.functional.avg_pool2d(torch.tensor(x), kernel, stride, padding)
    np.testing.assert_allclose(to_numpy(P.avg_pool2d(Tensor(x), kernel, stride, padding).data),
                               mean.numpy(), rtol=1e-6, atol=1e-6)


def _argmax(x, kernel, stride, padding):
    """The flat indices max pooling keeps for backward (PyTorch's return_indices)."""
    pool = P.MaxPool2d(kernel, stride, padding)
    pool.forward(x)
    return to_numpy(pool.saved[0])


@pytest.mark.parametrize("shape, output_size", ADAPTIVE_CASES)
def test_adaptive_pools_match_torch(rng, shape, output_size):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape).astype(np.float32)
    for ours, theirs in ((P.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d),
                         (P.adaptive_max_pool2d, torch.nn.functional.adaptive_max_pool2d)):
        np.testing.assert_allclose(to_numpy(ours(Tensor(x), output_size).data),
                                   theirs(torch.tensor(x), output_size).numpy(), rtol=1e-6, atol=1e-6)


def test_pool_gradients_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.integers(-2, 3, size=(2, 3, 9, 8)).astype(np.float32)  # ties: the first max wins
    grad = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    for ours, theirs in ((P.max_pool2d, torch.nn.functional.max_pool2d),
                         (P.avg_pool2d, torch.nn.functional.avg_pool2d)):
        mine, other = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours(mine, 3, 2, 1).backward(grad)
        theirs(other, 3, 2, 1).backward(torch.tensor(grad))
        np.testing.assert_allclose(to_numpy(mine.grad), other.grad.numpy(), rtol=1e-6, atol=1e-6)
