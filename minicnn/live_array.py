"""LiveArray: the NumPy array inside a Tensor, with the two PyTorch manners ``tensor.data`` needs.

In PyTorch ``t.data`` is a Tensor; in minicnn it is the array itself, so writing into it
changes the tensor. d2l's code still treats it as a tensor in two places: it copies a
bilinear kernel in with ``weight.data.copy_(kernel)`` (d2l §13.10) and keeps BatchNorm's
moving statistics as ``moving_mean.data``, then takes ``.data`` of that again (d2l §8.5).
A LiveArray is a NumPy ndarray that adds exactly those two: ``copy_`` and a ``data``
that is the array itself. Everything else — arithmetic, slicing, Numba kernels — is NumPy's.
"""
import numpy


class LiveArray(numpy.ndarray):
    """A NumPy array that also answers ``copy_(source)`` and ``.data`` as torch.Tensor does."""

    @property
    def data(self):
        """The array itself (NumPy's buffer view is still ``memoryview(array)``)."""
        return self

    def copy_(self, source):
        """Copy ``source`` (a Tensor or an array, broadcast to this shape) into this array in place; returns it."""
        self[...] = numpy.asarray(source)
        return self

    def __repr__(self):
        return repr(self.view(numpy.ndarray))

    def __str__(self):
        return str(self.view(numpy.ndarray))


def as_live(array):
    """A NumPy array as a LiveArray sharing its memory; CuPy arrays and LiveArrays are returned as they are."""
    return array.view(LiveArray) if type(array) is numpy.ndarray else array
