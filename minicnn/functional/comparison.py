"""Elementwise comparisons: ``a == b``, ``a < b``, ... give bool tensors, as PyTorch's do.

A comparison has no useful derivative (it is a step), so these are plain functions, not
Functions: the result never requires grad. d2l §13.10 checks ``Y == matmul(W, X)`` this way.
"""
import operator

from ..autograd import Tensor, as_tensor


def _comparison(compare, symbol):
    def apply(a, b):
        a = as_tensor(a)
        b = as_tensor(b, like=a)
        return Tensor(compare(a.data, b.data))
    apply.__name__ = compare.__name__
    apply.__doc__ = f"``a {symbol} b`` elementwise, with broadcasting: a bool tensor."
    return apply


eq = _comparison(operator.eq, "==")
ne = _comparison(operator.ne, "!=")
lt = _comparison(operator.lt, "<")
le = _comparison(operator.le, "<=")
gt = _comparison(operator.gt, ">")
ge = _comparison(operator.ge, ">=")
