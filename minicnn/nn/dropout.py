"""The Dropout layer: active in training mode only (Srivastava et al. 2014; d2l §5.6)."""
from ..functional.dropout import dropout
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training, scaling the rest by 1/(1-p); identity in eval (d2l §5.6)."""

    def __init__(self, p=0.5):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout(p={p}): p is the probability of dropping, it must be in [0, 1]")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
