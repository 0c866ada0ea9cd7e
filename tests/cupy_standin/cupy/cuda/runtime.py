"""cupy.cuda.runtime: one device answers."""
from .._array import not_provided


class CUDARuntimeError(RuntimeError):
    """What CuPy raises when the CUDA runtime reports an error."""


def getDeviceCount():
    return 1


def getDevice():
    return 0


def getDeviceProperties(device):
    if device != 0:
        raise CUDARuntimeError(f"cudaErrorInvalidDevice: device {device}")
    return {"name": b"CuPy stand-in (NumPy on the CPU)", "totalGlobalMem": 1 << 34,
            "multiProcessorCount": 1, "major": 9, "minor": 0}


def deviceSynchronize():
    return None


def __getattr__(name):
    raise not_provided(f"cupy.cuda.runtime.{name}")
