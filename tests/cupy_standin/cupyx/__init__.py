"""cupyx for the CuPy stand-in: scatter_add (``a[slices] += value``, repeats accumulated)."""
from cupy import NotProvided, ndarray, not_provided  # noqa: F401
from cupy._array import _index, launches, unwrap


def scatter_add(a, slices, value):
    """Add ``value`` into ``a[slices]`` in place, repeated indices adding up (np.add.at)."""
    import numpy
    if not isinstance(a, ndarray):
        raise TypeError(f"cupyx.scatter_add needs a cupy.ndarray, got {type(a)}")
    launches["scatter_add"] += 1
    numpy.add.at(a._array, _index(slices), unwrap(value))


def __getattr__(name):
    raise not_provided(f"cupyx.{name}")
