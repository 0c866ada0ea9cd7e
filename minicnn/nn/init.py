"""Weight initialisation, in place, with PyTorch's formulas (d2l §5.4 numerical stability and initialisation).

Every function takes a Tensor or Parameter, overwrites its data and returns it. Random
numbers come from ``minicnn.random``'s host (NumPy) stream and are copied to the tensor's
device, so after ``manual_seed`` a network starts with the same weights on NumPy and on CuPy.
"""
import math

from ..backend import get_array_module
from ..random import host_generator, manual_seed

__all__ = [
    "bilinear_", "calculate_gain", "constant_", "kaiming_normal_", "kaiming_uniform_",
    "manual_seed", "normal_", "ones_", "uniform_", "xavier_normal_", "xavier_uniform_", "zeros_",
]


def calculate_gain(nonlinearity, param=None):
    """The factor that keeps activations' variance steady through ``nonlinearity`` (He et al. 2015, §2.2)."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                        "conv_transpose2d", "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _fans(tensor):
    """(fan_in, fan_out) as PyTorch counts them: dims 1 and 0 times the kernel's area."""
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out need a tensor with at least 2 dimensions, got shape {shape}: "
            "initialise biases with uniform_/zeros_ instead"
        )
    receptive_field = math.prod(shape[2:])
    return shape[1] * receptive_field, shape[0] * receptive_field


def _fan(tensor, mode):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from U(a, b)."""
    data = tensor.data
    data[...] = a + (b - a) * _on_device(data, host_generator().random(data.shape, dtype=data.dtype))
    return tensor


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std²)."""
    data = tensor.data
    data[...] = mean + std * _on_device(data, host_generator().standard_normal(data.shape, dtype=data.dtype))
    return tensor


def _on_device(data, draws):
    """The host array ``draws`` on ``data``'s backend (copied to the GPU for a CuPy tensor)."""
    return get_array_module(data).asarray(draws)


def constant_(tensor, val):
    """Fill with the value ``val``."""
    tensor.data[...] = val
    return tensor


def zeros_(tensor):
    """Fill with zeros."""
    return constant_(tensor, 0)


def ones_(tensor):
    """Fill with ones."""
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain·√(6 / (fan_in + fan_out)) (Glorot & Bengio 2010; d2l §5.4.2)."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor, gain=1.0):
    """N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)) (Glorot & Bengio 2010; d2l §5.4.2)."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = gain·√(3 / fan) (He et al. 2015); a=√5 gives PyTorch's layer default."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, σ²) with σ = gain / √fan (He et al. 2015, "Delving deep into rectifiers")."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std)


def _bilinear_profile(xp, size, dtype):
    """1 - |i - center| / factor for i in 0..size-1: one axis of the bilinear kernel."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    return 1 - abs(xp.arange(size, dtype=dtype) - center) / factor


def bilinear_(tensor):
    """The bilinear-upsampling kernel for FCN's transposed convolution (Long et al. 2015; d2l §14.11.2).

    The filter is (1 - |i - center| / factor)(1 - |j - center| / factor) with
    factor = (k + 1) // 2 and center = factor - 1 (odd k) or factor - 0.5 (even k); it
    maps channel c to channel c, every other channel pair gets zeros.
    """
    data = tensor.data
    if data.ndim != 4:
        raise ValueError(
            f"bilinear_: expects a 4-D conv weight (C_in, C_out, kh, kw), got shape {tuple(data.shape)}"
        )
    xp = get_array_module(data)
    kh, kw = data.shape[2:]
    kernel = _bilinear_profile(xp, kh, data.dtype)[:, None] * _bilinear_profile(xp, kw, data.dtype)[None, :]
    data[...] = 0
    channels = xp.arange(min(data.shape[0], data.shape[1]))
    data[channels, channels] = kernel
    return tensor
