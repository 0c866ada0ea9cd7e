"""Loss functions: softmax cross-entropy (fused, numerically stable) and mean squared error.

(d2l §4.4 for the fused log-softmax + negative log-likelihood and why it is stable.)
"""
from ..autograd import Function, Tensor
from ..backend import get_array_module
from .activation import log_softmax_array

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(op, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(values, reduction):
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _check_target(logits, target):
    """Validate integer class targets against logits of shape (N, C) or (N, C, H, W)."""
    if not hasattr(target, "dtype"):
        raise TypeError(
            f"cross_entropy: target must be an integer Tensor or array, got {type(target).__name__}"
        )
    xp = get_array_module(logits, target)  # raises on a numpy/cupy mix
    expected = (logits.shape[0],) + tuple(logits.shape[2:])
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: target must hold integer class indices, got dtype {target.dtype} "
            "(convert with .astype('int64'))"
        )
    if tuple(target.shape) != expected:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need targets of shape {expected}, "
            f"got {tuple(target.shape)}"
        )
    classes = logits.shape[1]
    if target.size and (int(target.min()) < 0 or int(target.max()) >= classes):
        bad = int(target.min()) if int(target.min()) < 0 else int(target.max())
        raise ValueError(
            f"cross_entropy: target contains class index {bad} but the logits have "
            f"{classes} classes (valid indices are 0..{classes - 1})"
        )
    return xp


class CrossEntropy(Function):
    """−log softmax(logits)[target], with the class axis 1, averaged/summed/kept per sample.

    With ``label_smoothing`` ε the target is (1 − ε)·onehot + ε/C, as in Inception v3
    (Szegedy et al., 2016, §7) and torch's ``cross_entropy(label_smoothing=ε)``.
    """

    def __init__(self, target, reduction="mean", label_smoothing=0.0):
        _check_reduction("cross_entropy", reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.target = target.data if isinstance(target, Tensor) else target
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, logits):
        if logits.ndim < 2:
            raise ValueError(f"cross_entropy: logits need shape (N, C) or (N, C, H, W), got {logits.shape}")
        xp = _check_target(logits, self.target)
        log_p = log_softmax_array(logits, axis=1)
        loss = -xp.take_along_axis(log_p, xp.expand_dims(self.target, 1), axis=1).squeeze(1)
        if self.label_smoothing:
            loss = (1 - self.label_smoothing) * loss - self.label_smoothing * log_p.mean(axis=1)
        self.save_for_backward(log_p)
        return _reduce(loss, self.reduction)

    # dL/dlogits = softmax(logits) - smoothed onehot(target), times the incoming gradient
    def backward(self, grad):
        (log_p,) = self.saved
        xp = get_array_module(log_p)
        eps = self.label_smoothing
        dlogits = xp.exp(log_p)
        if eps:
            dlogits -= eps / log_p.shape[1]
        index = xp.expand_dims(self.target, 1)
        picked = xp.take_along_axis(dlogits, index, axis=1)
        xp.put_along_axis(dlogits, index, picked - (1 - eps), axis=1)
        if self.reduction == "mean":
            dlogits *= grad / self.target.size
        elif self.reduction == "sum":
            dlogits *= grad
        else:
            dlogits *= xp.expand_dims(grad, 1)
        return (dlogits,)


class MSELoss(Function):
    """Mean (or summed) squared difference between prediction and target."""

    def __init__(self, reduction="mean"):
        _check_reduction("mse_loss", reduction)
        self.reduction = reduction

    def forward(self, prediction, target):
        if prediction.shape != target.shape:
            raise ValueError(
                f"mse_loss: prediction has shape {prediction.shape} but target has shape "
                f"{target.shape}; they must match"
            )
        diff = prediction - target
        self.save_for_backward(diff)
        return _reduce(diff * diff, self.reduction)

    # d(p - t)²/dp = 2(p - t), d/dt = -2(p - t)
    def backward(self, grad):
        (diff,) = self.saved
        scale = 2 / diff.size if self.reduction == "mean" else 2
        dpred = diff * (grad * scale)
        return dpred, -dpred


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of (N, C) or (N, C, H, W) logits and integer targets (d2l §4.4).

    ``label_smoothing`` ε mixes the one-hot target with the uniform one, as torch's does.
    """
    return CrossEntropy(target, reduction, label_smoothing)(logits)


def mse_loss(prediction, target, reduction="mean"):
    """Mean squared error (d2l §3.1)."""
    return MSELoss(reduction)(prediction, target)
