"""The kernel faces agree: Numba (kernels/numba/) against the readable reference, on random shapes.

im2col and max pooling move values without arithmetic, so they must agree exactly (argmax
included); col2im and the pools add a few numbers, so 1e-6 in float32. The convolution
products sum hundreds of terms in a different order (GEMM, batch slices), so they
are compared in float64 to 1e-10 and in float32 to 1e-5 of the output's scale.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import kernels
from minicnn.kernels import numba as fast_face
from minicnn.kernels import reference

pytestmark = pytest.mark.filterwarnings("ignore::numba.NumbaPerformanceWarning")


@st.composite
def geometries(draw, max_channels=4):
    """A random image batch and window geometry whose output is at least 1x1."""
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    span = [dilation[a] * (kernel[a] - 1) + 1 for a in (0, 1)]
    height = draw(st.integers(max(1, span[0] - 2 * padding[0]), 12))
    width = draw(st.integers(max(1, span[1] - 2 * padding[1]), 12))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, max_channels)), height, width)
    return shape, kernel, stride, padding, dilation


@st.composite
def pool_geometries(draw):
    """A random batch and pooling window (padding at most half the kernel, as PyTorch asks)."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    height = draw(st.integers(max(1, kernel[0] - 2 * padding[0]), 11))
    width = draw(st.integers(max(1, kernel[1] - 2 * padding[1]), 11))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), height, width)
    return shape, kernel, stride, padding


def _out_hw(shape, kernel, stride, padding, dilation=(1, 1)):
    return reference.output_hw(shape[2:], kernel, stride, padding, dilation)


@settings(max_examples=40, deadline=None)
@given(geometries(), st.integers(0, 2 ** 31))
def test_im2col_and_col2im_agree(geometry, seed):
    shape, kernel, stride, padding, dilation = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    for pad_value in (0.0, -np.inf):
        expected = reference.im2col(x, kernel, stride, padding, dilation, pad_value)
        got = fast_face.im2col(x, kernel, stride, padding, dilation, pad_value)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)
    cols = rng.standard_normal(expected.shape).astype(np.float32)
    folded = fast_face.col2im(cols, shape, kernel, stride, padding, dilation)
    assert folded.dtype == np.float32
    np.testing.assert_allclose(folded, reference.col2im(cols, shape, kernel, stride, padding,
                                                         dilation), rtol=1e-6, atol=1e-6)


def _conv_products(face, x, weight, grad_y, kernel, stride, padding, dilation):
    return (face.conv2d(x, weight, stride, padding, dilation),
            face.conv_transpose2d(grad_y, weight, x.shape[2:], stride, padding, dilation),
            face.conv2d_weight(x, grad_y, kernel, stride, padding, dilation))


@settings(max_examples=40, deadline=None)
@given(geometries(max_channels=12), st.integers(1, 12), st.integers(0, 2 ** 31))
def test_convolution_products_agree(geometry, c_out, seed):
    # channel counts up to 12, through the Numba face's im2col + GEMM
    shape, kernel, stride, padding, dilation = geometry
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    weight = rng.standard_normal((c_out, shape[1]) + kernel)
    grad_y = rng.standard_normal((shape[0], c_out) + _out_hw(shape, kernel, stride, padding, dilation))
    args = (x, weight, grad_y, kernel, stride, padding, dilation)
    for got, expected in zip(_conv_products(fast_face, *args), _conv_products(reference, *args)):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
    single = [a.astype(np.float32) for a in args[:3]] + list(args[3:])
    for got, expected in zip(_conv_products(fast_face, *single), _conv_products(reference, *args)):
        assert got.dtype == np.float32
        scale = np.abs(expected).max() + 1
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5 * scale)


@pytest.mark.parametrize("c_in, c_out", [(1, 6), (6, 16), (64, 8)])
def test_lenet_sized_convolutions_agree(rng, c_in, c_out):
    # LeNet's two layers and a wider one, by im2col + GEMM in batch slices
    x = rng.standard_normal((3, c_in, 14, 13)).astype(np.float32)
    weight = rng.standard_normal((c_out, c_in, 5, 5)).astype(np.float32)
    grad_y = rng.standard_normal((3, c_out, 12, 11)).astype(np.float32)
    args = (x, weight, grad_y, (5, 5), (1, 1), (1, 1), (1, 1))
    for got, expected in zip(_conv_products(fast_face, *args), _conv_products(reference, *args)):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


@settings(max_examples=40, deadline=None)
@given(pool_geometries(), st.integers(0, 2 ** 31))
def test_pooling_agrees(geometry, seed):
    shape, kernel, stride, padding = geometry
    rng = np.random.default_rng(seed)
    # small integers make ties common: the first maximum must win in both faces
    x = rng.integers(-3, 4, size=shape).astype(np.float32)
    y, argmax = fast_face.max_pool2d(x, kernel, stride, padding)
    y_ref, argmax_ref = reference.max_pool2d(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    grad_y = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(
        fast_face.max_pool2d_backward(grad_y, argmax, shape, kernel, stride, padding),
        reference.max_pool2d_backward(grad_y, argmax_ref, shape, kernel, stride, padding),
        rtol=1e-6, atol=1e-6)
    x = rng.standard_normal(shape).astype(np.float32)
    mean = fast_face.avg_pool2d(x, kernel, stride, padding)
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, reference.avg_pool2d(x, kernel, stride, padding),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        fast_face.avg_pool2d_backward(grad_y, shape, kernel, stride, padding),
        reference.avg_pool2d_backward(grad_y, shape, kernel, stride, padding),
        rtol=1e-6, atol=1e-6)


def test_max_pool_argmax_is_a_flat_index_into_the_input_plane():
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0], [4.0, 8.0, 6.0]]).reshape(1, 1, 3, 3)
    for face in (reference, fast_face):
        y, argmax = face.max_pool2d(x, (2, 2), (1, 1), (0, 0))
        np.testing.assert_array_equal(y[0, 0], [[7.0, 5.0], [8.0, 8.0]])
        np.testing.assert_array_equal(argmax[0, 0], [[3, 1], [7, 7]])


def test_max_pool_nan_wins_its_window():
    x = np.array([[1.0, np.nan], [3.0, 2.0]]).reshape(1, 1, 2, 2)
    for face in (reference, fast_face):
        y, argmax = face.max_pool2d(x, (2, 2), (2, 2), (0, 0))
        assert np.isnan(y[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1


def test_dispatcher_picks_numba_unless_told_not_to(monkeypatch):
    x = np.zeros((1, 1, 2, 2))
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    assert kernels.face(x) is fast_face
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    assert kernels.face(x) is reference


def test_dispatcher_results_match_between_faces(monkeypatch, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    weight = rng.standard_normal((4, 3, 3, 3))
    fast = kernels.conv2d(x, weight, (1, 2), (1, 1), (1, 1))
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    np.testing.assert_allclose(kernels.conv2d(x, weight, (1, 2), (1, 1), (1, 1)), fast, atol=1e-12)


def test_kernels_run_with_the_jit_disabled():
    """NUMBA_DISABLE_JIT=1 turns the Numba face into plain Python, for stepping through it."""
    script = textwrap.dedent("""
        import numpy as np
        from minicnn.kernels import numba as fast, reference as ref
        rng = np.random.default_rng(0)
        x, w, g = (rng.standard_normal(s) for s in ((2, 2, 5, 4), (3, 2, 3, 3), (2, 3, 5, 4)))
        window = ((1, 1), (1, 1), (1, 1))
        assert np.allclose(fast.conv2d(x, w, *window), ref.conv2d(x, w, *window))
        assert np.allclose(fast.conv_transpose2d(g, w, (5, 4), *window),
                           ref.conv_transpose2d(g, w, (5, 4), *window))
        assert np.allclose(fast.conv2d_weight(x, g, (3, 3), *window),
                           ref.conv2d_weight(x, g, (3, 3), *window))
        pool = ((2, 2), (1, 2), (1, 0))
        assert all(np.array_equal(a, b) for a, b in zip(fast.max_pool2d(x, *pool), ref.max_pool2d(x, *pool)))
        assert np.allclose(fast.avg_pool2d(x, *pool), ref.avg_pool2d(x, *pool))
        print("ok")
    """)
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


@pytest.mark.parametrize("in_hw, kernel, stride, padding, dilation", [
    ((28, 28), (5, 5), (1, 1), (2, 2), (1, 1)), ((7, 9), (3, 2), (2, 3), (1, 0), (2, 1)),
    ((224, 224), (11, 11), (4, 4), (1, 1), (1, 1)), ((5, 5), (5, 5), (1, 1), (0, 0), (1, 1)),
])
def test_output_hw_is_the_shape_pytorch_gives(in_hw, kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    y = torch.nn.functional.conv2d(torch.zeros((1, 1) + in_hw), torch.zeros((1, 1) + kernel),
                                   stride=stride, padding=padding, dilation=dilation)
    assert kernels.output_hw(in_hw, kernel, stride, padding, dilation) == tuple(y.shape[2:])


def test_fused_loops_are_optional_and_only_for_one_float_dtype(monkeypatch):
    x32, x64 = np.ones((2, 3), np.float32), np.ones((2, 3))
    monkeypatch.delenv("MINICNN_NUMBA", raising=False)
    assert kernels.fused("matmul", x32, x32) is fast_face.matmul
    assert kernels.fused("matmul", x32, x64) is None  # mixed dtypes: the caller's array code
    assert kernels.fused("sigmoid", x32.astype(np.float16)) is None
    monkeypatch.setenv("MINICNN_NUMBA", "0")
    assert kernels.fused("matmul", x64, x64) is None  # the reference face has none
    with pytest.raises(ValueError, match="not one of the optional fused ops"):
        kernels.fused("conv2d", x64)


def test_a_first_compilation_is_announced_once(tmp_path):
    # a fresh Numba cache: the first process compiles (and says so, once), the second loads
    script = textwrap.dedent("""
        import numpy as np
        from minicnn.kernels import numba as fast
        x = np.ones((1, 1, 4, 4), dtype=np.float32)
        fast.avg_pool2d(x, (2, 2), (2, 2), (0, 0))
        fast.max_pool2d(x, (2, 2), (2, 2), (0, 0))
    """)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                           timeout=300) for _ in range(2)]
    assert all(run.returncode == 0 for run in runs), runs[0].stderr + runs[1].stderr
    assert runs[0].stderr.count("compiling the CPU kernels, first run only") == 1
    assert "compiling" not in runs[1].stderr
