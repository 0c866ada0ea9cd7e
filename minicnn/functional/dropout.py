"""Inverted dropout (Srivastava et al. 2014; d2l §5.6).

In training each element is kept with probability 1 - p and scaled by 1/(1 - p), so the
expected output equals the input and evaluation needs no rescaling. The mask is drawn on
the tensor's own backend (``minicnn.random``), so it is made on the GPU for CuPy tensors.
"""
from ..autograd import Function
from ..backend import get_array_module
from ..random import generator


class Dropout(Function):
    """Inverted dropout: multiply by a kept-or-not mask scaled by 1/(1-p) (d2l §5.6)."""

    def __init__(self, p):
        self.p = p

    def forward(self, x):
        if self.p == 1:
            scale = get_array_module(x).zeros_like(x)
        else:
            keep = generator(get_array_module(x)).random(x.shape, dtype=x.dtype) >= self.p
            scale = keep * x.dtype.type(1 / (1 - self.p))
        self.save_for_backward(scale)
        return x * scale

    # dL/dx = g · mask / (1 - p)
    def backward(self, grad):
        (scale,) = self.saved
        return (grad * scale,)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p, scale the rest by 1/(1-p); identity when not training (d2l §5.6)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    if not training or p == 0:
        return x
    return Dropout(p)(x)
