"""Reductions: sum, mean and max over axes (an int, a tuple, or all), with keepdims."""
from ..autograd import Function
from ..backend import get_array_module


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


def sum(a, axis=None, keepdims=False):
    """Sum over ``axis`` (int, tuple or None for all)."""
    return Sum(axis, keepdims)(a)


def mean(a, axis=None, keepdims=False):
    """Mean over ``axis`` (int, tuple or None for all)."""
    return Mean(axis, keepdims)(a)


def max(a, axis=None, keepdims=False):
    """Maximum over ``axis`` (int, tuple or None for all)."""
    return Max(axis, keepdims)(a)
