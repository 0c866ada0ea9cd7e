"""The dense layers' and activations' fused loops in the Numba face: matmul, sigmoid, ReLU.

The matrix product runs on minicnn's own one-thread OpenBLAS (``blas.gemm_from_python``), as
the convolutions do, whatever thread count NumPy's BLAS was started with (several threads
spinning on a busy machine make small products many times slower). A large product (VGG's and
AlexNet's 4096-wide layers) is cut into blocks of output columns, multiplied side by side on
as many Python threads as Numba has: ctypes lets go of the GIL during each call. The sigmoid computes
its own e^-|x| in the same parallel loop (``_exp_nonpositive``):
Numba has no vector ``exp`` (without Intel's SVML, ``math.exp`` is one libm call per
element), but range reduction, a polynomial and a few bit operations are plain arithmetic
that LLVM turns into SIMD instructions. ReLU and its gradient are one parallel pass each,
where NumPy's ``maximum`` takes three times as long on one core.
Idea: d2l §3.4 (linear layer), §5.1.2 (sigmoid); the readable versions are in ``functional/``.
"""
import math
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from . import tuning
from .blas import gemm_from_python


def matmul(a, b):
    """a · b of 2-D float arrays of one dtype on minicnn's one-thread OpenBLAS, as in the
    convolutions; a large product in blocks of output columns, one thread each."""
    a, b = _contiguous(a), _contiguous(b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    blocks = min(b.shape[1], tuning.MIN_PARTIALS, max(1, a.size * b.shape[1] // tuning.DENSE_BLOCK_MACS))
    if blocks == 1:
        gemm_from_python(a, b, out)
        return out
    edges = np.linspace(0, b.shape[1], blocks + 1).astype(int)  # the shapes decide, not the threads
    calls = [_threads().submit(gemm_from_python, a, b[:, j0:j1], out[:, j0:j1])
             for j0, j1 in zip(edges[:-1], edges[1:])]
    for call in calls:
        call.result()
    return out


_pool = None


def _threads():
    """The Python threads that run the blocks of a large product: as many as Numba's, started
    on first use."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(numba.get_num_threads(), thread_name_prefix="minicnn-gemm")
    return _pool


def _contiguous(a):
    """``a`` itself when it, or its transpose, is contiguous (BLAS takes either); else a copy."""
    return a if a.flags.c_contiguous or a.flags.f_contiguous else np.ascontiguousarray(a)


_ExpConstants = namedtuple("_ExpConstants", "lowest log2e ln2_hi ln2_lo shift taylor")


def _exp_constants(dtype, lowest, ln2_hi, ln2_lo, degree):
    """The constants of ``_exp_nonpositive`` in one float type: each is of that type."""
    taylor = tuple(dtype(1 / math.factorial(k)) for k in range(degree, -1, -1))  # 1/k!, k falling
    mantissa_bits = np.finfo(dtype).nmant
    return _ExpConstants(dtype(lowest), dtype(1 / math.log(2)), dtype(ln2_hi),
                         dtype(ln2_lo), dtype(1.5 * 2**mantissa_bits), taylor)


# ln 2 = ln2_hi + ln2_lo: ln2_hi has so few bits that n·ln2_hi is exact for every n used here
# (Cephes' and fdlibm's splits). Below `lowest`, e^t rounds to zero. The Taylor polynomial's
# remainder on |r| ≤ ln2/2 is under 0.1 ulp: degree 7 in float32, 13 in float64.
_EXP32 = _exp_constants(np.float32, -110.0, 0.693359375, -2.12194440e-4, degree=7)
_EXP64 = _exp_constants(np.float64, -750.0, 6.93147180369123816490e-01,
                        1.90821492927058770002e-10, degree=13)


def _constants(like):
    """``_EXP32`` or ``_EXP64``: the constants in the float type of ``like`` (plain Python)."""
    return _EXP32 if like.dtype == np.float32 else _EXP64


@overload(_constants)
def _constants_folded(like):
    """``_constants`` in Numba: chosen while compiling, then folded in as constants."""
    constants = _EXP32 if like == types.float32 else _EXP64
    return lambda like: constants


def _ldexp(p, n):
    """p·2^n for an integer-valued float n (plain Python; Numba compiles the overload below)."""
    return np.ldexp(p, int(n))


@overload(_ldexp)
def _ldexp_from_bits(p, n):
    """``_ldexp`` in Numba, for p ≈ 1 and 0 ≥ n ≥ −190 in float32 (≥ −1086 in float64).

    The bits of 2^m are its biased exponent m + bias above a zero mantissa. p·2^n is computed as
    (p·2^(n+64))·2^-64: the first product is exact and normal even where p·2^n is subnormal,
    so only the second one rounds.
    """
    if p == types.float32:  # 8 exponent bits (bias 127) above 23 mantissa bits
        tiny = np.float32(2.0**-64)
        return lambda p, n: p * np.int32((np.int32(n) + 127 + 64) << 23).view(np.float32) * tiny
    tiny = 2.0**-64  # float64: 11 exponent bits (bias 1023) above 52 mantissa bits
    return lambda p, n: p * np.int64((np.int64(n) + 1023 + 64) << 52).view(np.float64) * tiny


@njit(cache=True, fastmath={"contract"})
def _exp_nonpositive(t):
    """e^t for t ≤ 0 (or NaN), to within 1 ulp, in t's float type (float32 or float64).

    Range reduction (Cody & Waite 1980, "Software Manual for the Elementary Functions"; Muller,
    "Elementary Functions", ch. 11): with n = round(t / ln 2) and r = t − n·ln 2, e^t = 2^n · e^r
    and |r| ≤ ln2/2, where a short polynomial is accurate. r is t − n·ln2_hi − n·ln2_lo: the
    first product is exact, so r keeps the bits that t − n·ln 2 in one step would cancel away.
    Adding ``shift`` = 1.5·2^mantissa_bits rounds t/ln 2 to an integer in the float unit itself,
    and ``_ldexp`` scales by 2^n through the exponent bits. No branches: LLVM makes it SIMD.
    """
    c = _constants(t)
    tc = t if t > c.lowest else c.lowest  # −inf and NaN become `lowest`, where e^t is 0
    n = (tc * c.log2e + c.shift) - c.shift  # round(t·log2 e), an integer as a float
    r = (tc - n * c.ln2_hi) - n * c.ln2_lo
    p = c.taylor[0]
    for a in c.taylor[1:]:  # Horner's rule: e^r ≈ Σ r^k / k!
        p = p * r + a
    return _ldexp(p, n) if t == t else t  # NaN in, NaN out


@njit(parallel=True, cache=True)
def _sigmoid(x, one, out):
    for k in prange(x.shape[0]):
        z = _exp_nonpositive(-abs(x[k]))  # z = e^-|x| ≤ 1 never overflows
        # σ(x) = 1/(1+z) for x ≥ 0 and z/(1+z) for x < 0, since σ(−x) = 1 − σ(x)
        out[k] = (one if x[k] >= 0 else z) / (one + z)


# σ'(x) = σ(x)(1 − σ(x)): the backward pass needs only the output y
@njit(parallel=True, cache=True)
def _sigmoid_backward(grad, y, one, out):
    for k in prange(grad.shape[0]):
        out[k] = grad[k] * y[k] * (one - y[k])


def _elementwise(loop, constant, *arrays):
    """loop(*arrays flattened, constant in their dtype, out): a parallel loop over the elements
    of arrays of one shape and dtype, into a new array of that shape and dtype."""
    out = np.empty(arrays[0].shape, dtype=arrays[0].dtype)  # before ascontiguousarray, which makes 0-d 1-d
    loop(*(np.ascontiguousarray(a).reshape(-1) for a in arrays), out.dtype.type(constant), out.reshape(-1))
    return out


def sigmoid(x):
    """σ(x) in one parallel SIMD loop, e^-|x| included; see ``functional.activation``."""
    return _elementwise(_sigmoid, 1, x)


def sigmoid_backward(grad, y):
    """dL/dx = dL/dy · y(1 − y) in one pass; see ``functional.activation``."""
    return _elementwise(_sigmoid_backward, 1, grad, y)


@njit(parallel=True, cache=True)
def _relu(x, zero, out):
    for k in prange(x.shape[0]):
        out[k] = zero if x[k] <= zero else x[k]  # NaN stays NaN, as in np.maximum(x, 0)


# d relu(x)/dx = 1 where x > 0, else 0; y > 0 exactly where x > 0
@njit(parallel=True, cache=True)
def _relu_backward(grad, y, zero, out):
    for k in prange(grad.shape[0]):
        out[k] = grad[k] if y[k] > zero else zero


def relu(x):
    """max(x, 0) in one parallel pass; see ``functional.activation``."""
    return _elementwise(_relu, 0, x)


def relu_backward(grad, y):
    """dL/dx = dL/dy where y = relu(x) > 0, else 0, in one parallel pass."""
    return _elementwise(_relu_backward, 0, grad, y)
