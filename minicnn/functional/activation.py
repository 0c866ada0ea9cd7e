"""Activation functions and the softmax family (d2l §5.1, §4.1)."""
from .. import kernels
from ..autograd import Function
from ..backend import get_array_module
from ._aliases import dim_or_axis


class ReLU(Function):
    """max(x, 0); the output also tells the backward pass where x was positive. The face's
    fused loop (``kernels.fused``) runs instead where there is one."""

    def forward(self, x):
        fast = kernels.fused("relu", x)
        y = fast(x) if fast else get_array_module(x).maximum(x, 0)  # not x * (x > 0): -inf * 0 is nan
        self.save_for_backward(y)
        return y

    # d relu(x)/dx = 1 where x > 0, else 0 (and y > 0 exactly where x > 0)
    def backward(self, grad):
        (y,) = self.saved
        fast = kernels.fused("relu_backward", grad, y)
        return (fast(grad, y) if fast else grad * (y > 0),)


class LeakyReLU(Function):
    """x where x > 0, else negative_slope · x (Maas et al., 2013)."""

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        positive = x > 0
        self.save_for_backward(positive)
        return get_array_module(x).where(positive, x, x * self.negative_slope).astype(x.dtype, copy=False)

    # d leaky_relu(x)/dx = 1 where x > 0, else negative_slope
    def backward(self, grad):
        (positive,) = self.saved
        return (get_array_module(grad).where(positive, grad, grad * self.negative_slope),)


class Sigmoid(Function):
    """The logistic function σ(x) = 1 / (1 + e^-x), computed without overflow (d2l §5.1.2).

    As z / (1 + z) with z = e^-|x| ≤ 1 for x < 0 and as 1 / (1 + z) for x ≥ 0, so nothing
    overflows; the face's fused loop (``kernels.fused``) runs instead where there is one.
    """

    def forward(self, x):
        fast = kernels.fused("sigmoid", x)
        if fast:
            y = fast(x)
        else:
            xp = get_array_module(x)
            z = xp.exp(-abs(x))
            y = xp.where(x >= 0, 1, z) / (1 + z)
        self.save_for_backward(y)
        return y

    # d σ(x)/dx = σ(x)(1 - σ(x))
    def backward(self, grad):
        (y,) = self.saved
        fast = kernels.fused("sigmoid_backward", grad, y)
        return (fast(grad, y) if fast else grad * y * (1 - y),)


class Tanh(Function):
    """The hyperbolic tangent."""

    def forward(self, x):
        y = get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    # d tanh(x)/dx = 1 - tanh²(x)
    def backward(self, grad):
        (y,) = self.saved
        return (grad * (1 - y * y),)


def log_softmax_array(x, axis):
    """log softmax on a raw array, stable: x - max - log Σ exp(x - max)."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    """exp(x) / Σ exp(x) along an axis."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        y = get_array_module(x).exp(log_softmax_array(x, self.axis))
        self.save_for_backward(y)
        return y

    # dL/dx = y ⊙ (g - Σ g⊙y)
    def backward(self, grad):
        (y,) = self.saved
        return (y * (grad - (grad * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """log softmax along an axis, computed stably."""

    def __init__(self, axis=-1):
        self.axis = axis

    def forward(self, x):
        y = log_softmax_array(x, self.axis)
        self.save_for_backward(y)
        return y

    # dL/dx = g - softmax(x) Σ g
    def backward(self, grad):
        (y,) = self.saved
        xp = get_array_module(y)
        return (grad - xp.exp(y) * grad.sum(axis=self.axis, keepdims=True),)


def relu(x):
    """max(x, 0) elementwise (d2l §5.1.2)."""
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope · x, elementwise (torch.nn.functional.leaky_relu)."""
    return LeakyReLU(negative_slope)(x)


def sigmoid(x):
    """1 / (1 + e^-x) elementwise (d2l §5.1.2)."""
    return Sigmoid()(x)


def tanh(x):
    """Hyperbolic tangent elementwise (d2l §5.1.2)."""
    return Tanh()(x)


def softmax(x, dim=None, *, axis=None):
    """exp(x) / Σ exp(x) along ``dim`` (default the last; ``axis=`` is NumPy's alias) (d2l §4.1)."""
    return Softmax(dim_or_axis("softmax", dim, axis, default=-1))(x)


def log_softmax(x, dim=None, *, axis=None):
    """log softmax(x) along ``dim`` (default the last), computed stably (d2l §4.4)."""
    return LogSoftmax(dim_or_axis("log_softmax", dim, axis, default=-1))(x)
