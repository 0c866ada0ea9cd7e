"""``tune_process()``: the process-wide settings under which minicnn's CPU kernels run fastest.

``import minicnn`` changes nothing outside minicnn. A training script that wants the speed
measured on docs/performance.md calls ``minicnn.tune_process()`` once, at the top, before
the first training step (the examples and the benchmarks do). It changes three things, each
of which belongs to the whole process, not to minicnn, which is why it is a call you make
and not something an import does:

1. **OpenMP threads sleep soon after each parallel loop.** ``OMP_WAIT_POLICY=PASSIVE`` and
   ``GOMP_SPINCOUNT=3000`` (a few microseconds of spinning). Numba's OpenMP threads
   otherwise spin for a long while after each loop and take the cores from the matrix
   product that follows; a training step launches its loops back to back, so a short spin
   still saves the system call that wakes a sleeping thread. OpenMP reads these variables
   once, when its threads start, so the call must come before the first kernel runs. They
   also reach child processes and any other OpenMP library loaded later (PyTorch's).
2. **Numba's own thread pool when PyTorch is loaded.** PyTorch brings its own OpenMP
   runtime, which Numba's "omp" layer would then share with the settings PyTorch read at
   its import; Numba's "workqueue" threads never spin. Set only when ``torch`` is already
   imported and Numba's threads have not started.
3. **Freed host memory stays in the process.** glibc's ``mallopt``: no block of its own
   mapping (``M_MMAP_MAX=0``) and no trimming of the heap (``M_TRIM_THRESHOLD`` = 2 GiB − 1).
   A training step frees and reallocates the same large arrays every time; by default glibc
   returns them to the operating system and each 4 KiB page of the next step's arrays costs
   a page fault. The price: the process keeps its peak memory until it exits, as PyTorch's
   and CuPy's caching allocators do. Off glibc (macOS, Windows, musl) it does nothing.

Skip it by not calling it, or one part of it with ``tune_process(threads=False)`` or
``tune_process(memory=False)``. A setting you made yourself wins: an OpenMP or Numba
variable already in the environment, or any of glibc's ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``, is left as it is. Undo: the environment
variables can be deleted again (``os.environ.pop``) as long as no kernel has run; the
malloc settings go back with ``mallopt(M_MMAP_MAX, 65536)`` and
``mallopt(M_TRIM_THRESHOLD, 128 * 1024)``, glibc's defaults, or simply end with the process.
Idea: PyTorch's CPU performance tuning guide (OMP and allocator settings, left to the user).
"""
import ctypes
import importlib.util
import os
import sys

OPENMP_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}
M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
NEVER_TRIM = (1 << 31) - 1  # mallopt takes an int: 2 GiB − 1 of free heap before any is returned
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")


def tune_process(threads=True, memory=True):
    """Make the process-wide settings of the module docstring; return what was changed.

    The result maps each setting to its new value, e.g. ``{"OMP_WAIT_POLICY": "PASSIVE",
    "GOMP_SPINCOUNT": "3000", "malloc": "keep freed memory"}``; a setting the user made, or
    one that cannot apply here, is absent.
    """
    changed = {}
    if threads:
        changed.update(_sleeping_threads())
    if memory and not any(name in os.environ for name in MALLOC_VARIABLES) and keep_freed_memory():
        changed["malloc"] = "keep freed memory"
    return changed


def _sleeping_threads():
    """OpenMP's wait policy and spin count, and Numba's workqueue beside PyTorch, unless set by the user."""
    changed = {name: value for name, value in OPENMP_SETTINGS.items() if name not in os.environ}
    os.environ.update(changed)
    chosen = "NUMBA_THREADING_LAYER" in os.environ or "OMP_WAIT_POLICY" not in changed
    if "torch" in sys.modules and not chosen and importlib.util.find_spec("numba"):
        import numba
        if _numba_threads_started(numba):
            return changed
        numba.config.THREADING_LAYER = "workqueue"  # read when Numba starts its threads
        changed["numba.config.THREADING_LAYER"] = "workqueue"
    return changed


def _numba_threads_started(numba):
    try:
        numba.threading_layer()
    except ValueError:  # "threading layer is not initialized"
        return False
    return True


def keep_freed_memory():
    """Ask glibc to reuse freed blocks instead of returning them; True if it agreed."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))


def _glibc_mallopt():
    """glibc's ``mallopt`` as a ctypes function, or None off glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols already loaded: libc's among them
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt
