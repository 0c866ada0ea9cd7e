"""The dense layers' kernels in the Numba face (``cpu_numba`` hands them on): matmul, sigmoid.

The matrix product goes through Numba's ``np.dot``, so it runs on SciPy's OpenBLAS with one
thread, as the convolutions do (``kernels/__init__.py``); NumPy's own BLAS may have been
started with several threads, which on a busy machine made a LeNet-sized product 60–130×
slower. The sigmoid lets NumPy's SIMD exp compute e^-|x| in place and finishes in one pass.
Idea: d2l §3.4 (linear layer), §5.1.2 (sigmoid); see ``reference.py`` for the readable version.
"""
import numpy as np
from numba import njit, prange

from . import reference


@njit(cache=True)
def _dot(a, b):
    return np.dot(a, b)


def matmul(a, b):
    """a · b through Numba, so BLAS runs on one thread as in the convolutions; see reference.matmul."""
    if a.dtype != b.dtype or a.dtype not in (np.float32, np.float64):
        return reference.matmul(a, b)
    return _dot(_contiguous(a), _contiguous(b))


def _contiguous(a):
    """``a`` itself when it, or its transpose, is contiguous (BLAS takes either); else a copy."""
    return a if a.flags.c_contiguous or a.flags.f_contiguous else np.ascontiguousarray(a)


@njit(parallel=True, cache=True)
def _sigmoid_from_exp(x, z, one):
    # z holds e^-|x| on entry and σ(x) on exit: 1/(1+z) where x ≥ 0, z/(1+z) where x < 0
    for k in prange(x.shape[0]):
        z[k] = (one if x[k] >= 0 else z[k]) / (one + z[k])


@njit(parallel=True, cache=True)
def _sigmoid_backward(grad, y, one, out):
    for k in prange(grad.shape[0]):
        out[k] = grad[k] * y[k] * (one - y[k])


def sigmoid(x):
    """σ(x): NumPy's SIMD exp makes e^-|x| in place, one Numba pass the rest; see reference.sigmoid."""
    if x.dtype not in (np.float32, np.float64):
        return reference.sigmoid(x)
    x = np.ascontiguousarray(x)
    z = np.abs(x)
    np.negative(z, out=z)
    np.exp(z, out=z)
    _sigmoid_from_exp(x.reshape(-1), z.reshape(-1), x.dtype.type(1))
    return z


def sigmoid_backward(grad, y):
    """dL/dx = dL/dy · y(1 − y) in one pass; see reference.sigmoid_backward."""
    if grad.dtype != y.dtype or y.dtype not in (np.float32, np.float64):
        return reference.sigmoid_backward(grad, y)
    grad, y = np.ascontiguousarray(grad), np.ascontiguousarray(y)
    out = np.empty(grad.shape, dtype=y.dtype)
    _sigmoid_backward(grad.reshape(-1), y.reshape(-1), out.dtype.type(1), out.reshape(-1))
    return out
