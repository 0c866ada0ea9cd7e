"""The hot loops behind one interface; the array decides which face runs them.

Three faces with the same functions and signatures:

* ``reference.py``: readable array code on ``xp`` (NumPy or CuPy). Read this one.
* ``numba/``: the same loops compiled by Numba for NumPy arrays, multi-threaded, used unless
  ``MINICNN_NUMBA=0`` is set or Numba is not installed. ``NUMBA_DISABLE_JIT=1`` runs them as
  plain Python, to step through them.
* ``gpu_cupy.py``: CUDA kernels (CuPy ``RawKernel``) for CuPy arrays.

The interface is the convolution and pooling machinery: im2col/col2im, the convolution, its
transpose and its weight gradient, max and average pooling with their backward passes.
Everything here takes and returns raw arrays, never Tensors: autograd lives one layer up, in
``minicnn.functional``, which also adds the biases. Window arguments (kernel_size, stride,
padding, dilation) are (height, width) pairs.

A few ops are plain array code in ``minicnn.functional`` (the sigmoid, the dense layer's
matrix product, BatchNorm's passes, a bias and its gradient; SGD's update in ``minicnn.optim``)
and need no kernel; a face may still offer a faster loop for one of them, and
``fused(name, array)`` is where functional and optim ask.
Idea: one interface, several backends, as in Chainer's ``chainer.backend`` and CuPy's
``get_array_module``.
"""
import importlib.util
import os

from ..backend import backend_of
from . import reference
from .reference import output_hw

__all__ = [
    "face", "fused", "output_hw", "im2col", "col2im", "conv2d", "conv_transpose2d", "conv2d_weight",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
]

# the ops a face may replace with a fused loop of the same name (see the module docstring)
FUSED = ("add_channel_bias", "channel_sums", "column_sums", "channel_moments", "inv_std",
         "batch_norm", "batch_norm_backward", "update_running_stats", "matmul", "sigmoid",
         "sigmoid_backward", "relu", "relu_backward", "sgd_step")

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def face(array):
    """The module whose kernels run on ``array``: gpu_cupy, numba or reference."""
    if backend_of(array) == "cupy":
        from . import gpu_cupy
        return gpu_cupy
    if _HAVE_NUMBA and os.environ.get("MINICNN_NUMBA", "1").strip() != "0":
        from . import numba
        return numba
    return reference


def fused(name, *arrays):
    """The face's fused loop ``name`` (one of ``FUSED``) for ``arrays``, or None, and then the
    caller's own array code runs: when the face has no such loop, or when the arrays are not
    float32 or float64 of one dtype, the only ones fused loops are compiled for."""
    if name not in FUSED:
        raise ValueError(f"kernels.fused: {name!r} is not one of the optional fused ops {FUSED}")
    dtype = arrays[0].dtype
    if dtype not in ("float32", "float64") or any(a.dtype != dtype for a in arrays):
        return None
    return getattr(face(arrays[0]), name, None)


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Receptive fields of x (N, C, H, W) as columns (C·kh·kw, N·OH·OW)."""
    return face(x).im2col(x, kernel_size, stride, padding, dilation, pad_value)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Columns folded back onto an image of ``x_shape``, overlaps added (im2col's adjoint)."""
    return face(cols).col2im(cols, x_shape, kernel_size, stride, padding, dilation)


def conv2d(x, weight, stride, padding, dilation):
    """Cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in, kh, kw), no bias."""
    return face(x).conv2d(x, weight, stride, padding, dilation)


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """The adjoint of conv2d for weight (C_in, C_out, kh, kw), output (N, C_out, *out_hw)."""
    return face(x).conv_transpose2d(x, weight, tuple(out_hw), stride, padding, dilation)


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """Gradient of conv2d's loss with respect to the weight, given dL/dy."""
    return face(x).conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation)


def max_pool2d(x, kernel_size, stride, padding):
    """(window maxima, flat index h·W + w of each maximum in its input plane)."""
    return face(x).max_pool2d(x, kernel_size, stride, padding)


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """dL/dx of max pooling: each window's gradient lands on its winner."""
    return face(grad_y).max_pool2d_backward(grad_y, argmax, tuple(x_shape), kernel_size,
                                            stride, padding)


def avg_pool2d(x, kernel_size, stride, padding):
    """Window means with zero padding counted (PyTorch's count_include_pad=True)."""
    return face(x).avg_pool2d(x, kernel_size, stride, padding)


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """dL/dx of average pooling: each window spreads its gradient evenly."""
    return face(grad_y).avg_pool2d_backward(grad_y, tuple(x_shape), kernel_size, stride,
                                            padding)
