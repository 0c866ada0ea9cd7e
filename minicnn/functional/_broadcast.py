"""Undo NumPy broadcasting in a gradient: the one helper every binary op's backward needs."""


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: over the leading axes broadcasting added, and over axes that were 1.

    If ``a`` of shape (3, 1) was broadcast to (2, 3, 4), each element of ``a`` was used
    2 * 4 times, so its gradient is the sum of those 8 gradients.
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad
