"""The fully connected layer (d2l §3.4, §6.1)."""
import math

from .. import backend
from ..functional.linear import linear
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """y = x Wᵀ + b with W of shape (out_features, in_features), PyTorch's default initialisation (d2l §3.4).

    W and b are drawn from U(-1/√in_features, 1/√in_features) (kaiming_uniform_ with a=√5).
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear({in_features}→{out_features}): in_features and out_features must be at least 1")
        xp = backend.xp()
        self.weight = Parameter(xp.empty((out_features, in_features), dtype="float32"))
        if bias:
            self.bias = Parameter(xp.empty((out_features,), dtype="float32"))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Redraw the weights and bias with PyTorch's default distributions."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        if x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}→{self.out_features}) got {x.shape[-1]} features "
                f"(input shape {tuple(x.shape)}): check the layer before it "
                "(conv padding/stride or Flatten)"
            )
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
