"""Keep freed host memory in the process, so the next step's arrays need no fresh pages.

A training step allocates and frees the same large arrays every time: activations, columns,
gradients (a LeNet step, about 60 MB). By default glibc's ``malloc`` maps blocks over
128 KiB–32 MiB straight from the operating system and gives them back when they are freed,
and trims freed memory off the top of its heap; the next step asks for it again, and every
4 KiB page of the new block costs a page fault in the kernel. On the 2-core virtual machine
of docs/performance.md a fault costs about 7 µs, and a LeNet step spent 8–12 ms of its
26–35 ms in them (2,100–2,700 faults per step).

``keep_freed_memory()`` tells glibc, through ``mallopt``, to serve every block from its heap
(never a mapping of its own) and never to give freed heap memory back: after the first step
the process reuses its own pages and faults no more. The price is that the process keeps
its peak memory until it exits, as PyTorch's and CuPy's caching GPU allocators do (and
PyTorch's CPU tuning guide gets the same effect by preloading jemalloc or tcmalloc).

It runs when ``minicnn.kernels`` is imported, unless ``MINICNN_KEEP_MEMORY=0`` is set or the
user set glibc's own ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_MMAP_MAX_`` or
``MALLOC_TRIM_THRESHOLD_``. Off glibc (macOS, Windows, musl) it does nothing.
"""
import ctypes
import os

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_MAX = -4
NEVER_TRIM = (1 << 31) - 1  # mallopt takes an int: 2 GiB − 1 of free heap before any is returned

_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory():
    """Ask glibc to reuse freed blocks instead of returning them; True if it agreed."""
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    return bool(mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, NEVER_TRIM))


def wanted():
    """False when MINICNN_KEEP_MEMORY=0, or when the user tuned glibc's malloc themselves."""
    if os.environ.get("MINICNN_KEEP_MEMORY", "1").strip() == "0":
        return False
    return not any(name in os.environ for name in _USER_SETTINGS)


def _glibc_mallopt():
    """glibc's ``mallopt`` as a ctypes function, or None off glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols already loaded: libc's among them
    except (OSError, AttributeError):
        return None
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt
