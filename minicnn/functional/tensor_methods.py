"""Give Tensor its Python operators and methods (``a + b``, ``a @ b``, ``a.sum()``, ``a[i]``).

They live here, not in autograd.py, because they need the Functions of this package and
imports run one way: autograd <- functional.
"""
from ..autograd import Tensor, as_tensor
from . import activation, arithmetic, reduction, shape


def _binary(function, reflected=False):
    def method(self, other):
        other = as_tensor(other, like=self)
        return function(other, self) if reflected else function(self, other)
    return method


def _flatten(self, start_dim=0):
    """``Tensor.flatten()`` flattens everything, as torch.Tensor.flatten does."""
    return shape.flatten(self, start_dim)


def _rpow(self, base):
    return arithmetic.exp(self * arithmetic.log(as_tensor(base, like=self)))


_METHODS = {
    "__add__": _binary(arithmetic.add),
    "__radd__": _binary(arithmetic.add, reflected=True),
    "__sub__": _binary(arithmetic.sub),
    "__rsub__": _binary(arithmetic.sub, reflected=True),
    "__mul__": _binary(arithmetic.mul),
    "__rmul__": _binary(arithmetic.mul, reflected=True),
    "__truediv__": _binary(arithmetic.div),
    "__rtruediv__": _binary(arithmetic.div, reflected=True),
    "__matmul__": _binary(arithmetic.matmul),
    "__rmatmul__": _binary(arithmetic.matmul, reflected=True),
    "__pow__": arithmetic.pow,
    "__rpow__": _rpow,
    "__neg__": arithmetic.neg,
    "__getitem__": shape.getitem,
    "sum": reduction.sum,
    "mean": reduction.mean,
    "max": reduction.max,
    "reshape": shape.reshape,
    "transpose": shape.transpose,
    "permute": shape.permute,
    "flatten": _flatten,
    "exp": arithmetic.exp,
    "log": arithmetic.log,
    "sqrt": arithmetic.sqrt,
    "relu": activation.relu,
    "sigmoid": activation.sigmoid,
    "tanh": activation.tanh,
    "softmax": activation.softmax,
    "log_softmax": activation.log_softmax,
}


def install():
    """Attach the operators and methods above to Tensor (idempotent)."""
    for name, method in _METHODS.items():
        setattr(Tensor, name, method)
    Tensor.T = property(lambda self: shape.transpose(self), doc="The tensor with its axes reversed.")
