"""cupy.RawKernel on the host: the CUDA source is compiled by g++ through the shim in
``cupy_standin.host`` and called with CuPy's argument rules checked (see host.py)."""
import numpy

from cupy_standin import host

from ._array import launches, ndarray


def _device_array(value):
    return value._array if isinstance(value, ndarray) else None


class RawKernel:
    """A kernel ``name`` from a full CUDA C ``code``; called as ``kernel(grid, block, args)``."""

    def __init__(self, code, name, options=(), backend="nvrtc", **kwargs):
        self.code, self.name, self.options = code, name, options
        self._params = host.parameters(code, name)  # a missing kernel is an error now, as in CuPy
        self._function = None

    def __call__(self, grid, block, args, *, shared_mem=0):
        for size, what in ((grid, "grid"), (block, "block")):
            if not (isinstance(size, tuple) and 1 <= len(size) <= 3
                    and all(isinstance(s, (int, numpy.integer)) and s >= 1 for s in size)):
                raise ValueError(f"kernel {self.name}: {what} must be a tuple of 1-3 positive ints, got {size!r}")
        threads = int(numpy.prod(block))
        if threads > 1024:
            raise ValueError(f"kernel {self.name}: {threads} threads per block; CUDA allows 1024")
        if not isinstance(args, tuple):
            raise TypeError(f"kernel {self.name}: args must be a tuple, got {type(args).__name__}")
        converted = host.check_and_convert(self.name, self._params, args, _device_array)
        if self._function is None:
            self._function = getattr(host.library(self.code), self.name)
        launches["RawKernel." + self.name] += 1
        self._function(*converted)
