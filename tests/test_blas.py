"""kernels/numba/blas.py: the Numba face's GEMM agrees with NumPy on every layout it accepts,
as the kernels call it (``gemm``, compiled) and as Python code does (``gemm_from_python``, ctypes).

It reaches OpenBLAS through pointers, leading dimensions and transpose flags, so each layout
is a separate way to get an index wrong: transposed views, blocks of larger arrays (rows
contiguous, row stride larger than the width), accumulation, and empty products.
"""
import numba
import numpy as np
import pytest
from numba import njit, prange

from minicnn.kernels.numba import blas
from minicnn.kernels.numba.blas import gemm

DTYPES = [np.float32, np.float64]
GEMMS = pytest.mark.parametrize("gemm", [gemm, blas.gemm_from_python], ids=["numba", "ctypes"])


def tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


def operand(rng, shape, dtype, view):
    """A (rows, columns) operand stored as a C array, a transposed F array, or a block of a larger array."""
    rows, columns = shape
    if view == "transposed":
        return rng.standard_normal((columns, rows)).astype(dtype).T
    if view == "block":
        return rng.standard_normal((rows + 2, columns + 5)).astype(dtype)[1:rows + 1, 3:columns + 3]
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("view_a", ["plain", "transposed", "block"])
@pytest.mark.parametrize("view_b", ["plain", "transposed", "block"])
@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (1, 4, 1), (6, 1, 2), (33, 17, 65)])
@GEMMS
def test_gemm_agrees_with_numpy_on_every_layout(gemm, rng, dtype, view_a, view_b, m, k, n):
    a, b = operand(rng, (m, k), dtype, view_a), operand(rng, (k, n), dtype, view_b)
    out = np.full((m, n), np.nan, dtype)
    gemm(a, b, out)
    np.testing.assert_allclose(out, a.astype(np.float64) @ b.astype(np.float64), **tolerance(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@GEMMS
def test_gemm_writes_a_block_of_a_larger_array_and_nothing_else(gemm, rng, dtype):
    a, b = operand(rng, (4, 6), dtype, "plain"), operand(rng, (6, 3), dtype, "transposed")
    big = np.full((5, 9), 7.0, dtype)
    gemm(a, b, big[1:5, 2:5])
    np.testing.assert_allclose(big[1:5, 2:5], a @ b, **tolerance(dtype))
    untouched = np.ones(big.shape, bool)
    untouched[1:5, 2:5] = False
    assert np.all(big[untouched] == 7.0)


@pytest.mark.parametrize("dtype", DTYPES)
@GEMMS
def test_gemm_accumulates_when_asked(gemm, rng, dtype):
    a, b = operand(rng, (3, 5), dtype, "block"), operand(rng, (5, 4), dtype, "plain")
    start = rng.standard_normal((3, 4)).astype(dtype)
    out = start.copy()
    gemm(a, b, out, True)
    np.testing.assert_allclose(out, start + a @ b, **tolerance(dtype))


@GEMMS
def test_empty_products(gemm, rng):
    out = np.full((2, 3), 5.0, np.float32)
    gemm(np.empty((2, 0), np.float32), np.empty((0, 3), np.float32), out)
    assert np.all(out == 0)  # a sum of no terms
    out[:] = 5.0
    gemm(np.empty((2, 0), np.float32), np.empty((0, 3), np.float32), out, True)
    assert np.all(out == 5.0)
    gemm(np.empty((0, 4), np.float32), np.empty((4, 3), np.float32), np.empty((0, 3), np.float32))


@njit(parallel=True)
def _products_in_parallel(a, b, out):
    for i in prange(b.shape[0]):
        gemm(a, b[i], out[i])


def test_gemm_from_inside_numba_threads(rng):
    # the way the kernels call it: one product per task of a parallel loop
    a = rng.standard_normal((16, 24)).astype(np.float32)
    b = rng.standard_normal((12, 24, 40)).astype(np.float32)
    out = np.empty((12, 16, 40), np.float32)
    _products_in_parallel(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-5)


def test_the_numpy_twin_for_a_disabled_jit_agrees(rng):
    a, b = operand(rng, (6, 5), np.float64, "transposed"), operand(rng, (5, 7), np.float64, "block")
    fast, twin = np.full((6, 7), 1.0), np.full((6, 7), 1.0)
    blas._gemm_blas(a, b, fast, True)
    blas._gemm_numpy(a, b, twin, True)
    np.testing.assert_allclose(fast, twin, rtol=1e-12, atol=1e-12)


def test_minicnn_openblas_runs_one_thread():
    assert blas.OPENBLAS.scipy_openblas_get_num_threads() == 1
    assert numba.config.DISABLE_JIT or gemm is blas._gemm_blas
