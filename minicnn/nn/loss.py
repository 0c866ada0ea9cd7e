"""Loss layers: ``nn.CrossEntropyLoss`` and ``nn.MSELoss``, Modules around the functional losses (d2l §3.1, §4.4)."""
from ..functional.loss import cross_entropy, mse_loss
from .module import Module


class CrossEntropyLoss(Module):
    """Softmax cross-entropy of logits (N, C[, H, W]) and integer targets, as torch.nn.CrossEntropyLoss (d2l §4.4).

    ``reduction`` is "mean", "sum" or "none"; ``label_smoothing`` ε mixes the one-hot
    target with the uniform one (Szegedy et al., 2016, Inception v3).
    """

    def __init__(self, reduction="mean", label_smoothing=0.0):
        super().__init__()
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, logits, target):
        return cross_entropy(logits, target, self.reduction, self.label_smoothing)

    def extra_repr(self):
        smoothing = f", label_smoothing={self.label_smoothing}" if self.label_smoothing else ""
        return f"reduction={self.reduction!r}{smoothing}"


class MSELoss(Module):
    """Squared error between prediction and target, as torch.nn.MSELoss (d2l §3.1)."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, prediction, target):
        return mse_loss(prediction, target, self.reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"
