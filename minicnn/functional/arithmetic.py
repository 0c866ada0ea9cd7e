"""Elementwise arithmetic and matrix product, with broadcasting.

Each backward is the textbook derivative followed by ``unbroadcast``, which sums the
gradient over the axes that broadcasting stretched. (d2l §2.1, §2.5)
"""
from ..autograd import Function
from ..backend import get_array_module
from ._broadcast import unbroadcast


class Add(Function):
    """a + b with broadcasting."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a + b

    # d(a+b)/da = 1, d(a+b)/db = 1
    def backward(self, grad):
        return unbroadcast(grad, self.shapes[0]), unbroadcast(grad, self.shapes[1])


class Sub(Function):
    """a - b with broadcasting."""

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return a - b

    # d(a-b)/da = 1, d(a-b)/db = -1
    def backward(self, grad):
        return unbroadcast(grad, self.shapes[0]), unbroadcast(-grad, self.shapes[1])


class Mul(Function):
    """a * b with broadcasting."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    # d(ab)/da = b, d(ab)/db = a
    def backward(self, grad):
        a, b = self.saved
        grad_a = unbroadcast(grad * b, a.shape) if self.needs_input_grad[0] else None
        grad_b = unbroadcast(grad * a, b.shape) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """a / b with broadcasting."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    # d(a/b)/da = 1/b, d(a/b)/db = -a/b²
    def backward(self, grad):
        a, b = self.saved
        grad_a = unbroadcast(grad / b, a.shape) if self.needs_input_grad[0] else None
        grad_b = unbroadcast(-grad * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Function):
    """-a."""

    def forward(self, a):
        return -a

    # d(-a)/da = -1
    def backward(self, grad):
        return (-grad,)


class Pow(Function):
    """``a ** exponent`` for a Python number ``exponent``."""

    def __init__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(
                f"pow: the exponent must be a Python number, got {type(exponent).__name__}; "
                "for a tensor exponent write exp(b * log(a))"
            )
        self.exponent = exponent

    def forward(self, a):
        self.save_for_backward(a)
        return a ** self.exponent

    # d(a^c)/da = c a^(c-1)  (and 0 for c = 0, even at a = 0)
    def backward(self, grad):
        (a,) = self.saved
        if self.exponent == 0:
            return (grad * 0,)
        return (grad * self.exponent * a ** (self.exponent - 1),)


class Exp(Function):
    """e ** a."""

    def forward(self, a):
        y = get_array_module(a).exp(a)
        self.save_for_backward(y)
        return y

    # d(e^a)/da = e^a
    def backward(self, grad):
        (y,) = self.saved
        return (grad * y,)


class Log(Function):
    """The natural logarithm."""

    def forward(self, a):
        self.save_for_backward(a)
        return get_array_module(a).log(a)

    # d(log a)/da = 1/a
    def backward(self, grad):
        (a,) = self.saved
        return (grad / a,)


class Sqrt(Function):
    """The square root."""

    def forward(self, a):
        y = get_array_module(a).sqrt(a)
        self.save_for_backward(y)
        return y

    # d(√a)/da = 1 / (2√a)
    def backward(self, grad):
        (y,) = self.saved
        return (grad / (2 * y),)


class Abs(Function):
    """|a|."""

    def forward(self, a):
        self.save_for_backward(a)
        return get_array_module(a).abs(a)

    # d|a|/da = sign(a)  (0 at a = 0, as PyTorch)
    def backward(self, grad):
        (a,) = self.saved
        return (grad * get_array_module(a).sign(a),)


class Clamp(Function):
    """``a`` limited to [min, max]; either bound may be None."""

    def __init__(self, low=None, high=None):
        if low is None and high is None:
            raise ValueError("clamp: give min, max or both")
        self.low, self.high = low, high

    def forward(self, a):
        xp = get_array_module(a)
        inside = xp.ones(a.shape, dtype=bool)
        if self.low is not None:
            inside &= a >= self.low
        if self.high is not None:
            inside &= a <= self.high
        self.save_for_backward(inside)
        return xp.clip(a, self.low, self.high).astype(a.dtype, copy=False)

    # d clamp(a)/da = 1 inside [min, max], 0 where a bound was applied
    def backward(self, grad):
        (inside,) = self.saved
        return (grad * inside,)


SMALL_PRODUCT = 4096  # multiply-adds up to which a matrix product sums its terms in order


class MatMul(Function):
    """Matrix product with NumPy's rules: 1-D operands and broadcast batch axes.

    A small product (at most SMALL_PRODUCT multiply-adds) sums each row·column in order,
    as PyTorch's CPU does for tiny matrices, so it agrees to the last bit with the same sum
    written out by hand (d2l §6.4 checks a 1×1 convolution against ``matmul`` to 1e-6);
    BLAS fuses multiply-adds and rounds float32 differently. Larger products go to BLAS.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0 or a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not chain: the last axis of the "
                "first must equal the second-to-last of the second"
            )
        self.save_for_backward(a, b)
        if a.ndim == 2 and b.ndim <= 2 and a.size * b.shape[-1] <= SMALL_PRODUCT:
            return get_array_module(a).einsum("ij,jk->ik" if b.ndim == 2 else "ij,j->i", a, b)
        return a @ b

    # dL/da = g @ bᵀ, dL/db = aᵀ @ g  (1-D operands promoted to matrices first)
    def backward(self, grad):
        a, b = self.saved
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if b.ndim == 1:
            g2 = g2[..., None]
        if a.ndim == 1:
            g2 = g2[..., None, :]
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = unbroadcast(g2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            grad_b = unbroadcast(a2.swapaxes(-1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b


def add(a, b):
    """a + b with broadcasting."""
    return Add()(a, b)


def sub(a, b):
    """a - b with broadcasting."""
    return Sub()(a, b)


def mul(a, b):
    """a * b with broadcasting."""
    return Mul()(a, b)


def div(a, b):
    """a / b with broadcasting."""
    return Div()(a, b)


def neg(a):
    """-a."""
    return Neg()(a)


def pow(a, exponent):
    """a ** exponent for a Python number exponent."""
    return Pow(exponent)(a)


def exp(a):
    """e ** a, elementwise."""
    return Exp()(a)


def log(a):
    """Natural logarithm, elementwise."""
    return Log()(a)


def sqrt(a):
    """Square root, elementwise."""
    return Sqrt()(a)


def abs(a):
    """|a|, elementwise."""
    return Abs()(a)


def clamp(a, min=None, max=None):
    """``a`` clipped to [min, max] elementwise (torch.clamp); the gradient is 0 where clipped."""
    return Clamp(min, max)(a)


def matmul(a, b):
    """Matrix product a @ b (NumPy rules for 1-D and batched operands)."""
    return MatMul()(a, b)
