"""cupy.random on NumPy's generators: the same calls, device arrays out (other numbers than
CuPy's, as CuPy's own streams differ from NumPy's)."""
import numpy

from ._array import launches, not_provided, wrap

_legacy = numpy.random.RandomState()


class Generator:
    """cupy.random.Generator: the methods CuPy's generator has that minicnn uses."""

    def __init__(self, seed=None):
        self._numpy = numpy.random.default_rng(seed)

    def _draw(self, name, *args, **kwargs):
        launches["random." + name] += 1
        return wrap(getattr(self._numpy, name)(*args, **kwargs))

    def random(self, size=None, dtype=numpy.float64, out=None):
        return self._draw("random", size, dtype=dtype)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        return self._draw("standard_normal", size, dtype=dtype)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw("uniform", low, high, size)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return self._draw("integers", low, high, size, dtype=dtype, endpoint=endpoint)

    def __getattr__(self, name):
        raise not_provided(f"cupy.random.Generator.{name}")


def default_rng(seed=None):
    """A new Generator seeded with ``seed``."""
    return Generator(seed)


def seed(value=None):
    _legacy.seed(value)


def random(size=None, dtype=float):
    launches["random.random"] += 1
    return wrap(_legacy.random_sample(size).astype(dtype))


def rand(*shape):
    return random(shape)


def randn(*shape):
    launches["random.randn"] += 1
    return wrap(_legacy.standard_normal(shape))


def randint(low, high=None, size=None, dtype=int):
    launches["random.randint"] += 1
    return wrap(numpy.asarray(_legacy.randint(low, high, size), dtype=dtype))


def normal(loc=0.0, scale=1.0, size=None, dtype=float):
    launches["random.normal"] += 1
    return wrap(numpy.asarray(_legacy.normal(loc, scale, size), dtype=dtype))


def uniform(low=0.0, high=1.0, size=None, dtype=float):
    launches["random.uniform"] += 1
    return wrap(numpy.asarray(_legacy.uniform(low, high, size), dtype=dtype))


def permutation(n):
    launches["random.permutation"] += 1
    return wrap(_legacy.permutation(n))


def __getattr__(name):
    raise not_provided(f"cupy.random.{name}")
