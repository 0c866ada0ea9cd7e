"""One seedable source of randomness for minicnn: initialisation, dropout, shuffling, augmentation.

``manual_seed(seed)`` makes a run repeatable (like ``torch.manual_seed``), and
``get_state()``/``set_state()`` let a checkpoint resume the exact random stream.
"""
import json

import numpy

from . import backend

_numpy_generator = numpy.random.default_rng()
_cupy_generator = None


def manual_seed(seed):
    """Reset every random stream of minicnn from ``seed``."""
    global _numpy_generator, _cupy_generator
    _numpy_generator = numpy.random.default_rng(seed)
    _cupy_generator = None


def generator(xp=None):
    """The random generator for arrays of module ``xp`` (numpy or cupy; default: the active backend)."""
    global _cupy_generator
    name = backend.current() if xp is None else xp.__name__.split(".")[0]
    if name != "cupy":
        return _numpy_generator
    if _cupy_generator is None:
        import cupy
        _cupy_generator = cupy.random.default_rng(int(_numpy_generator.integers(2**62)))
    return _cupy_generator


def host_generator():
    """The NumPy stream, whatever the backend: for draws that must not depend on it (initial weights)."""
    return _numpy_generator


def get_state():
    """The NumPy stream's state as a JSON string (fits in a checkpoint; no pickle)."""
    return json.dumps(_numpy_generator.bit_generator.state)


def set_state(state):
    """Restore a state returned by ``get_state()``."""
    global _cupy_generator
    _numpy_generator.bit_generator.state = json.loads(state)
    _cupy_generator = None
