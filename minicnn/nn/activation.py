"""Activation layers and Flatten: parameter-free Modules around the functional ops (d2l §5.1)."""
from ..functional.activation import leaky_relu, relu, sigmoid, softmax, tanh
from ..functional.shape import reshape
from .module import Module


class ReLU(Module):
    """max(x, 0) elementwise (d2l §5.1.2)."""

    def forward(self, x):
        return relu(x)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope · x (Maas et al., 2013; torch.nn.LeakyReLU)."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + e^-x) elementwise (d2l §5.1.2)."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    """Hyperbolic tangent elementwise (d2l §5.1.2)."""

    def forward(self, x):
        return tanh(x)


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim`` (d2l §4.1)."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, dim=self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Flatten(Module):
    """Merge axes start_dim..end_dim into one: (N, C, H, W) → (N, C·H·W) before the dense layers (d2l §7.6)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        merged = 1
        for size in x.shape[start:end + 1]:
            merged *= size
        return reshape(x, tuple(x.shape[:start]) + (merged,) + tuple(x.shape[end + 1:]))

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
