"""The NumPy/CuPy switch: one place decides which array library holds the data.

Every other module asks this one for ``xp`` (the array module) instead of importing
NumPy, so the same code runs on the CPU (NumPy) and on an NVIDIA GPU (CuPy).
The idea is CuPy's own ``get_array_module``; Chainer and DeZero use it the same way.
"""
import os

import numpy

_BACKENDS = ("numpy", "cupy")
_current = "numpy"


class BackendError(RuntimeError):
    """The requested backend cannot run here; the message says why and how to fix it."""


_answered = None  # the CuPy module whose device has answered (asked once, not per array)
_hint = ""  # what to change when the environment, not a call, asked for cupy


def _import_cupy():
    """Import CuPy and check that a CUDA device answers, or raise BackendError saying why."""
    global _answered
    try:
        import cupy
    except ImportError as exc:
        raise BackendError(
            "backend 'cupy' is not available: CuPy is not installed "
            f"({exc}). Install the wheel that matches your CUDA toolkit, e.g. "
            "`pip install cupy-cuda12x` (or `pip install -e \".[cupy]\"`), "
            "or run with the numpy backend." + _hint
        ) from None
    if cupy is _answered:
        return cupy
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, driver missing, ...
        raise BackendError(
            "backend 'cupy' is not available: CuPy is installed but the CUDA runtime "
            f"could not talk to a GPU ({exc}). Check the NVIDIA driver with `nvidia-smi`, "
            "or run with the numpy backend." + _hint
        ) from None
    if count == 0:
        raise BackendError(
            "backend 'cupy' is not available: no CUDA device was found on this machine. "
            "Run on a machine with an NVIDIA GPU, or use the numpy backend." + _hint
        )
    _answered = cupy
    return cupy


def use(name):
    """Make ``name`` ("numpy" or "cupy") the backend for newly created arrays."""
    global _current, _hint
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}: choose one of {_BACKENDS}")
    _hint = ""  # from here on the choice is the caller's, not the environment's
    if name == "cupy":
        _import_cupy()
    _current = name


def current():
    """Name of the active backend: "numpy" or "cupy"."""
    return _current


def xp():
    """The array module of the active backend (numpy or cupy)."""
    return _import_cupy() if _current == "cupy" else numpy


def backend_of(array):
    """"cupy" for a CuPy array, "numpy" for anything else (NumPy arrays, scalars, lists)."""
    module = type(array).__module__.split(".")[0]
    return "cupy" if module in ("cupy", "cupyx") else "numpy"


def get_array_module(*arrays):
    """The array module (numpy or cupy) that holds ``arrays``; raise if they mix the two."""
    names = {backend_of(a) for a in arrays if a is not None and hasattr(a, "shape")}
    if len(names) > 1:
        raise BackendError(
            "arrays from two backends were mixed (numpy and cupy): move them to one "
            "backend first, e.g. `model.to('cupy')` or `minicnn.backend.asarray(a)`"
        )
    if names == {"cupy"}:
        return _import_cupy()
    return numpy


def to_numpy(array):
    """A NumPy array with the values of ``array`` (copied off the GPU when needed)."""
    if backend_of(array) == "cupy":
        return array.get()
    return numpy.asarray(array)


def asarray(array, dtype=None):
    """``array`` as an array of the active backend (copied across devices when needed)."""
    if _current == "cupy":
        return xp().asarray(array, dtype=dtype)
    return numpy.asarray(to_numpy(array), dtype=dtype)


def scatter_add(target, index, values):
    """``target[index] += values`` with repeated indices accumulated (np.add.at, cupy.add.at)."""
    get_array_module(target).add.at(target, index, values)


def _startup_backend():
    name = os.environ.get("MINICNN_BACKEND", "numpy").strip().lower() or "numpy"
    if name not in _BACKENDS:
        raise BackendError(
            f"MINICNN_BACKEND={name!r} is not a backend: set it to 'numpy' or 'cupy'"
        )
    return name


# MINICNN_BACKEND=cupy is checked when the first array is made, not here: importing minicnn
# works on any machine, and `use("numpy")` (an example's --backend numpy) still runs.
_current = _startup_backend()
if _current == "cupy":
    _hint = (" MINICNN_BACKEND=cupy is set in the environment: unset it (or set it to 'numpy') "
             "to run on the CPU.")
