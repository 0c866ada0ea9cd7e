"""Operations that move values without changing them: reshape, transpose, indexing, concat, flatten.

Their backward passes move the gradient back the same way (d2l §2.1).
"""
from ..autograd import Function, Tensor
from ..backend import get_array_module, scatter_add


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


def concat(tensors, axis=1):
    """Join tensors along ``axis`` (channels by default): Inception and DenseNet use it (d2l §8.4, §8.7)."""
    return Concat(axis)(*tensors)


def flatten(x, start_dim=1):
    """Merge the axes from ``start_dim`` on into one: (N, C, H, W) -> (N, C*H*W)."""
    start = start_dim % x.ndim if x.ndim else 0
    size = 1
    for s in x.shape[start:]:
        size *= s
    return reshape(x, tuple(x.shape[:start]) + (size,))
