"""Pooling: max (remembering each window's winner), average, and adaptive average/max.

Max pooling pads with −∞, so padding never wins; average pooling counts zero padding in the
mean, as PyTorch does by default (count_include_pad=True). Adaptive pooling chooses its
windows so any input size maps to a fixed output size, with PyTorch's bins
[⌊i·H/out⌋, ⌈(i+1)·H/out⌉); when H is a multiple of out these are plain pooling windows.
Idea: d2l §7.5 (pooling), §8.3 (NiN's global average pooling, Lin et al. 2013).
"""
from .. import kernels
from ..autograd import Function
from ..backend import get_array_module, scatter_add
from ..kernels import output_hw
from .conv import as_pair


def _window(op, kernel_size, stride, padding):
    """(kernel, stride, padding) as pairs, checked the way PyTorch checks them."""
    kernel = as_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1:
        raise ValueError(f"{op}: kernel_size {kernel} and stride {stride} must be positive")
    if min(padding) < 0 or any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(
            f"{op}: padding {padding} must be between 0 and half the kernel size {kernel} "
            "(PyTorch's rule: pad should be at most half of kernel size)"
        )
    return kernel, stride, padding


def _check_input(op, x, window):
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    kernel, stride, padding = window
    out = output_hw(x.shape[2:], kernel, stride, padding)
    if min(out) < 1:
        raise ValueError(
            f"{op}: input {tuple(x.shape)} is too small for kernel {kernel}, stride {stride} "
            f"and padding {padding}: the output would be {out[0]}x{out[1]}; use a smaller "
            "kernel or check the layers before this one"
        )


class MaxPool2d(Function):
    """Maximum over each window (d2l §7.5); padding is −∞."""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.window = _window("max_pool2d", kernel_size, stride, padding)

    def forward(self, x):
        _check_input("max_pool2d", x, self.window)
        self.x_shape = x.shape
        y, argmax = kernels.max_pool2d(x, *self.window)
        self.save_for_backward(argmax)
        return y

    # dL/dx[argmax] += dL/dy: each window's gradient goes to its winner alone
    def backward(self, grad):
        (argmax,) = self.saved
        return (kernels.max_pool2d_backward(grad, argmax, self.x_shape, *self.window),)


class AvgPool2d(Function):
    """Mean over each window, zero padding counted (d2l §7.5)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        self.window = _window("avg_pool2d", kernel_size, stride, padding)

    def forward(self, x):
        _check_input("avg_pool2d", x, self.window)
        self.x_shape = x.shape
        return kernels.avg_pool2d(x, *self.window)

    # dL/dx = Σ over the windows covering x of dL/dy / (kh·kw)
    def backward(self, grad):
        return (kernels.avg_pool2d_backward(grad, self.x_shape, *self.window),)


def _bins(size, out):
    """PyTorch's adaptive windows along one axis: [⌊i·size/out⌋, ⌈(i+1)·size/out⌉)."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _adaptive_bins(op, x, output_size):
    out = as_pair(output_size, "output_size", op)
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if min(out) < 1 or min(x.shape[2:]) < 1:
        raise ValueError(f"{op}: output_size {out} and input size {tuple(x.shape[2:])} must be positive")
    return out, _bins(x.shape[2], out[0]), _bins(x.shape[3], out[1])


class AdaptiveAvgPool2d(Function):
    """Average over PyTorch's adaptive bins, for sizes that do not divide evenly (d2l §8.3)."""

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, x):
        xp = get_array_module(x)
        out, self.rows, self.cols = _adaptive_bins("adaptive_avg_pool2d", x, self.output_size)
        self.x_shape = x.shape
        y = xp.empty(x.shape[:2] + out, dtype=x.dtype)
        for i, (top, bottom) in enumerate(self.rows):
            for j, (left, right) in enumerate(self.cols):
                y[:, :, i, j] = x[:, :, top:bottom, left:right].mean(axis=(2, 3))
        return y

    # dL/dx = Σ over the bins covering x of dL/dy / (bin area)
    def backward(self, grad):
        xp = get_array_module(grad)
        grad_x = xp.zeros(self.x_shape, dtype=grad.dtype)
        for i, (top, bottom) in enumerate(self.rows):
            for j, (left, right) in enumerate(self.cols):
                area = (bottom - top) * (right - left)
                grad_x[:, :, top:bottom, left:right] += grad[:, :, i:i + 1, j:j + 1] / area
        return (grad_x,)


class AdaptiveMaxPool2d(Function):
    """Maximum over PyTorch's adaptive bins, for sizes that do not divide evenly."""

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, x):
        xp = get_array_module(x)
        out, rows, cols = _adaptive_bins("adaptive_max_pool2d", x, self.output_size)
        n, c, _, width = self.x_shape = x.shape
        y = xp.empty((n, c) + out, dtype=x.dtype)
        argmax = xp.empty((n, c) + out, dtype=xp.int64)
        for i, (top, bottom) in enumerate(rows):
            for j, (left, right) in enumerate(cols):
                region = x[:, :, top:bottom, left:right].reshape(n, c, -1)
                tap = region.argmax(axis=2)
                y[:, :, i, j] = xp.take_along_axis(region, tap[:, :, None], axis=2)[:, :, 0]
                argmax[:, :, i, j] = (top + tap // (right - left)) * width + left + tap % (right - left)
        self.save_for_backward(argmax)
        return y

    # dL/dx[argmax] += dL/dy, as for max pooling
    def backward(self, grad):
        (argmax,) = self.saved
        xp = get_array_module(grad)
        n, c, h, w = self.x_shape
        grad_x = xp.zeros((n * c, h * w), dtype=grad.dtype)
        plane = xp.arange(n * c).reshape(n * c, 1)
        scatter_add(grad_x, (plane, argmax.reshape(n * c, -1)), grad.reshape(n * c, -1))
        return (grad_x.reshape(self.x_shape),)


def _even_window(x, output_size, op):
    """The pooling window when the input divides evenly into output_size bins, else None."""
    out, _, _ = _adaptive_bins(op, x, output_size)
    h, w = x.shape[2:]
    if h % out[0] or w % out[1]:
        return None
    return h // out[0], w // out[1]


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """Max pooling with −∞ padding, as torch.nn.functional.max_pool2d (d2l §7.5)."""
    return MaxPool2d(kernel_size, stride, padding)(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """Average pooling, padding counted, as torch.nn.functional.avg_pool2d (d2l §7.5)."""
    return AvgPool2d(kernel_size, stride, padding)(x)


def adaptive_avg_pool2d(x, output_size):
    """Average pooling to a fixed output size; output_size 1 is global average pooling (d2l §8.3)."""
    window = _even_window(x, output_size, "adaptive_avg_pool2d")
    if window is not None:
        return avg_pool2d(x, window)
    return AdaptiveAvgPool2d(output_size)(x)


def adaptive_max_pool2d(x, output_size):
    """Max pooling to a fixed output size with PyTorch's adaptive bins (d2l §7.5)."""
    window = _even_window(x, output_size, "adaptive_max_pool2d")
    if window is not None:
        return max_pool2d(x, window)
    return AdaptiveMaxPool2d(output_size)(x)
