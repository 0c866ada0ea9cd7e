"""Operations that move values without changing them: reshape, transpose, indexing, item
assignment, concat and stack, flatten, and conversion to another dtype or device.

Their backward passes move the gradient back the same way (d2l §2.1).
"""
from ..autograd import Function, Tensor, as_tensor, is_grad_enabled
from ..backend import backend_of, get_array_module, scatter_add
from ..device import backend_name, device_of, move
from ._aliases import dim_or_axis
from ._broadcast import unbroadcast


class Reshape(Function):
    """The same values under a new shape."""

    def __init__(self, shape):
        self.shape = shape

    def forward(self, a):
        self.input_shape = a.shape
        try:
            return a.reshape(self.shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) "
                f"into {self.shape}"
            ) from None

    # reshaping is a relabelling: the gradient is reshaped back
    def backward(self, grad):
        return (grad.reshape(self.input_shape),)


class Transpose(Function):
    """The axes in a new order."""

    def __init__(self, axes=None):
        self.axes = axes

    def forward(self, a):
        if self.axes is None:
            self.axes = tuple(reversed(range(a.ndim)))
        self.axes = tuple(axis % a.ndim for axis in self.axes)  # -1 -> ndim-1
        return a.transpose(self.axes)

    # the gradient goes back through the inverse permutation (the argsort of the axes)
    def backward(self, grad):
        inverse = sorted(range(len(self.axes)), key=self.axes.__getitem__)
        return (grad.transpose(inverse),)


class GetItem(Function):
    """``a[index]`` for basic slices and integer-array (advanced) indexing."""

    def __init__(self, index):
        self.index = _unwrap_index(index)

    def forward(self, a):
        self.input_shape, self.dtype = a.shape, a.dtype
        return a[self.index]

    # each selected element receives its gradient; repeated picks add up
    def backward(self, grad):
        xp = get_array_module(grad)
        out = xp.zeros(self.input_shape, dtype=grad.dtype)
        scatter_add(out, self.index, grad)
        return (out,)


class SetItem(Function):
    """``a`` with ``a[index] = value``, as a new array: whatever saved the old ``a`` for its backward keeps it."""

    def __init__(self, index):
        self.index = _unwrap_index(index)

    def forward(self, a, value):
        self.value_shape, self.value_dtype = value.shape, value.dtype
        out = a.copy()
        out[self.index] = value
        return out

    # dL/da = g with the overwritten positions zeroed; dL/dvalue = g[index], summed back to value's shape
    def backward(self, grad):
        grad_a = grad_value = None
        if self.needs_input_grad[0]:
            grad_a = grad.copy()
            grad_a[self.index] = 0
        if self.needs_input_grad[1]:
            grad_value = unbroadcast(grad[self.index], self.value_shape).astype(self.value_dtype, copy=False)
        return grad_a, grad_value


def _unwrap_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


class Concat(Function):
    """Tensors joined along one axis."""

    def __init__(self, axis=1):
        self.axis = axis

    def forward(self, *arrays):
        _check_concat(arrays, self.axis)
        xp = get_array_module(*arrays)
        self.sizes = [a.shape[self.axis] for a in arrays]
        return xp.concatenate(arrays, axis=self.axis)

    # each input gets back its own slice of the gradient
    def backward(self, grad):
        xp = get_array_module(grad)
        cuts, position = [], 0
        for size in self.sizes[:-1]:
            position += size
            cuts.append(position)
        return tuple(xp.split(grad, cuts, axis=self.axis))


def _check_concat(arrays, axis):
    if not arrays:
        raise ValueError("concat: needs at least one tensor")
    first = arrays[0]
    axis = axis % first.ndim
    for i, a in enumerate(arrays[1:], start=1):
        other = tuple(s for k, s in enumerate(a.shape) if k != axis)
        expected = tuple(s for k, s in enumerate(first.shape) if k != axis)
        if a.ndim != first.ndim or other != expected:
            raise ValueError(
                f"concat: tensor {i} has shape {a.shape} but tensor 0 has shape {first.shape}; "
                f"all sizes except axis {axis} must match (check the branches' strides and padding)"
            )


class Convert(Function):
    """The same values as another dtype and/or on another device (``t.to(...)``, ``t.float()``, ``t.cuda()``)."""

    def __init__(self, dtype=None, where=None):
        self.dtype, self.where = dtype, where

    def forward(self, a):
        self.input_dtype, self.input_device = a.dtype, device_of(a)
        out = a if self.where is None else move(a, self.where)
        return out.astype(a.dtype if self.dtype is None else self.dtype)  # astype copies: a new tensor

    # the values are unchanged, so the gradient only goes back to the input's dtype and device
    def backward(self, grad):
        return (move(grad, self.input_device).astype(self.input_dtype, copy=False),)


def reshape(a, *shape):
    """``a`` with a new shape (one entry may be -1)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return Reshape(shape)(a)


def permute(a, *axes):
    """Reorder the axes of ``a``: ``permute(x, 0, 2, 3, 1)`` turns NCHW into NHWC."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return Transpose(axes or None)(a)


def transpose(a, *axes):
    """PyTorch's ``transpose(dim0, dim1)`` swaps two axes; a full permutation or no axes
    (reverse all) is also accepted, as in NumPy."""
    if len(axes) == 2 and a.ndim != 2 and all(isinstance(d, int) for d in axes):
        order = list(range(a.ndim))
        first, second = axes[0] % a.ndim, axes[1] % a.ndim
        order[first], order[second] = order[second], order[first]
        axes = tuple(order)
    return permute(a, *axes)


def getitem(a, index):
    """``a[index]``; the gradient is scattered back into the selected positions."""
    return GetItem(index)(a)


def setitem(a, index, value):
    """``a[index] = value`` in place, recorded in the graph when a gradient is wanted (d2l §6.2 fills outputs so)."""
    value = as_tensor(value, like=a)
    if not (is_grad_enabled() and (a.requires_grad or value.requires_grad)):
        a.data[_unwrap_index(index)] = value.data
        return
    if a.requires_grad and a.creator is None:
        raise RuntimeError(
            f"item assignment into a leaf tensor that requires grad (shape {a.shape}): its gradient "
            "would be lost; assign inside `with minicnn.no_grad():` or into `tensor.data` instead"
        )
    a.apply_in_place(SetItem(index), value)


def concat(tensors, axis=1, *, dim=None):
    """Join tensors along ``axis`` (channels by default; ``dim=`` also names it): Inception and DenseNet use it (d2l §8.4, §8.7)."""
    return Concat(axis if dim is None else dim)(*tensors)


def cat(tensors, dim=None, *, axis=None):
    """Join tensors along ``dim`` (default 0), as torch.cat (``axis=`` is NumPy's alias)."""
    return Concat(dim_or_axis("cat", dim, axis, default=0))(*tensors)


def stack(tensors, dim=None, *, axis=None):
    """Join tensors along a new axis ``dim`` (default 0): each gets a size-1 axis there, then they are concatenated."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    dim = dim_or_axis("stack", dim, axis, default=0) % (tensors[0].ndim + 1)
    return Concat(dim)(*[unsqueeze(t, dim) for t in tensors])


def unsqueeze(a, dim):
    """``a`` with a new axis of size 1 at ``dim``."""
    dim = dim % (a.ndim + 1)
    return reshape(a, tuple(a.shape[:dim]) + (1,) + tuple(a.shape[dim:]))


def squeeze(a, dim=None):
    """``a`` without its size-1 axes (only ``dim``, if given and of size 1, as torch.squeeze)."""
    dims = range(a.ndim) if dim is None else [d % a.ndim for d in ((dim,) if isinstance(dim, int) else dim)]
    drop = {d for d in dims if a.shape[d] == 1}
    return reshape(a, tuple(s for d, s in enumerate(a.shape) if d not in drop))


def convert(a, dtype=None, where=None):
    """``a`` as ``dtype`` and/or on device ``where``; ``a`` itself when nothing would change (as torch's ``to``)."""
    same_dtype = dtype is None or get_array_module(a.data).dtype(dtype) == a.dtype
    same_place = where is None or backend_of(a.data) == backend_name(where)
    return a if same_dtype and same_place else Convert(dtype, where)(a)


def clone(a):
    """A copy of ``a`` that stays in the graph (the gradient passes through unchanged)."""
    return Convert(a.dtype)(a)


def flatten(x, start_dim=1):
    """Merge the axes from ``start_dim`` on into one: (N, C, H, W) -> (N, C*H*W)."""
    start = start_dim % x.ndim if x.ndim else 0
    size = 1
    for s in x.shape[start:]:
        size *= s
    return reshape(x, tuple(x.shape[:start]) + (size,))
