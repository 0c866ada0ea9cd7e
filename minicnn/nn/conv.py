"""Convolution layers: Conv2d (d2l §7.2–7.4) and the transposed convolution ConvTranspose2d (d2l §14.10)."""
import math
import numbers

from .. import backend
from ..functional.conv import conv2d, conv_transpose2d
from . import init
from .module import Module
from .parameter import Parameter


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class _ConvBase(Module):
    """What Conv2d and ConvTranspose2d share: settings, PyTorch's default init, input checks, repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, weight_shape, bias):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = _pair(kernel_size), _pair(stride), _pair(padding)
        self._check_sizes()
        xp = backend.xp()
        self.weight = Parameter(xp.empty(weight_shape + self.kernel_size, dtype="float32"))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype="float32"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """kaiming_uniform_(a=√5) for the weight, U(-1/√fan_in, 1/√fan_in) for the bias, as PyTorch."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def _check_sizes(self):
        """Channels and kernel sides are whole numbers of at least 1: with 0 there is nothing to convolve."""
        sizes = {"in_channels": (self.in_channels,), "out_channels": (self.out_channels,),
                 "kernel_size": self.kernel_size}
        for name, values in sizes.items():
            if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in values):
                raise ValueError(
                    f"{self._signature()}: {name} must be a positive whole number, got "
                    f"{values[0] if len(values) == 1 else values}"
                )

    def _check_input(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self._signature()} expects input (N, {self.in_channels}, H, W) but got shape "
                f"{tuple(x.shape)}: check in_channels against the previous layer's out_channels "
                "(or the image's channels: 1 for Fashion-MNIST, 3 for colour)"
            )

    def _signature(self):
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})"

    def extra_repr(self):
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        return text


class Conv2d(_ConvBase):
    """2-D cross-correlation with weight (C_out, C_in, kh, kw) and PyTorch's default init (d2l §7.2–7.4)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, (out_channels, in_channels), bias)
        self.dilation = _pair(dilation)

    def forward(self, x):
        self._check_input(x)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self):
        text = super().extra_repr()
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        return text if self.bias is not None else text + ", bias=False"


class ConvTranspose2d(_ConvBase):
    """Transposed convolution with weight (C_in, C_out, kh, kw): upsampling, FCN's head (d2l §14.10, §14.11)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, (in_channels, out_channels), bias)
        self.output_padding = _pair(output_padding)

    def forward(self, x):
        self._check_input(x)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding)

    def extra_repr(self):
        text = super().extra_repr()
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        return text if self.bias is not None else text + ", bias=False"
