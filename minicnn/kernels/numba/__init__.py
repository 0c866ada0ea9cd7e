"""The fast CPU face: the kernels of ``reference.py`` as Numba loops, multi-threaded, same answers.

Read ``reference.py`` first; this face computes the same things, and the tests hold it to
that one (``tests/test_kernels.py``). Set ``MINICNN_NUMBA=0`` to run the reference instead,
or ``NUMBA_DISABLE_JIT=1`` to run these loops as plain Python and step through them.

* ``unfold.py``: im2col and col2im, through column-shifted copies of the image for stride 1.
* ``conv.py``: the convolution, its transpose and its weight gradient, by the layer's
  shape: pixel pairs on small maps, 1×1 convolutions as a GEMM per image, Winograd
  (``winograd.py``), or im2col + GEMM in cache-sized chunks.
* ``pooling.py``: max and average pooling, one plane (or image) per parallel task.
* ``blas.py``: minicnn's own one-thread OpenBLAS GEMM, callable from inside the loops.
* ``parallel.py``: the parallel loop that runs the convolutions' serial tasks on Numba's threads.
* ``tuning.py``: every threshold the choices above depend on.
* ``batch_norm.py`` and ``dense.py``: fused loops for ops that ``minicnn.functional`` writes
  as array code (``kernels.FUSED``).

Numba compiles each loop the first time it runs, for the dtype it meets, and keeps the
machine code in its cache (``cache=True``): a first run pays the compilation once
(docs/performance.md has the numbers), and says so on stderr (``FirstCompile``).
"""
import sys

from numba.core import event

from .batch_norm import batch_norm, batch_norm_backward, channel_moments
from .conv import conv2d, conv2d_weight, conv_transpose2d
from .dense import matmul, relu, relu_backward, sigmoid, sigmoid_backward
from .pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .unfold import col2im, im2col

__all__ = [
    "im2col", "col2im", "conv2d", "conv_transpose2d", "conv2d_weight",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    # the fused loops of kernels.FUSED
    "channel_moments", "batch_norm", "batch_norm_backward",
    "matmul", "sigmoid", "sigmoid_backward", "relu", "relu_backward",
]


class FirstCompile(event.Listener):
    """Says once per process, on stderr, that Numba is compiling minicnn's loops: a first run
    would otherwise sit silent for seconds. Cache hits are not compilations and stay quiet."""

    MESSAGE = ("minicnn: compiling the CPU kernels, first run only (Numba keeps them in its "
               "cache for the next runs)...\n")

    def __init__(self):
        self.said = False

    def on_start(self, event):
        function = getattr(event.data["dispatcher"], "py_func", None)
        if not self.said and getattr(function, "__module__", "").startswith("minicnn."):
            self.said = True
            sys.stderr.write(self.MESSAGE)
            sys.stderr.flush()

    def on_end(self, event):
        pass


event.register("numba:compile", FirstCompile())
