"""A parallel loop for large tasks: ``parallel_for(task, count, *args)`` runs task(t, *args)
for t = 0 … count − 1 on Numba's threads, where ``task`` is a serial ``@njit`` function.

Why not a ``prange`` loop with the task's code inside: Numba compiles a ``prange`` loop's
body as a function of its own, then two wrappers around it, then the function holding the
loop, and links every function the body calls into each of the four and optimises them
again. A convolution's chunk of work (unfolding, GEMM) was compiled five times over that
way, most of a first run's compilation. A task passed as a function pointer (Numba's
first-class function type) is compiled once, like any other function, and the loop around
it stays a few lines of machine code, compiled once per task signature.
The im2col + GEMM convolutions, im2col/col2im and average pooling run their work this way,
one chunk, group or image per task. The other loops stay ``prange`` loops, because inside
one Numba tells LLVM that the arrays do not overlap, which vectorises their inner loops best:
Winograd's (most of a ResNet-18 step; as tasks they measured 2–3 % slower, within noise),
and the loops over many small planes or channels (BatchNorm, max pooling, the sigmoid), whose
bodies call little and where a call through a pointer per plane would cost more than the plane.
Idea: the fork-join loop of OpenMP's ``parallel for``; Numba's "First-class function objects".
"""
import numpy as np
from numba import njit, prange, typeof, types
from numba.core.types.function_type import WrapperAddressProtocol
from numba.experimental import function_type  # noqa: F401 (Numba's typing of first-class functions)


class _Task(WrapperAddressProtocol):
    """A jitted function compiled for one signature, handed to ``_each`` as a function pointer."""

    def __init__(self, function, signature):
        self.function, self._signature, self._address = function, signature, None

    def signature(self):
        return self._signature

    def __call__(self, *args):  # with NUMBA_DISABLE_JIT=1, where _each is a Python loop
        return self.function(*args)

    def __wrapper_address__(self):
        if self._address is None:  # compiles the task (or loads it from Numba's cache) once
            compiled = self.function.get_compile_result(self._signature)
            self._address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_cfunc_wrapper_name)
        return self._address


@njit(parallel=True, cache=True)
def _each(task, count, args):
    for t in prange(count):
        task(np.int64(t), *args)


_tasks = {}


def parallel_for(task, count, *args):
    """task(t, *args) for t in range(count), in parallel; ``task`` is an ``@njit`` function that
    returns nothing. The order of the calls is not fixed: tasks must write apart."""
    key = (task,) + tuple(_kind(a) for a in args)
    handle = _tasks.get(key)
    if handle is None:
        handle = _tasks[key] = _Task(task, types.void(types.int64, *(typeof(a) for a in args)))
    _each(handle, count, args)


def _kind(value):
    """What of ``value`` decides Numba's type for it, quicker to get than the type itself."""
    if isinstance(value, np.ndarray):
        flags = value.flags
        return value.dtype, value.ndim, flags.c_contiguous, flags.f_contiguous, flags.writeable, flags.aligned
    return type(value)
