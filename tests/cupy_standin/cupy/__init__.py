"""A strict stand-in for the part of CuPy that minicnn uses, on NumPy and g++ (tests only).

It is installed as ``cupy`` (and ``cupyx``) for a test session when the real CuPy is absent,
so the cupy backend's code runs on a CPU machine and fails where CuPy would fail: see
``_array`` for the wall between device and host arrays, ``_kernel`` for the CUDA kernels
(compiled for the host) and ``cuda`` for the one pretend device. A name CuPy has that the
stand-in lacks raises NotImplementedError naming it.
"""
import numpy as _numpy

from . import cuda, random  # noqa: F401
from ._array import NotProvided, launches, ndarray, not_provided  # noqa: F401
from ._functions import FUNCTIONS as _FUNCTIONS
from ._functions import asnumpy, get_array_module  # noqa: F401
from ._kernel import RawKernel  # noqa: F401

__version__ = "14.0.0+standin"
STANDIN = True

globals().update(_FUNCTIONS)

# dtypes and constants are NumPy's own objects in CuPy too
for _name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
              "uint16", "uint32", "uint64", "bool_", "intp", "complex64", "complex128",
              "dtype", "generic", "number", "integer", "signedinteger", "floating",
              "result_type", "can_cast", "promote_types", "issubdtype", "finfo", "iinfo",
              "newaxis", "inf", "nan", "pi", "e"):
    globals()[_name] = getattr(_numpy, _name)
del _name


def __getattr__(name):
    raise not_provided(f"cupy.{name}")
