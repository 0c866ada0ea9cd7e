"""Batch, layer and group normalisation, each one fused Function with a closed-form backward.

All three standardise x over some axes, x̂ = (x - μ) / √(σ² + ε), then scale and shift per
channel: y = γ x̂ + β. They differ only in which axes μ and σ² are taken over (batch and
space per channel; the trailing features per sample; a group of channels per sample).
Because μ and σ depend on every x they average, the gradient through the standardisation
has the closed form dL/dx = (1/σ) (ĝ - mean(ĝ) - x̂ · mean(ĝ x̂)) with ĝ = γ · dL/dy
(Ioffe & Szegedy 2015, §3; d2l §8.5): one fused step instead of a chain of small ops.
"""
from .. import kernels
from ..autograd import Function, Tensor
from ..backend import get_array_module


def _moments(x, axes):
    """The mean and the biased variance of x over ``axes`` (kept as broadcastable axes)."""
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    return mean, (centred * centred).mean(axis=axes, keepdims=True)


def _standardize(x, mean, variance, eps):
    """(x̂, 1/σ): x̂ = (x - μ) / √(σ² + ε)."""
    inv_std = _inv_std(variance, eps)
    return (x - mean) * inv_std, inv_std


def _inv_std(variance, eps):
    """1/σ = 1/√(σ² + ε), by the face's fused loop where it has one (one GPU kernel, not three)."""
    fast = kernels.fused("inv_std", variance)
    return fast(variance, eps) if fast else 1 / get_array_module(variance).sqrt(variance + eps)


def _standardize_backward(grad_hat, x_hat, inv_std, axes):
    # dL/dx = (1/σ)(ĝ - mean(ĝ) - x̂ mean(ĝ x̂)), means over the normalised axes
    mean_grad = grad_hat.mean(axis=axes, keepdims=True)
    mean_proj = (grad_hat * x_hat).mean(axis=axes, keepdims=True)
    return inv_std * (grad_hat - mean_grad - x_hat * mean_proj)


def _affine(x_hat, weight, bias, shape):
    """γ x̂ + β with γ, β reshaped to ``shape`` for broadcasting (either may be None)."""
    y = x_hat if weight is None else x_hat * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _affine_backward(fn, grad, x_hat, weight, shape, axes):
    """(ĝ, dL/dγ, dL/dβ) for y = γ x̂ + β, γ and β summed over ``axes``."""
    grad_hat = grad if weight is None else grad * weight.reshape(shape)
    grad_weight = (grad * x_hat).sum(axis=axes) if fn.needs_input_grad[1] else None
    grad_bias = grad.sum(axis=axes) if fn.needs_input_grad[2] else None
    return grad_hat, grad_weight, grad_bias


CHANNELS = (1, -1, 1)  # a per-channel statistic, broadcast over BatchNorm's (N, C, P) view


class BatchNorm(Function):
    """Batch normalisation of (N, C, ...) per channel, fused: forward and closed-form backward (d2l §8.5).

    Training standardises with the batch's own μ and σ², which then depend on every x of the
    channel, and updates the running averages; evaluation uses the running averages, fixed
    numbers, so y is a plain per-channel scale and shift of x. ``self.training`` picks which
    statistics in the forward pass and, with them, which derivative in the backward one.
    The passes over the activations are the face's fused loops where it has them
    (``kernels.fused``), else the array code here, in the x̂ form of the module docstring.
    """

    def __init__(self, running_mean, running_var, training, momentum, eps):
        self.running_mean, self.running_var = running_mean, running_var
        self.training, self.momentum, self.eps = training, momentum, eps

    def forward(self, x, weight, bias):
        xp = get_array_module(x)
        flat = x.reshape(x.shape[0], x.shape[1], -1)  # (N, C, H·W): one plane per sample and channel
        mean, variance = self._batch_statistics(flat) if self.training else (self.running_mean, self.running_var)
        inv_std = _inv_std(variance, self.eps)
        weight = xp.ones_like(inv_std) if weight is None else weight
        bias = xp.zeros_like(inv_std) if bias is None else bias
        self.save_for_backward(flat, mean, inv_std, weight)
        fast = kernels.fused("batch_norm", flat, mean, inv_std, weight, bias)
        if fast:
            return fast(flat, mean, inv_std, weight, bias).reshape(x.shape)
        x_hat = (flat - mean.reshape(CHANNELS)) * inv_std.reshape(CHANNELS)
        return (x_hat * weight.reshape(CHANNELS) + bias.reshape(CHANNELS)).reshape(x.shape)

    def _batch_statistics(self, flat):
        """μ and the biased σ² of each channel over N and P; the running averages take them in."""
        fast = kernels.fused("channel_moments", flat)
        if fast:
            mean, variance = fast(flat)
        else:
            mean, variance = (m.reshape(-1) for m in _moments(flat, (0, 2)))
        self._update_running_stats(mean, variance, flat.shape[0] * flat.shape[2])
        return mean, variance

    def _update_running_stats(self, mean, variance, count):
        """running ← (1 - momentum)·running + momentum·batch, with the unbiased batch variance."""
        if self.running_mean is None:
            return
        fast = kernels.fused("update_running_stats", self.running_mean, self.running_var, mean, variance)
        if fast:
            return fast(self.running_mean, self.running_var, mean, variance, self.momentum, count)
        self.running_mean *= 1 - self.momentum
        self.running_mean += self.momentum * mean
        self.running_var *= 1 - self.momentum
        self.running_var += self.momentum * (count / (count - 1)) * variance

    # training: dL/dx = (1/σ)(ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) with ĝ = γ g; evaluation: dL/dx = ĝ/σ;
    # dL/dγ = Σ g x̂, dL/dβ = Σ g
    def backward(self, grad):
        flat, mean, inv_std, weight = self.saved
        g = grad.reshape(flat.shape)
        fast = self.training and kernels.fused("batch_norm_backward", g, flat)
        if fast:
            grad_x, grad_weight, grad_bias = fast(g, flat, mean, inv_std, weight)
        else:
            x_hat = (flat - mean.reshape(CHANNELS)) * inv_std.reshape(CHANNELS)
            grad_hat = g * weight.reshape(CHANNELS)
            if self.training:
                grad_x = _standardize_backward(grad_hat, x_hat, inv_std.reshape(CHANNELS), (0, 2))
            else:
                grad_x = grad_hat * inv_std.reshape(CHANNELS)
            grad_weight, grad_bias = (g * x_hat).sum(axis=(0, 2)), g.sum(axis=(0, 2))
        return (grad_x.reshape(grad.shape) if self.needs_input_grad[0] else None,
                grad_weight if self.needs_input_grad[1] else None,
                grad_bias if self.needs_input_grad[2] else None)


class LayerNorm(Function):
    """Layer normalisation over the trailing axes, fused (Ba et al. 2016)."""

    def __init__(self, normalized_shape, eps):
        self.normalized_shape, self.eps = tuple(normalized_shape), eps

    def forward(self, x, weight, bias):
        count = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - count:]) != self.normalized_shape:
            raise ValueError(
                f"layer_norm: normalized_shape {self.normalized_shape} must equal the last "
                f"{count} dimension(s) of the input, but the input has shape {tuple(x.shape)}"
            )
        self.axes = tuple(range(x.ndim - count, x.ndim))
        self.batch_axes = tuple(range(x.ndim - count))
        x_hat, inv_std = _standardize(x, *_moments(x, self.axes), self.eps)
        self.save_for_backward(x_hat, inv_std, weight)
        return _affine(x_hat, weight, bias, self.normalized_shape)

    # dL/dx = (1/σ)(ĝ - mean(ĝ) - x̂ mean(ĝ x̂)), statistics per sample over the trailing axes
    def backward(self, grad):
        x_hat, inv_std, weight = self.saved
        grad_hat, grad_weight, grad_bias = _affine_backward(
            self, grad, x_hat, weight, self.normalized_shape, self.batch_axes)
        grad_x = _standardize_backward(grad_hat, x_hat, inv_std, self.axes) if self.needs_input_grad[0] else None
        return grad_x, grad_weight, grad_bias


class GroupNorm(Function):
    """Group normalisation over groups of channels, fused (Wu & He 2018)."""

    def __init__(self, num_groups, eps):
        self.num_groups, self.eps = num_groups, eps

    def forward(self, x, weight, bias):
        _check_groups(x, self.num_groups)
        self.shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.param_axes = (0,) + tuple(range(2, x.ndim))
        grouped = x.reshape(x.shape[0], self.num_groups, -1)
        x_hat, inv_std = _standardize(grouped, *_moments(grouped, (2,)), self.eps)
        x_hat = x_hat.reshape(x.shape)
        self.save_for_backward(x_hat, inv_std, weight)
        return _affine(x_hat, weight, bias, self.shape)

    # dL/dx = (1/σ)(ĝ - mean(ĝ) - x̂ mean(ĝ x̂)), statistics per sample and group of channels
    def backward(self, grad):
        x_hat, inv_std, weight = self.saved
        grad_hat, grad_weight, grad_bias = _affine_backward(
            self, grad, x_hat, weight, self.shape, self.param_axes)
        grad_x = None
        if self.needs_input_grad[0]:
            grouped = (x_hat.shape[0], self.num_groups, -1)
            grad_x = _standardize_backward(
                grad_hat.reshape(grouped), x_hat.reshape(grouped), inv_std, (2,)).reshape(x_hat.shape)
        return grad_x, grad_weight, grad_bias


def _check_groups(x, num_groups):
    if x.ndim < 2 or x.shape[1] % num_groups != 0:
        raise ValueError(
            f"group_norm: the input of shape {tuple(x.shape)} must be (N, C, ...) with C "
            f"divisible by num_groups={num_groups}"
        )


def _check_batch_norm_input(x, running_mean, training):
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expects (N, C) or (N, C, H, W) input, got shape {tuple(x.shape)}")
    if running_mean is not None and running_mean.shape != (x.shape[1],):
        raise ValueError(
            f"batch_norm: the input has {x.shape[1]} channels (shape {tuple(x.shape)}) but the "
            f"running statistics have shape {tuple(running_mean.shape)}: check num_features"
        )
    if training and x.size // x.shape[1] < 2:
        raise ValueError(
            f"batch_norm: training needs more than one value per channel, got input shape "
            f"{tuple(x.shape)}: use a batch of at least 2 samples, or call model.eval()"
        )
    if not training and running_mean is None:
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")


def _array(value):
    return value.data if isinstance(value, Tensor) else value


def batch_norm(x, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel over N (and H, W) (Ioffe & Szegedy 2015; d2l §8.5).

    Training uses the batch's statistics and updates ``running_mean``/``running_var`` in place
    (if given) with ``momentum`` and the unbiased batch variance; evaluation uses them.
    """
    running_mean, running_var = _array(running_mean), _array(running_var)
    _check_batch_norm_input(x, running_mean, training)
    return BatchNorm(running_mean, running_var, training, momentum, eps)(x, weight, bias)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over its trailing ``normalized_shape`` axes (Ba et al. 2016; d2l §8.5.3)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return LayerNorm(normalized_shape, eps)(x, weight, bias)


def group_norm(x, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over groups of channels and space (Wu & He 2018, Group Normalization)."""
    return GroupNorm(num_groups, eps)(x, weight, bias)

