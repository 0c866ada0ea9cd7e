"""The matrix product of the Numba face: OpenBLAS's GEMM, called from inside Numba's threads.

The fused loops (im2col + GEMM, Winograd's 16 products, the dense layers) multiply matrices
inside their own parallel tasks, so each product must run on one thread. minicnn loads its
own copy of OpenBLAS for that (the ``scipy-openblas32`` wheel, the build NumPy and SciPy
ship) and sets it to one thread after loading, leaving NumPy's and SciPy's BLAS and the
environment as the user configured them. (Loading still starts the thread pool that
OPENBLAS_NUM_THREADS, or the core count, asks for; set to one thread, it never wakes them.)
Numba's own ``np.dot`` would call SciPy's OpenBLAS instead, with whatever threads the user
gave it, each competing with Numba's for the cores. ``gemm`` reaches ``cblas_sgemm``/``cblas_dgemm`` by name, as a C function Numba
links against (``numba.types.ExternalFunction``), so the kernels that call it stay cached.
It is inlined into each kernel that calls it: compiled on its own, it was compiled again
for every combination of array layouts it met (a transposed view, a block). Python code
calls the same functions through ctypes instead (``gemm_from_python``): nothing to compile.

``gemm`` takes any 2-D float array whose rows or columns are contiguous, transposed views
included, writes into a given output (a block of a larger array is fine) and can add to it
instead of overwriting: no copies, no temporary arrays. With ``NUMBA_DISABLE_JIT=1`` it is
NumPy's matmul, so that the kernels can be stepped through as Python.
Idea: Goto & van de Geijn (2008), "Anatomy of High-Performance Matrix Multiplication"
(OpenBLAS descends from GotoBLAS); Numba's "Calling C code" (ctypes and external functions).
"""
import ctypes
from pathlib import Path

import llvmlite.binding as llvm
import numba
import numpy as np
import scipy_openblas32
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # the CBLAS enumerations


def _load_openblas():
    """OpenBLAS from the scipy-openblas32 wheel, set to one thread whatever the environment says."""
    folder = Path(scipy_openblas32.get_lib_dir())
    found = sorted(p for p in folder.iterdir()
                   if p.name.startswith("libscipy_openblas") and p.suffix in (".so", ".dylib", ".dll"))
    if not found:
        raise ImportError(f"minicnn: no OpenBLAS library in {folder}; reinstall scipy-openblas32")
    library = ctypes.CDLL(str(found[0]))
    library.scipy_openblas_set_num_threads(1)
    return library


def _cblas_gemm(library, name, real):
    """The C function ``library.name`` (a CBLAS ?gemm on ``real`` numbers), callable from Numba."""
    llvm.add_symbol(f"minicnn_{name}", ctypes.cast(getattr(library, name), ctypes.c_void_p).value)
    enum, size, pointer = types.int32, types.int32, types.voidptr
    return types.ExternalFunction(f"minicnn_{name}", types.void(
        enum, enum, enum, size, size, size, real, pointer, size, pointer, size, real, pointer, size))


OPENBLAS = _load_openblas()
_sgemm = _cblas_gemm(OPENBLAS, "scipy_cblas_sgemm", types.float32)
_dgemm = _cblas_gemm(OPENBLAS, "scipy_cblas_dgemm", types.float64)


def _ctypes_gemm(function, real):
    """The CBLAS ?gemm ``function`` with its C argument types, for calls from Python."""
    enum, size, pointer = ctypes.c_int, ctypes.c_int, ctypes.c_void_p
    function.argtypes = (enum, enum, enum, size, size, size, real, pointer, size, pointer, size, real,
                         pointer, size)
    function.restype = None
    return function


_SGEMM = _ctypes_gemm(OPENBLAS.scipy_cblas_sgemm, ctypes.c_float)
_DGEMM = _ctypes_gemm(OPENBLAS.scipy_cblas_dgemm, ctypes.c_double)


@intrinsic
def _address(typingctx, array):
    # the address of array's first element, as a C void*
    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        return builder.bitcast(data, cgutils.voidptr_t)
    return types.voidptr(array), codegen


def _layout(a):
    # (CBLAS transpose flag, leading dimension) of a 2-D array whose rows or columns are contiguous
    if a.strides[1] == a.itemsize or a.shape[1] == 1:
        return NO_TRANS, max(1, a.shape[1], a.strides[0] // a.itemsize)
    return TRANS, max(1, a.shape[0], a.strides[1] // a.itemsize)


_layout_inlined = njit(cache=True, inline='always')(_layout)


@njit(cache=True, inline='always')
def _gemm_blas(a, b, out, accumulate=False):
    """out = a · b, or out += a · b with ``accumulate``, for float32 or float64 arrays of one
    dtype: a (M, K) and b (K, N) each with contiguous rows or columns, out (M, N) with
    contiguous rows, all with positive strides (BLAS has no other layouts)."""
    _gemm_any_layout(a[:, :], b[:, :], out[:, :], 1.0 if accumulate else 0.0)


@njit(cache=True)
def _gemm_any_layout(a, b, out, beta):
    # out = a · b + beta · out for arrays typed with any layout ('A') and a float beta (not a
    # literal True or False): one compilation per dtype serves rows, transposes and blocks alike
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if m == 0 or n == 0:
        return
    trans_a, lda = _layout_inlined(a)
    trans_b, ldb = _layout_inlined(b)
    ldc = max(1, n, out.strides[0] // out.itemsize)
    if out.itemsize == 4:
        _sgemm(ROW_MAJOR, trans_a, trans_b, m, n, k, np.float32(1), _address(a), lda,
               _address(b), ldb, np.float32(beta), _address(out), ldc)
    else:
        _dgemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, _address(a), lda, _address(b), ldb,
               beta, _address(out), ldc)


def gemm_from_python(a, b, out, accumulate=False):
    """``gemm`` for NumPy arrays in Python code, through ctypes: the same OpenBLAS call, uncompiled."""
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    if m == 0 or n == 0:
        return
    trans_a, lda = _layout(a)
    trans_b, ldb = _layout(b)
    ldc = max(1, n, out.strides[0] // out.itemsize)
    call = _SGEMM if out.itemsize == 4 else _DGEMM
    call(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb,
         1.0 if accumulate else 0.0, out.ctypes.data, ldc)


def _gemm_numpy(a, b, out, accumulate=False):
    """_gemm_blas in NumPy, for NUMBA_DISABLE_JIT=1."""
    if accumulate:
        out += a @ b
    else:
        np.matmul(a, b, out=out)


gemm = _gemm_numpy if numba.config.DISABLE_JIT else _gemm_blas
