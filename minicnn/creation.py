"""Making tensors, PyTorch's way: ``tensor``, ``zeros``, ``ones``, ``full``, ``rand``, ``randn``, ``normal``, ``arange``.

These are torch's factory functions (d2l §2.1 introduces them): the shape may be given as
separate ints or one tuple, ``dtype`` is any NumPy dtype (``minicnn.float32`` and friends),
``device`` is ``"cpu"``/``"cuda"`` or a ``minicnn.device``, and floats default to float32.
Random numbers come from ``minicnn.random``, so ``minicnn.manual_seed`` makes them repeatable.
"""
import numpy

from . import backend
from . import random as mrandom
from .autograd import Tensor
from .device import backend_name
from .live_array import as_live

float32 = numpy.dtype("float32")
float64 = double = numpy.dtype("float64")
float16 = half = numpy.dtype("float16")
int64 = long = numpy.dtype("int64")
int32 = numpy.dtype("int32")
uint8 = numpy.dtype("uint8")


def _xp(device):
    """The array module for ``device`` (default: the active backend)."""
    if device is None:
        return backend.xp()
    return numpy if backend_name(device) == "numpy" else backend._import_cupy()


def _shape(shape, size=None):
    """``(2, 3)``, ``[2, 3]``, ``2, 3`` or ``size=(2, 3)`` as a tuple of ints."""
    if size is not None:
        if shape:
            raise TypeError("give the shape either as arguments or as size=, not both")
        shape = (size,)
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _make(array, requires_grad):
    """A Tensor on ``array`` viewed as a LiveArray: what PyTorch code may do with ``t.data`` works."""
    return Tensor(as_live(array), requires_grad=requires_grad)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (numbers, nested lists, an array or a Tensor); floats become float32."""
    if isinstance(data, Tensor):
        data = data.data
    xp = _xp(device)
    if hasattr(data, "shape"):
        array = xp.array(backend.to_numpy(data) if xp is numpy else data, dtype=dtype)
    else:
        array = numpy.array(data, dtype=dtype)
        if dtype is None and array.dtype == numpy.float64:
            array = array.astype(numpy.float32)
        array = xp.asarray(array)
    return _make(array, requires_grad)


def zeros(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros of shape ``shape`` (ints, a tuple, or ``size=``)."""
    return _make(_xp(device).zeros(_shape(shape, size), dtype=dtype or float32), requires_grad)


def ones(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """A tensor of ones of shape ``shape`` (ints, a tuple, or ``size=``)."""
    return _make(_xp(device).ones(_shape(shape, size), dtype=dtype or float32), requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``shape`` (ints, a tuple, or ``size=``) filled with ``fill_value``."""
    return _make(_xp(device).full(_shape((size,)), fill_value, dtype=dtype or float32), requires_grad)


def zeros_like(other, dtype=None, requires_grad=False):
    """Zeros with the shape, dtype and device of ``other``."""
    return _make(backend.get_array_module(other.data).zeros_like(other.data, dtype=dtype), requires_grad)


def ones_like(other, dtype=None, requires_grad=False):
    """Ones with the shape, dtype and device of ``other``."""
    return _make(backend.get_array_module(other.data).ones_like(other.data, dtype=dtype), requires_grad)


def rand(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """Uniform random numbers in [0, 1) of shape ``shape`` (ints, a tuple, or ``size=``)."""
    xp = _xp(device)
    array = mrandom.generator(xp).random(_shape(shape, size), dtype=dtype or float32)
    return _make(array, requires_grad)


def randn(*shape, size=None, dtype=None, device=None, requires_grad=False):
    """Standard normal random numbers of shape ``shape`` (ints, a tuple, or ``size=``)."""
    xp = _xp(device)
    array = mrandom.generator(xp).standard_normal(_shape(shape, size), dtype=dtype or float32)
    return _make(array, requires_grad)


def normal(mean, std, size, dtype=None, device=None, requires_grad=False):
    """Normal random numbers with a scalar ``mean`` and ``std`` (torch.normal(mean, std, size))."""
    sample = randn(size, dtype=dtype, device=device)
    return _make(sample.data * std + mean, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... below end (``arange(n)`` counts from 0); ints give int64, floats float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        floating = any(isinstance(v, float) for v in (start, end, step))
        dtype = float32 if floating else int64
    return _make(_xp(device).arange(start, end, step, dtype=dtype), requires_grad)
