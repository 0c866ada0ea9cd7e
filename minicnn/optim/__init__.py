"""Optimisers and learning-rate schedules with PyTorch's update rules (d2l chapter 12).

``SGD`` (momentum, dampening, Nesterov, weight decay), ``Adam``, ``AdamW``; schedules in
``minicnn.optim.lr_scheduler`` (``StepLR``, ``MultiStepLR``, ``CosineAnnealingLR``,
``LinearLR`` for warm-up, ``SequentialLR`` to chain them), as in ``torch.optim``.
"""
from . import lr_scheduler
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "lr_scheduler"]
