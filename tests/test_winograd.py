"""Winograd's F(2×2, 3×3) in the Numba face (kernels/numba/winograd.py) against the reference.

First the mathematics: the three transform matrices reproduce a 3×3 correlation on a 4×4
tile, and the loops' written-out additions are those matrices. Then the convolutions, their
input gradients and their weight gradients agree with the readable im2col face, with the
size thresholds lowered so that small shapes take the Winograd path: odd sizes (a partial
last tile), paddings 0–2, a 1×1 output, several chunks and groups of partial sums.
"""
import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minicnn.functional.conv as C
from minicnn import Tensor, gradcheck
from minicnn.kernels import numba as fast_face
from minicnn.kernels import reference
from minicnn.kernels.numba import conv as numba_conv
from minicnn.kernels.numba import tuning, winograd

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")

ONE = (1, 1)


@pytest.fixture
def winograd_everywhere(monkeypatch):
    """Every 3×3, stride-1 convolution takes the Winograd path, however small."""
    monkeypatch.setattr(tuning, "WINOGRAD_MIN_CHANNELS", 1)
    monkeypatch.setattr(tuning, "WINOGRAD_MIN_PIXELS", 1)
    monkeypatch.setattr(tuning, "WINOGRAD_MIN_EVEN_SIDE", 1)


def correlate_tile(d, g):
    """The 2×2 outputs of a 3×3 filter g on a 4×4 tile d, straight from the definition."""
    return np.array([[np.sum(d[a:a + 3, b:b + 3] * g) for b in range(2)] for a in range(2)])


def test_the_transforms_compute_a_3x3_correlation(rng):
    G, B_T, A_T = winograd.G, winograd.B_T, winograd.A_T
    for _ in range(5):
        d, g = rng.standard_normal((4, 4)), rng.standard_normal((3, 3))
        y = A_T @ ((G @ g @ G.T) * (B_T @ d @ B_T.T)) @ A_T.T
        np.testing.assert_allclose(y, correlate_tile(d, g), rtol=1e-12, atol=1e-12)


def test_the_loops_additions_are_the_matrices(rng):
    d, m, g = rng.standard_normal(4), rng.standard_normal(4), rng.standard_normal(2)
    np.testing.assert_allclose(winograd._b_t(*d), winograd.B_T @ d, rtol=1e-14)
    np.testing.assert_allclose(winograd._a_t(*m), winograd.A_T @ m, rtol=1e-14)
    np.testing.assert_allclose(winograd._a(*g), winograd.A_T.T @ g, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_transform_and_its_adjoint(rng, dtype):
    G = winograd.G
    weight = rng.standard_normal((3, 5, 3, 3)).astype(dtype)
    u = winograd.weight_transform(weight)
    assert u.shape == (16, 3, 5) and u.dtype == dtype
    expected = np.einsum("ia,ocab,jb->ijoc", G, weight.astype(np.float64), G).reshape(16, 3, 5)
    np.testing.assert_allclose(u, expected, rtol=1e-6, atol=1e-6)
    sums = rng.standard_normal((16, 3, 5)).astype(dtype)
    grad = winograd.weight_from_sums(sums)
    assert grad.shape == (3, 5, 3, 3) and grad.dtype == dtype
    expected = np.einsum("ia,ijoc,jb->ocab", G, sums.astype(np.float64).reshape(4, 4, 3, 5), G)
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)
    # adjoint: <U(w), S> = <w, Uᵀ(S)>, the identity the weight gradient rests on
    np.testing.assert_allclose(np.sum(u.astype(np.float64) * sums), np.sum(weight * grad.astype(np.float64)),
                               rtol=1e-5)


def conv_products(face, x, weight, grad_y, padding):
    return (face.conv2d(x, weight, ONE, padding, ONE),
            face.conv_transpose2d(grad_y, weight, x.shape[2:], ONE, padding, ONE),
            face.conv2d_weight(x, grad_y, (3, 3), ONE, padding, ONE))


def random_case(rng, n, c_in, c_out, height, width, padding, dtype=np.float64):
    x = rng.standard_normal((n, c_in, height, width)).astype(dtype)
    weight = rng.standard_normal((c_out, c_in, 3, 3)).astype(dtype)
    out_hw = reference.output_hw(x.shape[2:], (3, 3), ONE, padding)
    return x, weight, rng.standard_normal((n, c_out, *out_hw)).astype(dtype)


@pytest.mark.parametrize("n, c_in, c_out, height, width, padding", [
    (2, 3, 4, 9, 8, ONE),  # odd output height: the last tile row is half outside
    (3, 5, 2, 7, 7, (0, 0)),
    (1, 2, 3, 5, 6, (2, 2)),  # the input gradient then pads by 0
    (2, 4, 4, 6, 5, (0, 2)),
    (4, 3, 5, 1, 1, ONE),  # a 1×1 output: one tile, three quarters outside
    (2, 6, 3, 3, 3, (1, 0)),  # a one-column output
])
def test_winograd_convolutions_agree_with_the_reference(rng, winograd_everywhere, n, c_in,
                                                         c_out, height, width, padding):
    args = random_case(rng, n, c_in, c_out, height, width, padding)
    for got, expected in zip(conv_products(fast_face, *args, padding),
                             conv_products(reference, *args, padding)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    single = [a.astype(np.float32) for a in args]
    for got, expected in zip(conv_products(fast_face, *single, padding),
                             conv_products(reference, *args, padding)):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * (np.abs(expected).max() + 1))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 9), st.integers(1, 9),
       st.integers(0, 2), st.integers(0, 2), st.integers(0, 2 ** 31))
def test_winograd_agrees_on_random_shapes(winograd_everywhere, n, c_in, c_out, height, width,
                                          ph, pw, seed):
    height, width = max(height, 3 - 2 * ph), max(width, 3 - 2 * pw)  # at least a 1×1 output
    args = random_case(np.random.default_rng(seed), n, c_in, c_out, height, width, (ph, pw),
                       np.float32)
    expected = conv_products(reference, *[a.astype(np.float64) for a in args], (ph, pw))
    for got, want in zip(conv_products(fast_face, *args, (ph, pw)), expected):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * (np.abs(want).max() + 1))


@pytest.mark.parametrize("chunk_bytes, partial_bytes", [(1 << 20, 1 << 25), (1, 1 << 25), (1, 1)])
def test_winograd_in_chunks_and_groups_agrees(monkeypatch, rng, winograd_everywhere, chunk_bytes,
                                              partial_bytes):
    # tiny budgets: one image per chunk, and one chunk per group of partial weight gradients
    monkeypatch.setattr(tuning, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(tuning, "PARTIAL_BYTES", partial_bytes)
    monkeypatch.setattr(tuning, "MIN_COLUMNS", 1)
    args = random_case(rng, 7, 4, 3, 6, 7, ONE)
    for got, expected in zip(conv_products(fast_face, *args, ONE),
                             conv_products(reference, *args, ONE)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_winograd_weight_gradient_does_not_depend_on_the_thread_count(rng, winograd_everywhere):
    x, weight, grad_y = random_case(rng, 24, 6, 5, 8, 8, ONE, np.float32)
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(fast_face.conv2d_weight(x, grad_y, (3, 3), ONE, ONE, ONE))
    finally:
        numba.set_num_threads(before)
    for result in results[1:]:
        np.testing.assert_array_equal(result, results[0])


def test_winograd_gradcheck(rng, winograd_everywhere):
    x = Tensor(rng.standard_normal((2, 3, 5, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    b = Tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda *t: C.conv2d(*t, padding=1), [x, w, b])
    wt = Tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert gradcheck(lambda a, c: C.conv_transpose2d(a, c, padding=2), [x, wt])


@pytest.mark.parametrize("c_in, c_out, kernel, stride, dilation, out_hw, expected", [
    (64, 64, (3, 3), ONE, ONE, (24, 24), True),  # the benchmark's layers
    (128, 128, (3, 3), ONE, ONE, (12, 12), True),
    (64, 64, (3, 3), (2, 2), ONE, (12, 12), False),  # strided: im2col
    (64, 64, (3, 3), ONE, (2, 2), (24, 24), False),  # dilated
    (64, 64, (5, 5), ONE, ONE, (24, 24), False),
    (16, 64, (3, 3), ONE, ONE, (24, 24), False),  # too few channels: the transforms dominate
    (256, 256, (3, 3), ONE, ONE, (6, 6), True),  # ResNet-18's third stage at 96 × 96
    (512, 512, (3, 3), ONE, ONE, (3, 3), False),  # 2 × 2 tiles: 7 of their 16 outputs wasted
    (128, 128, (3, 3), ONE, ONE, (4, 4), True),  # even sides: the tiles waste nothing
    (192, 32, (3, 3), ONE, ONE, (4, 4), True),  # DenseNet's last block at 32 × 32
    (512, 512, (3, 3), ONE, ONE, (2, 2), False),  # one tile: 12 of its 16 inputs are padding
    (128, 128, (3, 3), ONE, ONE, (5, 4), False),
])
def test_winograd_is_chosen_where_it_pays_off(c_in, c_out, kernel, stride, dilation, out_hw,
                                              expected):
    assert numba_conv._winograd_pays_off(c_in, c_out, kernel, stride, dilation, out_hw) is expected
