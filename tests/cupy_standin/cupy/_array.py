"""The stand-in's ndarray: a NumPy array behind a wall that fails where CuPy's device wall does.

* ``numpy.asarray(a)`` raises TypeError (CuPy refuses implicit device-to-host copies);
  ``a.get()`` and ``cupy.asnumpy(a)`` are the ways back.
* Arithmetic with a NumPy array raises TypeError, whichever side it is on; NumPy and Python
  scalars are fine, as in CuPy.
* NumPy functions called on it dispatch (``__array_function__``/``__array_ufunc__``) to the
  stand-in's own functions; one the stand-in does not provide raises TypeError, as CuPy does.
* Reductions and scalar indexing give 0-d arrays, never NumPy scalars.
"""
import collections
import operator

import numpy

# Every call that would be a kernel launch on a GPU, by name: a host-overhead proxy.
launches = collections.Counter()


class NotProvided(NotImplementedError, AttributeError):
    """What the stand-in lacks (hasattr() sees it as missing, the message names it)."""


def not_provided(name):
    return NotProvided(f"the CuPy stand-in does not provide {name}: add it to "
                       "tests/cupy_standin if CuPy has it, or avoid it in minicnn if CuPy does not")


def _refuse(value):
    raise TypeError(f"Unsupported type {type(value)}: a NumPy array cannot meet a CuPy array in an "
                    "operation; move it with cupy.asarray() first")


def unwrap(value):
    """The NumPy array behind a stand-in array; lists/tuples unwrapped item by item.

    A NumPy array raises TypeError, as CuPy refuses host arrays in device operations.
    """
    if isinstance(value, ndarray):
        return value._array
    if isinstance(value, numpy.ndarray):
        _refuse(value)
    if isinstance(value, (list, tuple)):
        return type(value)(unwrap(v) for v in value)
    return value


def wrap(value):
    """NumPy results as stand-in arrays: arrays wrapped, NumPy scalars as 0-d arrays."""
    if isinstance(value, numpy.ndarray):
        return _new(value)
    if isinstance(value, numpy.generic):
        return _new(numpy.asarray(value))
    if isinstance(value, tuple):
        return tuple(wrap(v) for v in value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value


def _new(array):
    out = ndarray.__new__(ndarray)
    out._array = array
    return out


def _index(key):
    """An index for the NumPy array: stand-in index arrays unwrapped, host ones allowed."""
    if isinstance(key, ndarray):
        return key._array
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    return key


def _is_basic(key):
    """True for an index of ints, slices, None and Ellipsis only (NumPy's basic indexing)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, slice, type(None), type(Ellipsis))) for k in parts)


def _binary(op, name, reflected=False):
    def method(self, other):
        if isinstance(other, numpy.ndarray):
            _refuse(other)
        if not isinstance(other, (ndarray, numpy.generic, int, float, bool, complex)):
            return NotImplemented
        launches[name] += 1
        a, b = self._array, unwrap(other)
        return wrap(op(b, a) if reflected else op(a, b))
    method.__name__ = name
    return method


def _inplace(op, name):
    def method(self, other):
        if isinstance(other, numpy.ndarray):
            _refuse(other)
        if not isinstance(other, (ndarray, numpy.generic, int, float, bool)):
            return NotImplemented
        launches[name] += 1
        op(self._array, unwrap(other))
        return self
    method.__name__ = name
    return method


def _method(name, kernel=True):
    def method(self, *args, **kwargs):
        result = getattr(self._array, name)(*unwrap(args), **{k: unwrap(v) for k, v in kwargs.items()})
        if result is self._array:  # astype(copy=False) and friends give the array itself back
            return self
        if kernel:
            launches[name] += 1
        return wrap(result)
    method.__name__ = name
    return method


class ndarray:
    """A CuPy-like array (see the module docstring for where it refuses)."""

    __slots__ = ("_array", "__weakref__")
    __array_priority__ = 100

    def __init__(self, shape, dtype=float, order="C"):
        self._array = numpy.empty(shape, dtype, order=order)

    # -- the wall --------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _functions
        if ufunc.__name__ not in _functions.UFUNCS:
            return NotImplemented
        launches[ufunc.__name__] += 1
        kwargs = {k: unwrap(v) for k, v in kwargs.items()}
        return wrap(getattr(ufunc, method)(*unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        from . import _functions
        implementation = _functions.FUNCTIONS.get(func.__name__)
        if implementation is None:
            return NotImplemented
        return implementation(*args, **kwargs)

    def get(self, stream=None, order="C", out=None):
        """A NumPy copy of the array (the device-to-host copy)."""
        launches["get"] += 1
        return numpy.array(self._array, order=order)

    def set(self, array):
        """Copy the NumPy ``array`` into this one (host to device)."""
        self._array[...] = array

    # -- attributes -------------------------------------------------------------
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    strides = property(lambda self: self._array.strides)
    flags = property(lambda self: self._array.flags)
    T = property(lambda self: _new(self._array.T))
    real = property(lambda self: _new(self._array.real))

    @property
    def base(self):
        return None if self._array.base is None else _new(self._array.base)

    @property
    def device(self):
        from .cuda import Device
        return Device(0)

    def __getattr__(self, name):
        raise not_provided(f"cupy.ndarray.{name}")

    # -- Python protocols ---------------------------------------------------------
    def __len__(self):
        return len(self._array)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __getitem__(self, key):
        if not _is_basic(key):  # basic indexing is a view; a gather is a kernel
            launches["getitem"] += 1
        return wrap(self._array[_index(key)])

    def __setitem__(self, key, value):
        launches["setitem"] += 1
        if isinstance(value, ndarray):
            value = value._array
        self._array[_index(key)] = value  # a host array is copied over, as CuPy does

    def __bool__(self):
        return bool(self._array)

    def __float__(self):
        return float(self._array)

    def __int__(self):
        return int(self._array)

    def __complex__(self):
        return complex(self._array)

    def __repr__(self):
        return repr(self._array)

    def __str__(self):
        return str(self._array)

    def __format__(self, spec):
        return format(self._array, spec)

    def __copy__(self):
        return _new(self._array.copy())

    def __deepcopy__(self, memo):
        return _new(self._array.copy())

    def __reduce__(self):
        return (_new, (self._array.copy(),))

    __hash__ = None

    # -- arithmetic -------------------------------------------------------------
    __add__, __radd__ = _binary(operator.add, "add"), _binary(operator.add, "add", True)
    __sub__, __rsub__ = _binary(operator.sub, "subtract"), _binary(operator.sub, "subtract", True)
    __mul__, __rmul__ = _binary(operator.mul, "multiply"), _binary(operator.mul, "multiply", True)
    __truediv__ = _binary(operator.truediv, "divide")
    __rtruediv__ = _binary(operator.truediv, "divide", True)
    __floordiv__ = _binary(operator.floordiv, "floor_divide")
    __rfloordiv__ = _binary(operator.floordiv, "floor_divide", True)
    __mod__, __rmod__ = _binary(operator.mod, "remainder"), _binary(operator.mod, "remainder", True)
    __pow__, __rpow__ = _binary(operator.pow, "power"), _binary(operator.pow, "power", True)
    __matmul__ = _binary(operator.matmul, "matmul")
    __rmatmul__ = _binary(operator.matmul, "matmul", True)
    __and__, __rand__ = _binary(operator.and_, "bitwise_and"), _binary(operator.and_, "bitwise_and", True)
    __or__, __ror__ = _binary(operator.or_, "bitwise_or"), _binary(operator.or_, "bitwise_or", True)
    __xor__ = _binary(operator.xor, "bitwise_xor")
    __eq__, __ne__ = _binary(operator.eq, "equal"), _binary(operator.ne, "not_equal")
    __lt__, __le__ = _binary(operator.lt, "less"), _binary(operator.le, "less_equal")
    __gt__, __ge__ = _binary(operator.gt, "greater"), _binary(operator.ge, "greater_equal")
    __iadd__, __isub__ = _inplace(operator.iadd, "add"), _inplace(operator.isub, "subtract")
    __imul__, __itruediv__ = _inplace(operator.imul, "multiply"), _inplace(operator.itruediv, "divide")
    __ipow__ = _inplace(operator.ipow, "power")

    def __neg__(self):
        launches["negative"] += 1
        return _new(-self._array)

    def __pos__(self):
        return _new(+self._array)

    def __abs__(self):
        launches["absolute"] += 1
        return _new(abs(self._array))

    def __invert__(self):
        launches["invert"] += 1
        return _new(~self._array)

    # -- methods CuPy's ndarray has ---------------------------------------------------
    for _name in ("all", "any", "argmax", "argmin", "argsort", "astype", "clip", "copy",
                  "cumsum", "dot", "fill", "flatten", "max", "mean", "min", "nonzero", "prod",
                  "repeat", "round", "sort", "std", "sum", "take", "trace", "var"):
        locals()[_name] = _method(_name)
    for _name in ("diagonal", "ravel", "reshape", "squeeze", "swapaxes", "transpose", "view"):
        locals()[_name] = _method(_name, kernel=False)
    del _name

    def item(self):
        return self._array.item()

    def tolist(self):
        return self._array.tolist()

    def tobytes(self, order="C"):
        return self._array.tobytes(order)
