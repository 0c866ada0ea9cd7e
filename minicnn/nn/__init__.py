"""Layers and networks as Modules, PyTorch's names and defaults: ``import minicnn.nn as nn`` (d2l ch. 6).

``minicnn.nn.functional`` is ``minicnn.functional``, as ``torch.nn.functional`` is torch's.
"""
import sys

from .. import functional
from . import init
from .activation import Flatten, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .attention import SpatialAttention
from .containers import Concat, Identity, ModuleList, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .linear import Linear
from .loss import CrossEntropyLoss, MSELoss
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d, LayerNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

sys.modules[__name__ + ".functional"] = functional  # `import minicnn.nn.functional as F` works too

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Concat", "Conv2d",
    "ConvTranspose2d", "CrossEntropyLoss", "Dropout", "Flatten", "GroupNorm", "Identity",
    "InstanceNorm2d", "LayerNorm", "LeakyReLU", "Linear", "MSELoss", "MaxPool2d", "Module",
    "ModuleList", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "SpatialAttention",
    "Tanh", "functional", "init",
]
