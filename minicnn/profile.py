"""Where does a training step spend its time? A profiler that times each kind of operation.

Inside ``with profile() as prof:`` minicnn times every kernel of ``minicnn.kernels``, the
forward and backward of every Function, each optimiser step and each wait for the
DataLoader's next batch; leaving the block puts the original functions back, so outside it
the profiler costs nothing. Each timing is *self* time: a Function's row leaves out the
kernels it calls, a kernel's row leaves out the im2col it calls. So the rows add up to at
most the wall time of the block, and the rest is plain Python: autograd's graph walk,
Module calls, Tensor creation::

    with minicnn.profile.profile() as prof:
        for _ in range(5):
            training._train_step(model, images, labels, optimizer, F.cross_entropy)
    prof.print(steps=5)

Only the thread that entered the block is timed (the DataLoader's worker thread is not).
Idea: cProfile's split of own and cumulative time, grouped by op type as in the tables of
``torch.profiler``; d2l §13.1 (compilers and interpreters: where the time of Python goes).
"""
import contextlib
import functools
import sys
import threading
import time

from . import kernels
from .autograd import Function
from .data.dataloader import DataLoader
from .optim.optimizer import Optimizer

OVERHEAD = "Python & autograd (the rest)"

# kernel name -> op type; anything else in kernels.__all__ counts as "other kernels". The Numba
# face unfolds and folds inside its convolution kernels, so there im2col and col2im are part
# of the convolution rows; the CuPy face calls them as kernels of their own.
KERNEL_TYPES = {
    "im2col": "im2col", "col2im": "col2im",
    "conv2d": "conv forward (im2col + GEMM, Winograd or direct loop)",
    "conv_transpose2d": "conv input grad (GEMM + col2im, Winograd or direct loop)",
    "conv2d_weight": "conv weight grad (im2col + GEMM, Winograd or direct loop)",
    "max_pool2d": "pooling", "max_pool2d_backward": "pooling",
    "avg_pool2d": "pooling", "avg_pool2d_backward": "pooling",
    "sigmoid": "activations", "sigmoid_backward": "activations", "relu": "activations",
    "relu_backward": "activations", "matmul": "linear",
    "channel_sums": "conv bias, checks and copies", "add_channel_bias": "conv bias, checks and copies", "channel_moments": "normalization (BatchNorm ...)",
    "batch_norm": "normalization (BatchNorm ...)", "batch_norm_backward": "normalization (BatchNorm ...)",
}
# module of a Function subclass (its last dotted part) -> op type
FUNCTION_TYPES = {
    "conv": "conv bias, checks and copies", "pooling": "pooling",
    "normalization": "normalization (BatchNorm ...)", "activation": "activations",
    "linear": "linear", "loss": "loss", "arithmetic": "elementwise, reductions, shapes",
    "reduction": "elementwise, reductions, shapes", "shape": "elementwise, reductions, shapes",
    "dropout": "elementwise, reductions, shapes",
}


class Profile:
    """Self time and call count per (op type, name), filled in while ``profile()`` is active."""

    def __init__(self):
        self.seconds = {}  # (op type, name) -> self time in seconds
        self.calls = {}    # (op type, name) -> number of calls
        self.total = 0.0   # wall time of the whole block
        self._children = []  # per open timed call: time spent in timed calls below it
        self._thread = threading.get_ident()

    def timed(self, function, op_type, name):
        """``function`` wrapped so that each call on the profiled thread adds its self time."""
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if threading.get_ident() != self._thread:
                return function(*args, **kwargs)
            self._children.append(0.0)
            tic = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - tic
                self._record((op_type, name), elapsed - self._children.pop())
                if self._children:
                    self._children[-1] += elapsed
        return wrapper

    def _record(self, key, seconds):
        self.seconds[key] = self.seconds.get(key, 0.0) + seconds
        self.calls[key] = self.calls.get(key, 0) + 1

    def by_type(self):
        """[(op type, seconds, calls)] largest first, ending with the unaccounted Python time."""
        totals = {}
        for (op_type, _), seconds in self.seconds.items():
            spent, count = totals.get(op_type, (0.0, 0))
            totals[op_type] = (spent + seconds, count + self.calls[(op_type, _)])
        rows = sorted(((t, s, c) for t, (s, c) in totals.items()), key=lambda row: -row[1])
        accounted = sum(seconds for _, seconds, _ in rows)
        return rows + [(OVERHEAD, max(self.total - accounted, 0.0), 0)]

    def by_name(self):
        """[(op type, name, seconds, calls)] for every timed function, largest first."""
        rows = [(t, n, s, self.calls[(t, n)]) for (t, n), s in self.seconds.items()]
        return sorted(rows, key=lambda row: -row[2])

    def table(self, steps=None, detail=False):
        """The profile as text: one row per op type (or per function with ``detail``)."""
        per = f"ms/step ({steps})" if steps else "ms"
        scale = 1e3 / (steps or 1)
        rows = ([(n, s, c) for _, n, s, c in self.by_name()] + [self.by_type()[-1]]
                if detail else self.by_type())
        total = "total (wall time of the block)"
        width = max(len(label) for label in [total] + [name for name, _, _ in rows])  # the longest label fits
        lines = [f"{'op type' if not detail else 'function':{width}s} {per:>14s} {'%':>6s} {'calls':>7s}"]
        for name, seconds, calls in rows:
            share = 100 * seconds / self.total if self.total else 0.0
            lines.append(f"{name:{width}s} {seconds * scale:14.2f} {share:6.1f} {calls or '':>7}")
        lines.append(f"{total:{width}s} {self.total * scale:14.2f} {100.0:6.1f}")
        return "\n".join(lines)

    def print(self, steps=None, detail=False, file=None):
        """Print ``table()``; ``steps`` turns times into milliseconds per step."""
        print(self.table(steps, detail), file=file or sys.stdout)


def _subclasses(cls):
    found, stack = [], [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def _targets():
    """(owner, attribute, op type, name) for everything the profiler times."""
    faces = [sys.modules[m] for m in ("minicnn.kernels.reference", "minicnn.kernels.numba",
                                      "minicnn.kernels.gpu_cupy") if m in sys.modules]
    for name in kernels.__all__:
        if name in ("face", "fused", "output_hw"):
            continue
        yield kernels, name, KERNEL_TYPES.get(name, "other kernels"), f"kernels.{name}"
    for face in faces:  # their own im2col/col2im (called from inside conv2d and pooling), fused loops
        for name in ("im2col", "col2im") + kernels.FUSED:
            if hasattr(face, name):
                yield face, name, KERNEL_TYPES.get(name, "other kernels"), f"{face.__name__.rsplit('.', 1)[1]}.{name}"
    for cls in _subclasses(Function):
        op_type = FUNCTION_TYPES.get(cls.__module__.rsplit(".", 1)[-1], "other Functions")
        for method in ("forward", "backward"):
            if method in cls.__dict__:
                yield cls, method, op_type, f"{cls.__name__}.{method}"
    for cls in [Optimizer] + _subclasses(Optimizer):
        for method in ("step", "zero_grad"):
            if method in cls.__dict__:
                yield cls, method, "optimizer", f"{cls.__name__}.{method}"


def _timed_iter(profiler, original):
    """DataLoader.__iter__ whose every ``next`` (the wait for a batch) is timed."""
    def __iter__(loader):
        batches = original(loader)
        fetch = profiler.timed(lambda: next(batches, None), "data loading", "DataLoader next batch")
        try:
            while (batch := fetch()) is not None:
                yield batch
        finally:
            getattr(batches, "close", lambda: None)()
    return __iter__


@contextlib.contextmanager
def profile():
    """Time every kernel, Function, optimiser step and batch wait inside the block; yields a Profile."""
    prof = Profile()
    originals = []
    for owner, attribute, op_type, name in _targets():
        original = owner.__dict__[attribute]
        originals.append((owner, attribute, original))
        setattr(owner, attribute, prof.timed(original, op_type, name))
    originals.append((DataLoader, "__iter__", DataLoader.__dict__["__iter__"]))
    DataLoader.__iter__ = _timed_iter(prof, DataLoader.__dict__["__iter__"])
    tic = time.perf_counter()
    try:
        yield prof
    finally:
        prof.total = time.perf_counter() - tic
        for owner, attribute, original in reversed(originals):
            setattr(owner, attribute, original)
