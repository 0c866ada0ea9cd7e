"""torchvision's subset that d2l's chapters 6–7 and §13.10–13.11 call: ``models.resnet18`` and a few ``transforms``.

``from minicnn import vision as torchvision`` lets the book's code run unchanged (docs/d2l.md).
"""
from . import models, transforms

__all__ = ["models", "transforms"]
