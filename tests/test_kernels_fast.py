"""The speed-ups of the Numba face agree with the readable code (docs/performance.md).

Each fast path is forced on small inputs: the convolution's chunks of images and groups of
partial weight gradients by shrinking the byte budgets (``tuning.py``), the tiling average
pool by windows equal to their stride, the weight gradient's two orders of work (rows of the
result, or chunks of the batch) by the size of dY. The fused loops (``kernels.FUSED``) are
held to the array code ``minicnn.functional`` runs without them (``MINICNN_NUMBA=0``).
"""
import numba
import numpy as np
import pytest

import minicnn.functional as F
from minicnn import Tensor
from minicnn.kernels import numba as fast_face
from minicnn.kernels import reference
from minicnn.kernels.numba import tuning, unfold

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")

ONE = (1, 1)


def conv_products(face, x, weight, grad_y, stride, padding, dilation=ONE):
    return (face.conv2d(x, weight, stride, padding, dilation),
            face.conv_transpose2d(grad_y, weight, x.shape[2:], stride, padding, dilation),
            face.conv2d_weight(x, grad_y, weight.shape[2:], stride, padding, dilation))


def random_conv(rng, n, c_in, c_out, size, kernel, stride, padding, dilation=ONE, dtype=np.float64):
    x = rng.standard_normal((n, c_in, size, size - 1)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in) + kernel).astype(dtype)
    out_hw = reference.output_hw(x.shape[2:], kernel, stride, padding, dilation)
    return x, weight, rng.standard_normal((n, c_out, *out_hw)).astype(dtype)


@pytest.mark.parametrize("chunk_bytes, partial_bytes", [(1 << 20, 1 << 25), (4096, 1 << 25), (4096, 2048)])
@pytest.mark.parametrize("stride, padding, dilation", [(ONE, ONE, ONE), ((2, 1), (0, 2), ONE),
                                                        ((1, 2), ONE, (2, 1))])
def test_gemm_convolution_in_chunks_agrees(monkeypatch, rng, chunk_bytes, partial_bytes, stride,
                                           padding, dilation):
    # 12 × 11 channels take the im2col + GEMM path; tiny budgets split the batch into chunks
    # of one image and the weight gradient into several groups of partial sums
    monkeypatch.setattr(tuning, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(tuning, "PARTIAL_BYTES", partial_bytes)
    monkeypatch.setattr(tuning, "MIN_COLUMNS", 1)
    args = random_conv(rng, 5, 12, 11, 9, (3, 2), stride, padding, dilation)
    for got, expected in zip(conv_products(fast_face, *args, stride, padding, dilation),
                             conv_products(reference, *args, stride, padding, dilation)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("n", [1, 7, 40])
def test_weight_gradient_by_rows_and_by_batch_chunks_agree(monkeypatch, rng, n):
    x, weight, grad_y = random_conv(rng, n, 9, 16, 6, (3, 3), ONE, ONE, dtype=np.float32)
    expected = reference.conv2d_weight(x.astype(np.float64), grad_y.astype(np.float64), (3, 3),
                                       ONE, ONE, ONE)
    results = []
    for chunk_bytes in (1 << 24, 512):  # dY fits: split the result's rows; it does not: the batch
        monkeypatch.setattr(tuning, "CHUNK_BYTES", chunk_bytes)
        results.append(fast_face.conv2d_weight(x, grad_y, (3, 3), ONE, ONE, ONE))
    for got in results:
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 * np.abs(expected).max())


@pytest.mark.parametrize("small_grad_bytes", [0, 1 << 30])  # split the batch, or the rows of dW
@pytest.mark.parametrize("n, c_out, dilation", [(1, 6, ONE), (17, 6, ONE), (40, 7, (2, 1))])
def test_small_convolution_weight_gradient_agrees(monkeypatch, rng, small_grad_bytes, n, c_out,
                                                  dilation):
    # one input channel, as in LeNet's conv1
    monkeypatch.setattr(tuning, "SMALL_GRAD_BYTES", small_grad_bytes)
    x, weight, grad_y = random_conv(rng, n, 1, c_out, 10, (5, 3), ONE, (2, 1), dilation)
    np.testing.assert_allclose(fast_face.conv2d_weight(x, grad_y, (5, 3), ONE, (2, 1), dilation),
                               reference.conv2d_weight(x, grad_y, (5, 3), ONE, (2, 1), dilation),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("in_hw, kernel, stride, padding, dilation", [
    ((2, 2), (3, 3), ONE, ONE, ONE),        # GoogLeNet's and SE-ResNet's last maps
    ((1, 1), (3, 3), ONE, ONE, ONE),        # one pixel: the centre tap alone
    ((3, 3), ONE, ONE, (0, 0), ONE),        # 1×1: one pair per pixel
    ((7, 6), (5, 5), ONE, (2, 2), ONE),     # AlexNet's 5×5 layer, one side even
    ((6, 5), (3, 3), (2, 1), (1, 0), ONE),  # strided, padded on one side
    ((2, 3), (3, 3), ONE, (2, 1), (2, 1)),  # dilated: some taps meet only padding
    ((1, 1), (3, 3), ONE, (3, 3), ONE),     # outputs that no tap joins to the image
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [5, 1])  # rows split into blocks, or not
def test_small_map_convolution_by_pixel_pairs_agrees(monkeypatch, rng, in_hw, kernel, stride, padding,
                                                     dilation, dtype, n):
    monkeypatch.setattr(tuning, "PAIRS_MIN_BATCH", 1)
    out_hw = reference.output_hw(in_hw, kernel, stride, padding, dilation)
    assert fast_face.conv._by_pairs_pays_off(n, out_hw) and fast_face.conv._by_pairs_pays_off(n, in_hw)
    x = rng.standard_normal((n, 6, *in_hw)).astype(dtype)
    weight = rng.standard_normal((7, 6) + kernel).astype(dtype)
    grad_y = rng.standard_normal((n, 7, *out_hw)).astype(dtype)
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    for got, expected in zip(conv_products(fast_face, x, weight, grad_y, stride, padding, dilation),
                             conv_products(reference, x, weight, grad_y, stride, padding, dilation)):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_pixel_pairs_are_the_products_that_meet_the_image():
    # a 3×3 "same" convolution on a 2×2 map: every output pixel meets every input pixel, each
    # pair through exactly one tap, so 16 pairs of the 36 im2col products
    tap, pixel_in, pixel_out = fast_face.conv._tap_pairs((2, 2), (2, 2), (3, 3), ONE, ONE, ONE)
    assert len(tap) == 16 and len(set(zip(pixel_in, pixel_out))) == 16
    for t, p, q in zip(tap, pixel_in, pixel_out):  # input pixel = output pixel + tap − padding
        assert (p // 2, p % 2) == (q // 2 + t // 3 - 1, q % 2 + t % 3 - 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n, in_hw", [(3, (2, 2)), (9, (5, 7)), (70, (3, 3)), (4, (1, 1))])
def test_pointwise_convolution_without_unfolding_agrees(rng, dtype, n, in_hw):
    x = rng.standard_normal((n, 6, *in_hw)).astype(dtype)
    weight = rng.standard_normal((4, 6, 1, 1)).astype(dtype)
    grad_y = rng.standard_normal((n, 4, *in_hw)).astype(dtype)
    assert fast_face.conv._is_pointwise((1, 1), ONE, (0, 0))
    tolerance = 1e-10 if dtype == np.float64 else 1e-4
    for got, expected in zip(conv_products(fast_face, x, weight, grad_y, ONE, (0, 0)),
                             conv_products(reference, x, weight, grad_y, ONE, (0, 0))):
        assert got.dtype == dtype and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)


def test_weight_gradient_does_not_depend_on_the_thread_count(monkeypatch, rng):
    x, weight, grad_y = random_conv(rng, 40, 12, 11, 9, (3, 3), ONE, ONE, dtype=np.float32)
    small = random_conv(rng, 40, 1, 6, 10, (5, 5), ONE, ONE, dtype=np.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append((fast_face.conv2d_weight(x, grad_y, (3, 3), ONE, ONE, ONE),
                            fast_face.conv2d_weight(small[0], small[2], (5, 5), ONE, ONE, ONE)))
    finally:
        numba.set_num_threads(before)
    for large, small in results[1:]:
        np.testing.assert_array_equal(large, results[0][0])
        np.testing.assert_array_equal(small, results[0][1])


@pytest.mark.parametrize("shape, kernel", [((3, 2, 8, 8), (2, 2)), ((2, 3, 7, 9), (2, 2)),
                                           ((2, 3, 9, 7), (3, 2)), ((4, 5, 3, 3), (3, 3))])
def test_tiling_average_pool_agrees(rng, shape, kernel):
    # stride = kernel, no padding; odd sizes leave rows and columns that no window covers
    x = rng.standard_normal(shape).astype(np.float32)
    y = fast_face.avg_pool2d(x, kernel, kernel, (0, 0))
    np.testing.assert_allclose(y, reference.avg_pool2d(x, kernel, kernel, (0, 0)), rtol=1e-6, atol=1e-6)
    grad_y = rng.standard_normal(y.shape).astype(np.float32)
    grad_x = fast_face.avg_pool2d_backward(grad_y, shape, kernel, kernel, (0, 0))
    assert grad_x.dtype == np.float32
    np.testing.assert_allclose(grad_x, reference.avg_pool2d_backward(grad_y, shape, kernel, kernel, (0, 0)),
                               rtol=1e-6, atol=1e-6)


def without_fused_loops(monkeypatch, fn):
    """fn() with the reference face, so that functional runs its own array code."""
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    try:
        return fn()
    finally:
        monkeypatch.delenv("MINICNN_NUMBA")


def forward_backward(op, *arrays):
    """(op's output, the gradients of its inputs) for a random-looking upstream gradient."""
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    y = op(*tensors)
    (y * Tensor(np.cos(np.arange(y.data.size)).reshape(y.shape).astype(y.data.dtype))).sum().backward()
    return [y.data] + [t.grad for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_sigmoid_agrees_and_keeps_its_dtype(monkeypatch, rng, dtype):
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    x = (rng.standard_normal((4, 3, 5, 6)) * 30).astype(dtype)
    x[0, 0, 0, :4] = [-1000, 1000, 0, np.nan]
    view = x[:, :, ::2]  # a strided view
    got = forward_backward(F.sigmoid, view)
    expected = without_fused_loops(monkeypatch, lambda: forward_backward(F.sigmoid, view))
    assert got[0].dtype == got[1].dtype == dtype
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-6 if dtype == np.float32 else 1e-14, atol=0)
    y, grad = got[0], np.cos(np.arange(got[0].size)).reshape(got[0].shape).astype(dtype)
    np.testing.assert_array_equal(fast_face.sigmoid_backward(grad, y), grad * y * (1 - y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_relu_agrees_and_keeps_its_dtype(monkeypatch, rng, dtype):
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    x = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    x[0, 0, 0, :5] = [-np.inf, np.inf, 0, -0.0, np.nan]
    view = x[:, :, ::2]  # a strided view
    got = forward_backward(F.relu, view)
    expected = without_fused_loops(monkeypatch, lambda: forward_backward(F.relu, view))
    assert got[0].dtype == got[1].dtype == dtype
    np.testing.assert_array_equal(got[0], expected[0])  # NaN in, NaN out, as np.maximum
    np.testing.assert_array_equal(got[1], expected[1])


def test_fused_matmul_agrees_on_transposed_views_and_keeps_float32(rng):
    a = rng.standard_normal((7, 5)).astype(np.float32)
    b = rng.standard_normal((3, 5)).astype(np.float32)
    for left, right in ((a, b.T), (b, a.T), (a.T, a), (a[::2], b[:, ::-1].T[::-1])):
        got = fast_face.matmul(left, right)
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, left @ right, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_matmul_in_column_blocks_on_threads_agrees(monkeypatch, rng, dtype):
    monkeypatch.setattr(tuning, "DENSE_BLOCK_MACS", 1)  # every product in MIN_PARTIALS blocks
    a = rng.standard_normal((6, 9)).astype(dtype)
    b = rng.standard_normal((7, 9)).astype(dtype)
    for left, right in ((a, b.T), (b, a.T), (a.T, a), (a[:, :2], b[:2, :3])):
        np.testing.assert_allclose(fast_face.matmul(left, right), left @ right, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("c_in, c_out, stride, padding, dilation", [
    (1, 6, ONE, (2, 2), ONE),        # LeNet's conv1
    (2, 16, ONE, (0, 1), (2, 1)),    # few channels, dilated
    (12, 11, (2, 1), ONE, ONE),      # many channels, strided
])
def test_convolution_with_bias_agrees_on_both_faces(monkeypatch, rng, c_in, c_out, stride, padding, dilation):
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    x, weight, _ = random_conv(rng, 3, c_in, c_out, 9, (3, 5), stride, padding, dilation)
    bias = rng.standard_normal(c_out)

    def conv(*arrays):
        return F.conv2d(*arrays, stride=stride, padding=padding, dilation=dilation)
    got = forward_backward(conv, x, weight, bias)
    expected = without_fused_loops(monkeypatch, lambda: forward_backward(conv, x, weight, bias))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_agrees_with_the_array_code(monkeypatch, rng, dtype, training):
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    x = (3 + 2 * rng.standard_normal((6, 5, 7, 9))).astype(dtype)
    weight, bias = rng.standard_normal(5).astype(dtype), rng.standard_normal(5).astype(dtype)
    statistics = (rng.standard_normal(5).astype(dtype), (1 + rng.random(5)).astype(dtype))

    def run():
        running = [s.copy() for s in statistics]
        results = forward_backward(lambda *t: F.batch_norm(t[0], *running, t[1], t[2], training=training),
                                   x, weight, bias)
        return results + running
    got = run()
    expected = without_fused_loops(monkeypatch, run)
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    for a, b in zip(got, expected):  # y, dL/dx, dL/dγ, dL/dβ, running mean and variance
        assert a.dtype == dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, **tolerance)


@pytest.mark.parametrize("first, count", [(0, 60), (7, 20), (13, 1), (59, 1)])
@pytest.mark.parametrize("padding, dilation, pad_value", [((1, 2), ONE, 0.0), ((0, 1), (2, 1), -np.inf)])
def test_stride_one_unfold_and_fold_through_shifted_rows_agree(rng, first, count, padding, dilation,
                                                               pad_value):
    # im2col's rows first .. first+count-1 (of 5 channels · 3 · 4 taps), any start within a channel
    x = rng.standard_normal((3, 5, 7, 9))
    kh, kw = 3, 4
    out_hw = reference.output_hw(x.shape[2:], (kh, kw), ONE, padding, dilation)
    settings = (kh, kw, 1, 1, *padding, *dilation, pad_value, *out_hw, first)
    shifted = np.empty((count, 3 * out_hw[0] * out_hw[1]))
    guarded = np.empty_like(shifted)
    unfold._unfold_rows_shifted(x, kh, kw, *padding, *dilation, pad_value, *out_hw, first, shifted)
    unfold._unfold_rows_guarded(x, *settings, guarded)
    np.testing.assert_array_equal(shifted, guarded)
    cols = rng.standard_normal((5 * kh * kw, 3 * out_hw[0] * out_hw[1]))
    folded, expected = np.empty_like(x), np.empty_like(x)
    unfold._fold_shifted(cols, kh, kw, *padding, *dilation, *out_hw, folded)
    unfold._fold_guarded(cols, kh, kw, 1, 1, *padding, *dilation, *out_hw, expected)
    np.testing.assert_allclose(folded, expected, rtol=1e-12, atol=1e-12)
