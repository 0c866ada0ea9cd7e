"""cupy.cuda for one pretend device: device 0, its null stream, and the runtime's queries."""
from .._array import not_provided
from . import runtime  # noqa: F401
from .runtime import CUDARuntimeError  # noqa: F401


class _Context:
    """Work is done when the stand-in returns: synchronising waits for nothing."""

    def synchronize(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Device(_Context):
    """A CUDA device: a context manager that makes it current, and synchronize()."""

    compute_capability = "90"

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise CUDARuntimeError(f"cudaErrorInvalidDevice: device {self.id} (the stand-in has device 0 only)")

    def use(self):
        return None

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


class Stream(_Context):
    """A CUDA stream (the stand-in has only the null stream's behaviour)."""

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.null = null

    def use(self):
        return self


_NULL = Stream(null=True)


def get_current_stream():
    return _NULL


def __getattr__(name):
    raise not_provided(f"cupy.cuda.{name}")
