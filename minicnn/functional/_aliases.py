"""PyTorch's argument names first, NumPy's as aliases: ``dim``/``axis`` and ``keepdim``/``keepdims``."""


def dim_or_axis(op, dim, axis, default=None):
    """The axis asked for, under PyTorch's name ``dim`` or NumPy's ``axis`` (not both)."""
    if axis is None:
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{op}: give dim= or its NumPy alias axis=, not both")
    return axis


def keep(keepdim, keepdims):
    """``keepdim`` (PyTorch) unless NumPy's ``keepdims`` was given."""
    return bool(keepdim if keepdims is None else keepdims)
