"""Reductions: sum, mean, max/min, var/std and argmax over dims (an int, a tuple, or all), PyTorch's names.

``dim``/``keepdim`` are the names; NumPy's ``axis``/``keepdims`` are accepted as aliases.
"""
from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._aliases import dim_or_axis, keep
from .arithmetic import neg, sqrt


def _normalize_axes(axis, ndim):
    """``axis`` as a sorted tuple of non-negative axes (None means all)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    for a in axes:  # careful: in this module max and sum are the ops below, not the builtins
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % ndim for a in axes))


def _expand(grad, axes, keepdims, shape):
    """Put back the reduced axes of ``grad`` (as size 1) and broadcast it to ``shape``."""
    xp = get_array_module(grad)
    if not keepdims:
        grad = xp.expand_dims(grad, axes) if axes else grad
    return xp.broadcast_to(grad, shape)


class Sum(Function):
    """Sum over axes."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        self.axes, self.shape = _normalize_axes(self.axis, a.ndim), a.shape
        return a.sum(axis=self.axes, keepdims=self.keepdims)

    # d(Σ a)/da = 1 for every summed element
    def backward(self, grad):
        return (_expand(grad, self.axes, self.keepdims, self.shape).copy(),)


class Mean(Function):
    """Mean over axes."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        self.axes, self.shape = _normalize_axes(self.axis, a.ndim), a.shape
        self.count = 1
        for axis in self.axes:
            self.count *= a.shape[axis]
        return a.mean(axis=self.axes, keepdims=self.keepdims)

    # d(mean a)/da = 1/n for every averaged element
    def backward(self, grad):
        return (_expand(grad / self.count, self.axes, self.keepdims, self.shape),)


class Max(Function):
    """Maximum over axes; ties share the gradient equally (as torch.amax)."""

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, a):
        self.axes = _normalize_axes(self.axis, a.ndim)
        peak = a.max(axis=self.axes, keepdims=True)
        self.save_for_backward(a == peak)
        return peak if self.keepdims else peak.squeeze(self.axes)

    # d(max a)/da = 1 at the maximum (split among ties), 0 elsewhere
    def backward(self, grad):
        (is_max,) = self.saved
        share = is_max.astype(grad.dtype)
        share /= share.sum(axis=self.axes, keepdims=True)
        return (_expand(grad, self.axes, self.keepdims, is_max.shape) * share,)


def sum(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Sum over ``dim`` (int, tuple or None for all)."""
    return Sum(dim_or_axis("sum", dim, axis), keep(keepdim, keepdims))(a)


def mean(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Mean over ``dim`` (int, tuple or None for all)."""
    return Mean(dim_or_axis("mean", dim, axis), keep(keepdim, keepdims))(a)


def max(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The maximum over ``dim`` (int, tuple or None for all): the values, as torch.amax; ``argmax`` gives the indices."""
    return Max(dim_or_axis("max", dim, axis), keep(keepdim, keepdims))(a)


def min(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """The minimum over ``dim``, as ``-max(-a)``: the values, as torch.amin; ``argmin`` gives the indices."""
    return neg(Max(dim_or_axis("min", dim, axis), keep(keepdim, keepdims))(neg(a)))


def _arg(op, a, dim, keepdim):
    xp = get_array_module(a.data)
    flat = a.data.reshape(-1) if dim is None else a.data
    index = getattr(xp, op)(flat, axis=0 if dim is None else dim)
    if keepdim:
        index = index.reshape((1,) * a.ndim) if dim is None else xp.expand_dims(index, dim)
    return Tensor(xp.asarray(index, dtype="int64"))


def argmax(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the maximum along ``dim`` (of the flattened tensor when None), int64; not differentiable."""
    return _arg("argmax", a, dim_or_axis("argmax", dim, axis), keep(keepdim, keepdims))


def argmin(a, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index of the minimum along ``dim`` (of the flattened tensor when None), int64; not differentiable."""
    return _arg("argmin", a, dim_or_axis("argmin", dim, axis), keep(keepdim, keepdims))


def var(a, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Variance over ``dim``: Σ(a - mean)² / (n - correction), correction 1 (Bessel) unless ``unbiased=False``."""
    dim, keepdim = dim_or_axis("var", dim, axis), keep(keepdim, keepdims)
    correction = (1 if unbiased else 0) if correction is None else correction
    axes = _normalize_axes(dim, a.ndim)
    count = 1
    for k in axes:
        count *= a.shape[k]
    centred = a - Mean(axes, True)(a)
    return Sum(axes, keepdim)(centred * centred) / (count - correction)


def std(a, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """Standard deviation: the square root of ``var`` with the same arguments."""
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims))
