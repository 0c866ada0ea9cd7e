"""The tensor vocabulary of d2l's framework-neutral cells (``d2l.reshape``, ``d2l.reduce_sum``, ...) and ``corr2d`` (d2l §6.2)."""
from ..creation import arange, float32, int32, int64, normal, ones, rand, randn, tensor, zeros  # noqa: F401
from ..functional import abs, cat, exp, log, matmul, stack  # noqa: F401

concat = cat


def reshape(x, *shape):
    """``x.reshape(*shape)``."""
    return x.reshape(*shape)


def reduce_sum(x, *args, **kwargs):
    """``x.sum(...)``."""
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    """``x.mean(...)``."""
    return x.mean(*args, **kwargs)


def transpose(x):
    """The matrix transpose of a 2-D ``x``."""
    return x.T


def size(x):
    """The number of elements of ``x``."""
    return x.numel()


def argmax(x, *args, **kwargs):
    """``x.argmax(...)``."""
    return x.argmax(*args, **kwargs)


def astype(x, dtype):
    """``x`` as ``dtype``."""
    return x.type(dtype)


def to_numpy(x):
    """A NumPy copy of ``x``'s values."""
    return x.detach().numpy()


def corr2d(X, K):
    """2-D cross-correlation of matrix ``X`` with kernel ``K``, one output element at a time (d2l §6.2.1).

    Written with Tensor operations, so it is differentiable; ``F.conv2d`` does the same at speed.
    """
    h, w = K.shape
    rows = range(X.shape[0] - h + 1)
    columns = range(X.shape[1] - w + 1)
    return stack([stack([(X[i:i + h, j:j + w] * K).sum() for j in columns]) for i in rows])
