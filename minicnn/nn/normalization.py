"""Normalisation layers: BatchNorm1d/2d (d2l §8.5), LayerNorm, GroupNorm and InstanceNorm2d, as PyTorch's.

They differ in the axes they average over: BatchNorm over the batch and space per channel,
LayerNorm over a sample's trailing axes, GroupNorm over a group of channels and space per
sample, InstanceNorm over space per sample and channel (GroupNorm with one channel per group).
"""
import warnings

from .. import backend
from ..functional.normalization import batch_norm, group_norm, layer_norm
from .module import Module
from .parameter import Parameter


def _affine_parameters(module, shape, affine, bias):
    """weight = 1 and bias = 0 of ``shape``; None when not ``affine`` (bias also None when not ``bias``)."""
    xp = backend.xp()
    module.register_parameter("weight", Parameter(xp.ones(shape, dtype="float32")) if affine else None)
    module.register_parameter("bias", Parameter(xp.zeros(shape, dtype="float32")) if affine and bias else None)


class _NormBase(Module):
    """Per-channel γ and β (if ``affine``) and, if ``track_running_stats``, PyTorch's three buffers."""

    def __init__(self, num_features, eps, momentum, affine, track_running_stats, bias):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, bias)
        xp = backend.xp()
        tracked = track_running_stats
        self.register_buffer("running_mean", xp.zeros(num_features, dtype="float32") if tracked else None)
        self.register_buffer("running_var", xp.ones(num_features, dtype="float32") if tracked else None)
        self.register_buffer("num_batches_tracked", xp.zeros((), dtype="int64") if tracked else None)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Batch normalisation with running statistics; the subclasses only check the input's rank (d2l §8.5)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias)

    def forward(self, x):
        self._check_input(x)
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative average of all batches seen
                momentum = 1.0 / self.num_batches_tracked.item()
        use_batch_stats = self.training or self.running_mean is None
        keep_running = not self.training or self.track_running_stats
        return batch_norm(
            x,
            self.running_mean if keep_running else None,
            self.running_var if keep_running else None,
            self.weight, self.bias, use_batch_stats, momentum, self.eps,
        )

    def _check_input(self, x):
        if x.ndim not in self._ranks:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self._layout} input, got shape "
                f"{tuple(x.shape)}: {self._hint}"
            )
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) got {x.shape[1]} channels (input shape "
                f"{tuple(x.shape)}): num_features must equal the previous layer's output channels"
            )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, after a Linear layer (Ioffe & Szegedy 2015; d2l §8.5)."""

    _ranks, _layout = (2, 3), "(N, C) or (N, C, L)"
    _hint = "use BatchNorm2d after a convolution"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs per channel, after a convolution (Ioffe & Szegedy 2015; d2l §8.5)."""

    _ranks, _layout = (4,), "(N, C, H, W)"
    _hint = "use BatchNorm1d after a Linear layer"


class LayerNorm(Module):
    """Normalise each sample over its trailing ``normalized_shape`` axes (Ba et al. 2016; d2l §8.5.3)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape, self.eps = tuple(normalized_shape), eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias)

    def forward(self, x):
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalise each sample over groups of channels (Wu & He 2018, Group Normalization)."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, *, bias=True):
        super().__init__()
        if num_groups < 1 or num_channels % num_groups != 0:
            raise ValueError(
                f"GroupNorm({num_groups}, {num_channels}): num_groups must be at least 1 and divide num_channels"
            )
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine_parameters(self, (num_channels,), affine, bias)

    def forward(self, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}) expects (N, {self.num_channels}, ...) "
                f"input, got shape {tuple(x.shape)}: check the previous layer's output channels"
            )
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class InstanceNorm2d(_NormBase):
    """Normalise each channel of each sample over its H × W pixels (Ulyanov, Vedaldi & Lempitsky, 2016).

    Instance normalisation is GroupNorm with one channel per group, ``GroupNorm(C, C)``,
    and that is how it is computed here. PyTorch's defaults: no affine γ, β and no running
    statistics, so training and evaluation both use each image's own statistics. With
    ``track_running_stats=True``, training also updates ``running_mean``/``running_var``
    with ``momentum`` and the batch average of the per-image means and unbiased variances
    (``momentum=None`` leaves them unchanged, as in PyTorch), and evaluation normalises with
    them, as BatchNorm does. Takes (N, C, H, W) or an unbatched (C, H, W).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False, track_running_stats=False, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias)

    def forward(self, x):
        self._check_input(x)
        if x.ndim == 3:
            return self._normalize(x.reshape(1, *x.shape)).reshape(x.shape)
        return self._normalize(x)

    def _normalize(self, x):
        if self.training or not self.track_running_stats:
            if x.shape[2] * x.shape[3] < 2:
                raise ValueError(
                    f"InstanceNorm2d({self.num_features}) got input shape {tuple(x.shape)}: each channel needs "
                    "more than one pixel to have a mean and a variance; use BatchNorm2d for 1×1 maps"
                )
            if self.training and self.track_running_stats:
                self._update_running_stats(x.data)
            return group_norm(x, x.shape[1], self.weight, self.bias, self.eps)
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)

    def _update_running_stats(self, x):
        """running ← (1 - momentum)·running + momentum·(per-image statistic averaged over the batch)."""
        momentum = 0.0 if self.momentum is None else self.momentum
        planes = x.reshape(x.shape[0], x.shape[1], -1)
        for buffer, value in ((self.running_mean, planes.mean(axis=2)), (self.running_var, planes.var(axis=2, ddof=1))):
            buffer.data *= 1 - momentum
            buffer.data += momentum * value.mean(axis=0)

    def _check_input(self, x):
        if x.ndim not in (3, 4):
            raise ValueError(
                f"InstanceNorm2d({self.num_features}) expects (N, C, H, W) or (C, H, W) input, got shape "
                f"{tuple(x.shape)}: use InstanceNorm over images, LayerNorm over feature vectors"
            )
        channels = x.shape[-3]
        if channels == self.num_features:
            return
        message = (f"InstanceNorm2d({self.num_features}) got {channels} channels (input shape {tuple(x.shape)}): "
                   "num_features must equal the previous layer's output channels")
        if self.affine or self.track_running_stats:
            raise ValueError(message)
        warnings.warn(message + " (unused here: no affine parameters, no running statistics)", stacklevel=2)
