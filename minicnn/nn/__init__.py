"""Layers and networks as Modules, PyTorch's names and defaults: ``import minicnn.nn as nn`` (d2l ch. 6)."""
from . import init
from .activation import Flatten, ReLU, Sigmoid, Softmax, Tanh
from .containers import Concat, Identity, Sequential
from .conv import Conv2d, ConvTranspose2d
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Concat", "Conv2d",
    "ConvTranspose2d", "Dropout", "Flatten", "GroupNorm", "Identity", "LayerNorm", "Linear",
    "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "init",
]
