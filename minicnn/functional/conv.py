"""Convolution and transposed convolution: im2col + one matrix product, and its adjoint.

conv2d unfolds every receptive field into a column and multiplies by the weights. Its input
gradient folds the columns back (col2im), which is exactly a transposed convolution; and
the transposed convolution's input gradient is a convolution. One mechanism, two uses.
The loops live in ``minicnn.kernels``; this file holds the maths and the checks.
Idea: d2l §7.2 (convolutions for images), §14.10 (transposed convolution); DeZero step 57.
"""
import numbers

from .. import kernels
from ..autograd import Function
from ..backend import get_array_module
from ..kernels import output_hw


def as_pair(value, name, op):
    """An int or a pair of ints as a (height, width) tuple; anything else is a clear error."""
    def is_int(v):
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    pair = (value, value) if is_int(value) else tuple(value) if hasattr(value, "__len__") else ()
    if len(pair) != 2 or not all(is_int(v) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def _check_positive(pair, name, op, minimum=1):
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be at least {minimum}, got {pair}")


def _check_arrays(op, x, weight, bias, weight_layout):
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x.shape)}")
    if weight.ndim != 4:
        raise ValueError(
            f"{op}: expected a 4-D weight {weight_layout}, got shape {tuple(weight.shape)}"
        )
    if x.dtype != weight.dtype:
        fix = ("scale the images to floats in [0, 1] first (images / 255 as float32, as the datasets "
               "and the DataLoader do)" if x.dtype.kind in "biu" else
               "convert one of them (mixing them would compute in the wider type)")
        raise TypeError(f"{op}: input is {x.dtype} but weight is {weight.dtype}; {fix}")
    channels = weight.shape[0] if op == "conv_transpose2d" else weight.shape[1]
    if x.shape[1] != channels:
        raise ValueError(
            f"{op}: input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the weight "
            f"{tuple(weight.shape)} {weight_layout} expects {channels}; "
            "check in_channels or the previous layer's out_channels"
        )
    out_channels = weight.shape[1] if op == "conv_transpose2d" else weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(
            f"{op}: bias has shape {tuple(bias.shape)} but there are {out_channels} output "
            f"channels (weight {tuple(weight.shape)}); the bias must have shape ({out_channels},)"
        )


def _add_bias(y, bias):
    """y + b, one number per channel of y (N, C, H, W), in place."""
    if bias is None:
        return y
    fast = kernels.fused("add_channel_bias", y, bias)
    if fast:
        return fast(y, bias)
    y += bias.reshape(1, -1, 1, 1)
    return y


def _bias_grad(grad):
    """dL/db = Σ_{n,h,w} dL/dy: one sum per channel of grad (N, C, H, W)."""
    sums = kernels.fused("channel_sums", grad)
    if sums:
        return sums(grad)
    # over the batch first, in contiguous rows: several times faster in NumPy than one sum
    # over the axes (0, 2, 3)
    return grad.sum(axis=0).reshape(grad.shape[1], -1).sum(axis=1)


def _live_taps(in_hw, kernel_hw, stride, padding, dilation):
    """(rows, cols, padding): the kernel taps that ever meet the image and the padding they need,
    or None when every tap does.

    On a map smaller than the kernel's reach the outer taps only ever multiply padding: a 3×3
    convolution with padding 1 on a 1×1 map (SE-ResNet-18's last stage at 28 pixels) is its
    centre tap alone, a 5×5 one with padding 2 on a 2×2 map its middle 3×3. Dropping them gives
    the same output for 9× (or 25/9×) fewer products. Per axis, with stride 1 and no dilation,
    tap i meets the image iff p - (out - 1) <= i <= size - 1 + p; the live taps are symmetric
    about the centre, so one padding per axis still describes them.
    """
    if tuple(stride) != (1, 1) or tuple(dilation) != (1, 1):
        return None
    live = []
    for size, k, p in zip(in_hw, kernel_hw, padding):
        out = size + 2 * p - k + 1
        first, last = max(0, p - out + 1), min(k - 1, size - 1 + p)
        live.append((first, last))
    if all(first == 0 and last == k - 1 for (first, last), k in zip(live, kernel_hw)):
        return None
    (top, bottom), (left, right) = live
    return slice(top, bottom + 1), slice(left, right + 1), (padding[0] - top, padding[1] - left)


class Conv2d(Function):
    """y = x ⋆ W + b, cross-correlation over NCHW input (d2l §7.2; LeCun et al. 1998)."""

    def __init__(self, stride=1, padding=0, dilation=1):
        self.stride = as_pair(stride, "stride", "conv2d")
        self.padding = as_pair(padding, "padding", "conv2d")
        self.dilation = as_pair(dilation, "dilation", "conv2d")
        _check_positive(self.stride, "stride", "conv2d")
        _check_positive(self.padding, "padding", "conv2d", minimum=0)
        _check_positive(self.dilation, "dilation", "conv2d")

    def forward(self, x, weight, bias=None):
        _check_arrays("conv2d", x, weight, bias, "(C_out, C_in, kh, kw)")
        self._check_output_size(x.shape, weight.shape)
        self.save_for_backward(x, weight)
        self.live = _live_taps(x.shape[2:], weight.shape[2:], self.stride, self.padding, self.dilation)
        live_weight, padding = self._live_weight(weight)
        return _add_bias(kernels.conv2d(x, live_weight, self.stride, padding, self.dilation), bias)

    # dL/dx = conv_transpose2d(dL/dy, W); dL/dW = dL/dy · im2col(x)ᵀ (zero for the padding-only
    # taps); dL/db = Σ_{n,h,w} dL/dy
    def backward(self, grad):
        x, weight = self.saved
        live_weight, padding = self._live_weight(weight)
        settings = (self.stride, padding, self.dilation)
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_x = kernels.conv_transpose2d(grad, live_weight, x.shape[2:], *settings)
        if self.needs_input_grad[1]:
            grad_w = kernels.conv2d_weight(x, grad, live_weight.shape[2:], *settings)
            if self.live is not None:  # the padding-only taps' gradient is zero
                full = get_array_module(weight).zeros_like(weight)
                full[:, :, self.live[0], self.live[1]] = grad_w
                grad_w = full
        if self.needs_input_grad[2]:
            grad_b = _bias_grad(grad)
        return grad_x, grad_w, grad_b

    def _live_weight(self, weight):
        """(the taps that meet the image, as a contiguous array; their padding): see _live_taps."""
        if self.live is None:
            return weight, self.padding
        rows, cols, padding = self.live
        return weight[:, :, rows, cols].copy(), padding

    def _check_output_size(self, x_shape, w_shape):
        out = output_hw(x_shape[2:], w_shape[2:], self.stride, self.padding, self.dilation)
        if min(out) < 1:
            span = [self.dilation[a] * (w_shape[2 + a] - 1) + 1 for a in (0, 1)]
            padded = [x_shape[2 + a] + 2 * self.padding[a] for a in (0, 1)]
            raise ValueError(
                f"conv2d: the kernel {w_shape[2]}x{w_shape[3]} (spanning {span[0]}x{span[1]} "
                f"with dilation {self.dilation}) is larger than the padded input "
                f"{padded[0]}x{padded[1]} (input {tuple(x_shape)}, padding {self.padding}), "
                f"so the output would be {out[0]}x{out[1]}; add padding, use a smaller kernel, "
                "or check that the input is not already too small from earlier pooling"
            )


class ConvTranspose2d(Function):
    """The adjoint of conv2d, used to upsample (d2l §14.10; Long et al. 2015, FCN)."""

    def __init__(self, stride=1, padding=0, output_padding=0):
        self.stride = as_pair(stride, "stride", "conv_transpose2d")
        self.padding = as_pair(padding, "padding", "conv_transpose2d")
        self.output_padding = as_pair(output_padding, "output_padding", "conv_transpose2d")
        _check_positive(self.stride, "stride", "conv_transpose2d")
        _check_positive(self.padding, "padding", "conv_transpose2d", minimum=0)
        _check_positive(self.output_padding, "output_padding", "conv_transpose2d", minimum=0)
        if any(op >= s for op, s in zip(self.output_padding, self.stride)):
            raise ValueError(
                f"conv_transpose2d: output_padding {self.output_padding} must be smaller than "
                f"the stride {self.stride}; it only picks among the output sizes a strided "
                "convolution maps to the same input size"
            )

    def forward(self, x, weight, bias=None):
        _check_arrays("conv_transpose2d", x, weight, bias, "(C_in, C_out, kh, kw)")
        out_hw = self._output_hw(x.shape, weight.shape)
        self.save_for_backward(x, weight)
        y = kernels.conv_transpose2d(x, weight, out_hw, self.stride, self.padding, (1, 1))
        return _add_bias(y, bias)

    # dL/dx = conv2d(dL/dy, W); dL/dW = conv2d's weight gradient with x and dL/dy swapped;
    # dL/db = Σ_{n,h,w} dL/dy
    def backward(self, grad):
        x, weight = self.saved
        settings = (self.stride, self.padding, (1, 1))
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:
            grad_x = kernels.conv2d(grad, weight, *settings)
        if self.needs_input_grad[1]:
            grad_w = kernels.conv2d_weight(grad, x, weight.shape[2:], *settings)
        if self.needs_input_grad[2]:
            grad_b = _bias_grad(grad)
        return grad_x, grad_w, grad_b

    def _output_hw(self, x_shape, w_shape):
        out = tuple((x_shape[2 + a] - 1) * self.stride[a] - 2 * self.padding[a]
                    + w_shape[2 + a] + self.output_padding[a] for a in (0, 1))
        if min(out) < 1:
            raise ValueError(
                f"conv_transpose2d: input {tuple(x_shape)} with kernel {w_shape[2]}x{w_shape[3]}, "
                f"stride {self.stride}, padding {self.padding} and output_padding "
                f"{self.output_padding} gives a non-positive output size {out[0]}x{out[1]}; "
                "reduce the padding"
            )
        return out


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """2-D cross-correlation, weight (C_out, C_in, kh, kw), as torch.nn.functional.conv2d (d2l §7.2)."""
    return Conv2d(stride, padding, dilation)(x, weight, bias)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0):
    """Transposed convolution, weight (C_in, C_out, kh, kw), as PyTorch's (d2l §14.10)."""
    return ConvTranspose2d(stride, padding, output_padding)(x, weight, bias)
