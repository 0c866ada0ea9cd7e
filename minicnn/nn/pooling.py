"""Pooling layers: max, average and adaptive average pooling (d2l §7.5, §8.3 NiN's global pooling)."""
from ..functional.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from .module import Module


class _Pool2d(Module):
    """A window slid over the image: kernel_size, stride (default: the kernel size), padding."""

    pool = None  # the functional op, set by each subclass

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x):
        return type(self).pool(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """The largest value in each window; stride defaults to the kernel size (d2l §7.5)."""

    pool = staticmethod(max_pool2d)


class AvgPool2d(_Pool2d):
    """The mean of each window, zero padding counted as PyTorch does by default (d2l §7.5)."""

    pool = staticmethod(avg_pool2d)


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output size, e.g. (1, 1) for global pooling (d2l §8.3, Lin et al. 2013)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        return adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"
