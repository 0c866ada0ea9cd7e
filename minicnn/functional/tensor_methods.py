"""Give Tensor its Python operators and PyTorch's methods (``a + b``, ``a == b``, ``a.sum(dim=0)``, ``a[i] = v``).

They live here, not in autograd.py, because they need the Functions of this package and
imports run one way: autograd <- functional. The names and results are torch.Tensor's, so
d2l's code runs unchanged (d2l §2.1 lists most of them); each one is a thin call into a
Function of this package, where its derivative lives.
"""
from ..autograd import Tensor, as_tensor
from ..backend import get_array_module, to_numpy
from ..device import device
from . import activation, arithmetic, comparison, reduction, shape


def _binary(function, reflected=False):
    def method(self, other):
        other = as_tensor(other, like=self)
        return function(other, self) if reflected else function(self, other)
    return method


def _comparison(function):
    def method(self, other):
        if other is None or not (isinstance(other, (Tensor, int, float, list, tuple)) or hasattr(other, "shape")):
            return NotImplemented  # `t == None` is False, as in PyTorch
        return function(self, other)
    return method


def _rpow(self, base):
    return arithmetic.exp(self * arithmetic.log(as_tensor(base, like=self)))


# --- one-element tensors as Python values --------------------------------------------------


def _bool(self):
    if self.data.size != 1:
        raise RuntimeError(
            f"Boolean value of Tensor with {'no values' if self.data.size == 0 else 'more than one value'} "
            f"is ambiguous (shape {self.shape}): use .any() or .all(), or compare one element"
        )
    return bool(self.item())


def _format(self, spec):
    if self.data.size == 1:
        return format(self.item(), spec)
    if spec:
        raise TypeError(f"format spec {spec!r} needs a one-element tensor, got shape {self.shape}")
    return str(self)


def _index(self):
    if self.dtype.kind not in "iu":
        raise TypeError(f"only integer tensors can be used as an index, got dtype {self.dtype}")
    return int(self.item())


def _array(self, dtype=None, copy=None):
    values = to_numpy(self.data)
    return values if dtype is None else values.astype(dtype)


def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (self[i] for i in range(len(self)))


# --- shape and size ------------------------------------------------------------------------


class _Size(int):
    """``t.size`` is NumPy's element count and also PyTorch's method: ``t.size()`` the shape, ``t.size(d)`` one axis."""

    def __new__(cls, shape, count):
        size = super().__new__(cls, count)
        size.shape = shape
        return size

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


def _flatten(self, start_dim=0, end_dim=-1):
    """``Tensor.flatten()`` flattens everything, as torch.Tensor.flatten does."""
    start, end = start_dim % max(self.ndim, 1), end_dim % max(self.ndim, 1)
    merged = 1
    for size in self.shape[start:end + 1]:
        merged *= size
    return shape.reshape(self, tuple(self.shape[:start]) + (merged,) + tuple(self.shape[end + 1:]))


# --- dtype, device and graph ---------------------------------------------------------------


def _to(self, *args, dtype=None, device=None, **_options):
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or ``t.to(other)``; ``t`` itself when nothing changes."""
    for arg in args:
        if isinstance(arg, Tensor):
            dtype, device = arg.dtype, arg.device
        elif _is_device(arg):
            device = arg
        else:
            dtype = arg
    return shape.convert(self, dtype, device)


def _is_device(value):
    if isinstance(value, device):
        return True
    return isinstance(value, str) and value.split(":")[0] in ("cpu", "cuda", "gpu", "numpy", "cupy")


def _type(self, dtype=None):
    """With a dtype, this tensor as that dtype; without, a string naming the dtype."""
    if dtype is None:
        return f"minicnn.Tensor[{self.dtype}]"
    return shape.convert(self, dtype)


def _caster(dtype):
    def method(self):
        return shape.convert(self, dtype)
    method.__doc__ = f"This tensor as {dtype} (itself when it already is)."
    return method


def _dim(self):
    """The number of dimensions."""
    return self.ndim


def _cuda(self, device=None):
    """This tensor on the GPU (the CuPy backend); itself when it is there already."""
    return shape.convert(self, where="cuda" if device is None else device)


def _cpu(self):
    """This tensor on the CPU (the NumPy backend); itself when it is there already."""
    return shape.convert(self, where="cpu")


def _requires_grad_(self, requires_grad=True):
    """Start (or stop) recording operations on this tensor for autograd, in place; returns it."""
    if requires_grad and self.dtype.kind != "f":
        raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
    self.requires_grad = bool(requires_grad)
    return self


def _tolist(self):
    """The values as nested Python lists (a number for a 0-d tensor)."""
    return to_numpy(self.data).tolist()


def _numel(self):
    """The number of elements."""
    return int(self.data.size)


def _any(self):
    """A bool tensor: is any element true (non-zero)?"""
    return Tensor(get_array_module(self.data).asarray(self.data.any()))


def _all(self):
    """A bool tensor: are all elements true (non-zero)?"""
    return Tensor(get_array_module(self.data).asarray(self.data.all()))


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
    "__abs__": arithmetic.abs,
    "__eq__": _comparison(comparison.eq),
    "__ne__": _comparison(comparison.ne),
    "__lt__": _comparison(comparison.lt),
    "__le__": _comparison(comparison.le),
    "__gt__": _comparison(comparison.gt),
    "__ge__": _comparison(comparison.ge),
    "__getitem__": shape.getitem,
    "__setitem__": shape.setitem,
    "__iter__": _iter,
    "__bool__": _bool,
    "__float__": lambda self: float(self.item()),
    "__int__": lambda self: int(self.item()),
    "__index__": _index,
    "__format__": _format,
    "__array__": _array,
    "sum": reduction.sum,
    "mean": reduction.mean,
    "max": reduction.max,
    "min": reduction.min,
    "argmax": reduction.argmax,
    "argmin": reduction.argmin,
    "var": reduction.var,
    "std": reduction.std,
    "any": _any,
    "all": _all,
    "reshape": shape.reshape,
    "view": shape.reshape,
    "transpose": shape.transpose,
    "permute": shape.permute,
    "flatten": _flatten,
    "unsqueeze": shape.unsqueeze,
    "squeeze": shape.squeeze,
    "clone": shape.clone,
    "exp": arithmetic.exp,
    "log": arithmetic.log,
    "sqrt": arithmetic.sqrt,
    "abs": arithmetic.abs,
    "clamp": arithmetic.clamp,
    "matmul": arithmetic.matmul,
    "relu": activation.relu,
    "sigmoid": activation.sigmoid,
    "tanh": activation.tanh,
    "softmax": activation.softmax,
    "log_softmax": activation.log_softmax,
    "numel": _numel,
    "dim": _dim,
    "tolist": _tolist,
    "to": _to,
    "type": _type,
    "float": _caster("float32"),
    "double": _caster("float64"),
    "long": _caster("int64"),
    "int": _caster("int32"),
    "bool": _caster("bool"),
    "cuda": _cuda,
    "cpu": _cpu,
    "requires_grad_": _requires_grad_,
}


def install():
    """Attach the operators and methods above to Tensor (idempotent)."""
    for name, method in _METHODS.items():
        setattr(Tensor, name, method)
    Tensor.T = property(lambda self: shape.transpose(self), doc="The tensor with its axes reversed.")
    Tensor.size = property(lambda self: _Size(self.data.shape, self.data.size),
                           doc="The element count; called, PyTorch's size(): the shape, or size(dim).")
