"""``minicnn.device``: PyTorch's name for where a tensor lives, mapped onto the two backends.

``device("cpu")`` is the NumPy backend and ``device("cuda")`` (or ``"cuda:0"``) the CuPy one,
so d2l's ``X.to(device)``, ``net.to(device)`` and ``str(device)`` read as they do with
PyTorch (d2l §6.7 uses them in ``train_ch6``). A device equals its string: ``device("cpu") == "cpu"``.
"""
from . import backend

_BACKEND_OF_TYPE = {"cpu": "numpy", "cuda": "cupy"}
_TYPE_OF_NAME = {"cpu": "cpu", "numpy": "cpu", "cuda": "cuda", "gpu": "cuda", "cupy": "cuda"}


class device:
    """Where arrays live: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")`` or ``device("cuda", 1)``."""

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        name, _, number = str(type).partition(":")
        if name not in _TYPE_OF_NAME:
            raise ValueError(f"device({type!r}): expected 'cpu' or 'cuda' (optionally 'cuda:N')")
        self.type = _TYPE_OF_NAME[name]
        self.index = int(number) if number else index
        if self.type == "cpu" and self.index not in (None, 0):
            raise ValueError(f"device({type!r}): the CPU has no index {self.index}")

    @property
    def backend(self):
        """The backend that holds arrays on this device: "numpy" or "cupy"."""
        return _BACKEND_OF_TYPE[self.type]

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


def device_of(array):
    """The device that holds ``array``: ``cuda:N`` for a CuPy array, else ``cpu``."""
    if backend.backend_of(array) == "cupy":
        return device("cuda", array.device.id)
    return device("cpu")


def backend_name(where):
    """The backend ("numpy" or "cupy") for a device, a device string, or a backend name."""
    return device(where).backend


def move(array, where):
    """``array`` on device ``where`` (a copy across devices; the same array when it is already there)."""
    target = backend_name(where)
    if backend.backend_of(array) == target:
        return array
    if target == "numpy":
        return backend.to_numpy(array)
    return backend._import_cupy().asarray(array)
