"""The stand-in's functions: the part of CuPy's namespace that minicnn and its tests use.

Each is NumPy's function behind the wall of ``_array``: device arrays in, device arrays out,
a NumPy array among the operands refused. Only the creation functions take host data
(``array``, ``asarray``: the host-to-device copies). Every name here exists in CuPy.
"""
import numpy

from ._array import _index, launches, ndarray, unwrap, wrap

UFUNC_NAMES = (
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power", "negative",
    "positive", "absolute", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt",
    "square", "reciprocal", "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos",
    "arctan", "arctan2", "arctanh", "maximum", "minimum", "fmax", "fmin", "sign", "floor", "ceil",
    "trunc", "rint", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not",
    "logical_xor", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "remainder", "mod", "fmod", "invert", "bitwise_and", "bitwise_or", "bitwise_xor",
    "left_shift", "right_shift", "signbit", "copysign", "hypot", "matmul",
)

STRICT_FUNCTION_NAMES = (
    "all", "allclose", "amax", "amin", "any", "argmax", "argmin", "argsort", "around",
    "array_equal", "array_split", "atleast_1d", "atleast_2d", "average", "bincount",
    "broadcast_arrays", "broadcast_to", "clip", "concatenate", "copy", "count_nonzero", "cumprod",
    "cumsum", "diag", "diagonal", "diff", "dot", "einsum", "empty_like", "expand_dims", "flip",
    "full_like", "hstack", "isclose", "max", "mean", "median", "meshgrid", "min", "moveaxis",
    "nan_to_num", "ndim", "nonzero", "ones_like", "outer", "pad", "prod", "ptp",
    "put_along_axis", "ravel", "repeat", "reshape", "roll", "round", "searchsorted", "shape",
    "size", "sort", "split", "squeeze", "stack", "std", "sum", "swapaxes", "take",
    "take_along_axis", "tensordot", "tile", "trace", "transpose", "tril", "triu", "unique",
    "var", "vstack", "where", "zeros_like",
)

CREATION_NAMES = ("empty", "zeros", "ones", "full", "arange", "linspace", "eye", "identity")
ALLOCATIONS = ("empty", "empty_like")  # memory from the pool, no kernel: not counted as launches


class ufunc:
    """A CuPy ufunc: called on device arrays; ``at`` and ``reduce`` as NumPy's."""

    def __init__(self, name):
        self.__name__ = self.name = name
        self._numpy = getattr(numpy, name)

    def __call__(self, *args, **kwargs):
        launches[self.name] += 1
        return wrap(self._numpy(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"cupy.{self.name}.at needs a cupy.ndarray target, got {type(a)}")
        launches[self.name + ".at"] += 1
        args = () if b is None else (unwrap(b),)
        self._numpy.at(a._array, _index(indices), *args)

    def reduce(self, a, *args, **kwargs):
        launches[self.name + ".reduce"] += 1
        return wrap(self._numpy.reduce(unwrap(a), *args, **kwargs))

    def __repr__(self):
        return f"<ufunc '{self.name}'>"


def _strict(name):
    numpy_function = getattr(numpy, name)

    def function(*args, **kwargs):
        if name not in ALLOCATIONS:
            launches[name] += 1
        return wrap(numpy_function(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()}))
    function.__name__ = name
    function.__doc__ = f"numpy.{name} on stand-in device arrays (NumPy arrays refused)."
    return function


def _creation(name):
    numpy_function = getattr(numpy, name)

    def function(*args, **kwargs):
        if name not in ALLOCATIONS:
            launches[name] += 1
        return wrap(numpy_function(*args, **kwargs))
    function.__name__ = name
    return function


def _host_or_device(value):
    """Data for a new device array: device arrays unwrapped, host data (NumPy, lists) as is."""
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, (list, tuple)):
        return type(value)(_host_or_device(v) for v in value)
    return value


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    """A new device array from host or device data (the host-to-device copy)."""
    launches["array"] += 1
    return wrap(numpy.array(_host_or_device(obj), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asarray(a, dtype=None, order=None):
    """``a`` as a device array; a device array of the right dtype comes back as itself."""
    if isinstance(a, ndarray) and (dtype is None or numpy.dtype(dtype) == a.dtype):
        return a
    launches["asarray"] += 1
    return wrap(numpy.array(_host_or_device(a), dtype=dtype, order=order or "K"))


def ascontiguousarray(a, dtype=None):
    """``a`` (a device array) C-contiguous, copied only when it is not."""
    if not isinstance(a, ndarray):
        raise TypeError(f"cupy.ascontiguousarray needs a cupy.ndarray, got {type(a)}")
    if a.flags.c_contiguous and (dtype is None or numpy.dtype(dtype) == a.dtype):
        return a
    launches["ascontiguousarray"] += 1
    return wrap(numpy.ascontiguousarray(a._array, dtype=dtype))


def asnumpy(a, stream=None, order="C", out=None):
    """A NumPy array of ``a``'s values (copied off the device when ``a`` is on it)."""
    if isinstance(a, ndarray):
        return a.get(order=order)
    return numpy.asarray(a, order=order)


def get_array_module(*args):
    """The stand-in ``cupy`` module if any argument is one of its arrays, else numpy."""
    import cupy
    return cupy if any(isinstance(a, ndarray) for a in args) else numpy


UFUNCS = {name: ufunc(name) for name in UFUNC_NAMES}
UFUNCS["abs"] = UFUNCS["absolute"]
FUNCTIONS = {name: _strict(name) for name in STRICT_FUNCTION_NAMES}
FUNCTIONS.update({name: _creation(name) for name in CREATION_NAMES})
FUNCTIONS.update(UFUNCS)
FUNCTIONS.update(array=array, asarray=asarray, asanyarray=asarray,
                 ascontiguousarray=ascontiguousarray)
