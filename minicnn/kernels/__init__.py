"""The hot loops behind one interface; the array decides which face runs them.

Three faces with the same functions and signatures:

* ``reference.py``: readable array code on ``xp`` (NumPy or CuPy). Read this one.
* ``cpu_numba.py``: Numba loops for NumPy arrays, used unless ``MINICNN_NUMBA=0`` is set or
  Numba is not installed. ``NUMBA_DISABLE_JIT=1`` runs them as plain Python for debugging.
* ``gpu_cupy.py``: CUDA kernels (CuPy ``RawKernel``) for CuPy arrays.

Everything here takes and returns raw arrays, never Tensors: autograd lives one layer up, in
``minicnn.functional``. Window arguments (kernel_size, stride, padding, dilation) are
(height, width) pairs. Idea: one interface, several backends, as in Chainer's
``chainer.backend`` and CuPy's ``get_array_module``.
"""
import importlib.util
import os

from ..backend import backend_of
from . import reference
from .reference import output_size

__all__ = [
    "face", "output_size", "im2col", "col2im", "conv2d", "channel_sums",
    "channel_moments", "batch_norm", "batch_norm_backward", "conv_transpose2d", "conv2d_weight",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "matmul", "sigmoid", "sigmoid_backward",
]

_HAVE_NUMBA = importlib.util.find_spec("numba") is not None


def face(array):
    """The module whose kernels run on ``array``: gpu_cupy, cpu_numba or reference."""
    if backend_of(array) == "cupy":
        from . import gpu_cupy
        return gpu_cupy
    if _HAVE_NUMBA and os.environ.get("MINICNN_NUMBA", "1").strip() != "0":
        from . import cpu_numba
        return cpu_numba
    return reference


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Receptive fields of x (N, C, H, W) as columns (C·kh·kw, N·OH·OW)."""
    return face(x).im2col(x, kernel_size, stride, padding, dilation, pad_value)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Columns folded back onto an image of ``x_shape``, overlaps added (im2col's adjoint)."""
    return face(cols).col2im(cols, x_shape, kernel_size, stride, padding, dilation)


def conv2d(x, weight, stride, padding, dilation, bias=None):
    """Cross-correlation of x (N, C_in, H, W) with weight (C_out, C_in, kh, kw), plus bias (C_out,)."""
    return face(x).conv2d(x, weight, stride, padding, dilation, bias)


def channel_sums(a):
    """Σ over the batch and the pixels of a (N, C, H, W): a bias's gradient, BatchNorm's sums."""
    return face(a).channel_sums(a)


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """The adjoint of conv2d for weight (C_in, C_out, kh, kw), output (N, C_out, *out_hw)."""
    return face(x).conv_transpose2d(x, weight, tuple(out_hw), stride, padding, dilation)


def channel_moments(x):
    """Mean and biased variance of each channel of x (N, C, P), over N and P."""
    return face(x).channel_moments(x)


def batch_norm(x, mean, inv_std, weight, bias):
    """y = γ (x − μ)/σ + β per channel of x (N, C, P); every statistic has shape (C,)."""
    return face(x).batch_norm(x, mean, inv_std, weight, bias)


def batch_norm_backward(grad, x, mean, inv_std, weight, training):
    """(dL/dx, dL/dγ, dL/dβ) of batch_norm; ``training``: μ and σ were the batch's own."""
    return face(x).batch_norm_backward(grad, x, mean, inv_std, weight, training)


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


def matmul(a, b):
    """The matrix product a · b of 2-D arrays (transposed views welcome)."""
    return face(a).matmul(a, b)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^-x) elementwise, without overflow."""
    return face(x).sigmoid(x)


def sigmoid_backward(grad, y):
    """dL/dx of the sigmoid from dL/dy and its output y: dL/dy · y(1 − y)."""
    return face(grad).sigmoid_backward(grad, y)
