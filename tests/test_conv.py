"""conv2d and conv_transpose2d: hand-computed values, float64 gradient checks over a spread of
geometries, clear errors, and forward/backward parity with PyTorch when it is installed."""
import numpy as np
import pytest

import minicnn.functional.conv as C
from minicnn import Tensor, gradcheck, kernels, nn
from minicnn.backend import to_numpy

# (input shape, C_out, kernel, stride, padding, dilation): kernels 1/3/5/7/11, rectangular
# kernels, strides 1/2/4, paddings 0/1/2, dilation 2, odd sizes, batch 1 and > 1; one to a
# few channels
CONV_CASES = [
    ((2, 3, 5, 5), 2, 1, 1, 0, 1),
    ((1, 2, 7, 6), 3, 3, 1, 1, 1),
    ((2, 1, 9, 9), 2, 5, 1, 2, 1),
    ((1, 2, 9, 8), 2, 7, 2, 2, 1),
    ((1, 1, 13, 12), 2, 11, 1, 0, 1),
    ((2, 2, 7, 9), 3, (3, 2), (2, 1), (1, 0), 1),
    ((1, 2, 11, 10), 2, 3, 4, 1, 1),
    ((2, 2, 9, 7), 2, 3, 1, 2, 2),
    ((1, 3, 8, 9), 2, (2, 3), (1, 2), (0, 2), (2, 1)),
    ((2, 12, 5, 4), 12, 3, 1, 1, 1),
]
# rectangular kernels with stride 1 (a tap index that swaps rows and columns changes the result only
# when kh != kw) and with strides that differ per axis (a swapped stride changes it only when sh != sw)
RECT_CASES = [
    ((2, 3, 7, 8), 4, (3, 2), 1, 1, 1),
    ((1, 2, 8, 7), 3, (2, 3), 1, (0, 1), 1),
    ((1, 2, 7, 10), 2, (2, 3), (1, 3), (1, 0), 1),
    ((2, 2, 10, 7), 3, (3, 2), (3, 1), 0, 1),
    ((1, 2, 8, 9), 2, (3, 2), 1, (2, 1), (1, 2)),
]
CONV_CASES += RECT_CASES

CONV_T_CASES = [  # (input shape, C_out, kernel, stride, padding, output_padding)
    ((2, 3, 3, 4), 2, 3, 1, 0, 0),
    ((1, 2, 3, 3), 3, 4, 2, 1, 0),
    ((2, 2, 4, 3), 2, 3, 2, 1, 1),
    ((1, 2, 2, 3), 2, (3, 2), (3, 2), (1, 0), (2, 1)),
    ((1, 12, 3, 3), 12, 3, 1, 1, 0),
    ((2, 3, 4, 5), 2, (3, 2), 1, 1, 0),
    ((1, 2, 3, 4), 3, (2, 3), (1, 2), (0, 1), (0, 1)),
]


def _tensor(xp, rng, shape, dtype="float64", grad=True):
    return Tensor(xp.asarray(rng.standard_normal(shape).astype(dtype)), requires_grad=grad)


def _weight_shape(c_in, c_out, kernel, transposed=False):
    kh, kw = C.as_pair(kernel, "kernel", "test")
    return (c_in, c_out, kh, kw) if transposed else (c_out, c_in, kh, kw)


def test_conv2d_by_hand():
    # 4x4 image x[i, j] = 4i + j, 2x2 kernel [[1, 2], [3, 4]]: y[i, j] = 10 x[i, j] + 34
    x = Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    w = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2))
    y = C.conv2d(x, w, Tensor(np.array([0.5])))
    expected = 10 * np.arange(16.0).reshape(4, 4)[:3, :3] + 34 + 0.5
    np.testing.assert_array_equal(y.data[0, 0], expected)


def test_conv_transpose2d_by_hand():
    # a single 1 spreads the kernel, stride 2 places two copies side by side
    x = Tensor(np.array([[1.0, 2.0]]).reshape(1, 1, 1, 2))
    w = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2))
    y = C.conv_transpose2d(x, w, stride=2)
    np.testing.assert_array_equal(y.data[0, 0], [[1, 2, 2, 4], [3, 4, 6, 8]])


@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, dilation", CONV_CASES)
def test_conv2d_gradcheck(backend_name, xp, rng, shape, c_out, kernel, stride, padding, dilation):
    x = _tensor(xp, rng, shape)
    w = _tensor(xp, rng, _weight_shape(shape[1], c_out, kernel))
    b = _tensor(xp, rng, (c_out,))
    assert gradcheck(lambda *t: C.conv2d(*t, stride, padding, dilation), [x, w, b])


@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, output_padding", CONV_T_CASES)
def test_conv_transpose2d_gradcheck(backend_name, xp, rng, shape, c_out, kernel, stride, padding,
                                    output_padding):
    x = _tensor(xp, rng, shape)
    w = _tensor(xp, rng, _weight_shape(shape[1], c_out, kernel, transposed=True))
    b = _tensor(xp, rng, (c_out,))
    assert gradcheck(lambda *t: C.conv_transpose2d(*t, stride, padding, output_padding), [x, w, b])


def test_reference_face_gradcheck(monkeypatch, rng):
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    x = Tensor(rng.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    assert gradcheck(lambda a, b: C.conv2d(a, b, stride=2, padding=1), [x, w])
    wt = Tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: C.conv_transpose2d(a, b, stride=2, output_padding=1), [x, wt])


@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, dilation", RECT_CASES)
def test_reference_face_rectangular_gradcheck(monkeypatch, rng, shape, c_out, kernel, stride, padding, dilation):
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    x, w = _tensor(np, rng, shape), _tensor(np, rng, _weight_shape(shape[1], c_out, kernel))
    assert gradcheck(lambda *t: C.conv2d(*t, stride=stride, padding=padding, dilation=dilation), [x, w])


def test_input_gradient_is_skipped_when_not_needed(monkeypatch, rng):
    def refuse(*args):
        raise AssertionError("conv_transpose2d (the input gradient) should not run")

    monkeypatch.setattr(kernels, "conv_transpose2d", refuse)
    x = Tensor(rng.standard_normal((2, 1, 8, 8)).astype(np.float32))
    w = Tensor(rng.standard_normal((6, 1, 5, 5)).astype(np.float32), requires_grad=True)
    C.conv2d(x, w, padding=2).sum().backward()
    assert x.grad is None and w.grad.shape == (6, 1, 5, 5)


def test_float32_stays_float32(backend_name, xp, rng):
    x = _tensor(xp, rng, (2, 3, 6, 6), "float32")
    w = _tensor(xp, rng, (4, 3, 3, 3), "float32")
    b = _tensor(xp, rng, (4,), "float32")
    wt = _tensor(xp, rng, (4, 2, 3, 3), "float32")
    y = C.conv2d(x, w, b, padding=1)
    z = C.conv_transpose2d(y, wt, stride=2)
    z.sum().backward()
    assert {t.dtype for t in (y, z)} == {np.dtype("float32")}
    assert {g.dtype for g in (x.grad, w.grad, b.grad, wt.grad)} == {np.dtype("float32")}


@pytest.mark.parametrize("call, message", [
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 2, 3, 3)))), "input has 3 channels"),
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 3, 9, 3)))), "larger than the padded input"),
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 3, 3, 3))), Tensor(np.ones(3))), "bias has shape"),
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 3, 3, 3), "float32"))), "float64 but weight is float32"),
    (lambda x: C.conv2d(Tensor(np.ones((2, 3, 5, 5), "uint8")), Tensor(np.ones((4, 3, 3, 3), "float32"))),
     r"input is uint8 but weight is float32; scale the images to floats in \[0, 1\] first"),
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 3, 3, 3))), stride=0), "stride must be at least 1"),
    (lambda x: C.conv2d(x, Tensor(np.ones((4, 3, 3, 3))), padding=1.5), "padding must be an int"),
    (lambda x: C.conv2d(x[0], Tensor(np.ones((4, 3, 3, 3)))), "expected a 4-D input"),
    (lambda x: C.conv_transpose2d(x, Tensor(np.ones((2, 4, 3, 3)))), "input has 3 channels"),
    (lambda x: C.conv_transpose2d(x, Tensor(np.ones((3, 4, 3, 3))), stride=2, output_padding=2),
     "output_padding \\(2, 2\\) must be smaller than the stride"),
    (lambda x: C.conv_transpose2d(x, Tensor(np.ones((3, 4, 1, 1))), padding=4), "non-positive output"),
])
def test_errors_name_the_op_and_shapes(call, message):
    x = Tensor(np.ones((2, 3, 5, 5)))
    with pytest.raises((ValueError, TypeError), match=message):
        call(x)


TORCH_CASES = CONV_CASES[1:3] + CONV_CASES[5:] + [((4, 6, 14, 14), 16, 5, 1, 0, 1),
                                                 ((3, 1, 28, 28), 6, 5, 1, 2, 1)]


@pytest.mark.parametrize("face", ["numba", "reference"])
@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, dilation", TORCH_CASES)
def test_conv2d_matches_torch(monkeypatch, rng, face, shape, c_out, kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("MINICNN_NUMBA", "1" if face == "numba" else "0")
    x, w, b = (rng.standard_normal(s).astype(np.float32)
               for s in (shape, _weight_shape(shape[1], c_out, kernel), (c_out,)))
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv2d(*ours, stride, padding, dilation)
    expected = torch.nn.functional.conv2d(*theirs, stride, padding, dilation)
    np.testing.assert_allclose(to_numpy(y.data), expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    grad = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(grad)
    expected.backward(torch.tensor(grad))
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(mine.grad), other.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("face", ["numba", "reference"])
@pytest.mark.parametrize("shape, c_out, kernel, stride, padding, output_padding", CONV_T_CASES)
def test_conv_transpose2d_matches_torch(monkeypatch, rng, face, shape, c_out, kernel, stride, padding, output_padding):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("MINICNN_NUMBA", "1" if face == "numba" else "0")
    x, w, b = (rng.standard_normal(s).astype(np.float32)
               for s in (shape, _weight_shape(shape[1], c_out, kernel, True), (c_out,)))
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = C.conv_transpose2d(*ours, stride, padding, output_padding)
    expected = torch.nn.functional.conv_transpose2d(*theirs, stride, padding, output_padding)
    np.testing.assert_allclose(to_numpy(y.data), expected.detach().numpy(), rtol=1e-4, atol=1e-4)
    grad = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(grad)
    expected.backward(torch.tensor(grad))
    for mine, other in zip(ours, theirs):
        np.testing.assert_allclose(to_numpy(mine.grad), other.grad.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Conv2d(0, 4, 3), r"Conv2d\(0, 4, kernel_size=\(3, 3\)\): in_channels must be a positive whole number, got 0"),
    (lambda: nn.Conv2d(3, 0, 3), "out_channels must be a positive whole number, got 0"),
    (lambda: nn.Conv2d(3, 4, 0), r"kernel_size must be a positive whole number, got \(0, 0\)"),
    (lambda: nn.Conv2d(3, 4, (3, 0)), r"kernel_size must be a positive whole number, got \(3, 0\)"),
    (lambda: nn.Conv2d(2.5, 4, 3), "in_channels must be a positive whole number, got 2.5"),
    (lambda: nn.ConvTranspose2d(3, 4, 0), r"ConvTranspose2d\(3, 4, kernel_size=\(0, 0\)\): kernel_size must be"),
    (lambda: nn.ConvTranspose2d(3, 0, 2), "out_channels must be a positive whole number"),
    (lambda: nn.Linear(0, 4), "Linear\\(0→4\\): in_features and out_features must be at least 1"),
    (lambda: nn.GroupNorm(0, 4), r"GroupNorm\(0, 4\): num_groups must be at least 1"),
])
def test_layers_refuse_empty_sizes_by_name(build, message):
    with pytest.raises(ValueError, match=message):
        build()
