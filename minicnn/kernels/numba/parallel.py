"""The Numba face's one parallel loop: ``parallel_for(task, count, *args)`` runs task(t, *args)
for t = 0 … count − 1 on Numba's threads; each kernel's work is a serial ``task`` function.

Why the task is called through its address instead of written inside a ``prange`` loop:
Numba compiles a ``prange`` loop's body as a function of its own, then two wrappers around
it, then the function holding the loop, and links every function the body calls into each
of the four and optimises them again. A convolution's body (unfolding, GEMM) was compiled
five times over that way: most of a first run's compilation. A task passed as a function
pointer (Numba's first-class function type) is compiled once, on its own, like any other
function, and the loop around it stays a few lines of machine code, compiled once per task
signature. The call through the pointer costs nanoseconds per task.
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
    key = (task,) + tuple((a.dtype, a.ndim, a.flags.c_contiguous, a.flags.f_contiguous,
                           a.flags.writeable, a.flags.aligned) if isinstance(a, np.ndarray) else type(a)
                          for a in args)
    handle = _tasks.get(key)
    if handle is None:
        handle = _tasks[key] = _Task(task, types.void(types.int64, *(typeof(a) for a in args)))
    _each(handle, count, args)
