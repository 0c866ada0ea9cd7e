"""Every differentiable operation, PyTorch-style: ``import minicnn.functional as F``.

Each op is a Function (forward and backward side by side) plus a plain function that
applies it. Importing this package also gives Tensor its operators (+, -, *, /, @, **).
"""
from . import tensor_methods
from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .arithmetic import abs, add, clamp, div, exp, log, matmul, mul, neg, pow, sqrt, sub
from .comparison import eq, ge, gt, le, lt, ne
from .conv import conv2d, conv_transpose2d
from .dropout import dropout
from .linear import linear
from .loss import cross_entropy, mse_loss
from .normalization import batch_norm, group_norm, layer_norm
from .pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from .reduction import argmax, argmin, max, mean, min, std, sum, var
from .shape import (cat, clone, concat, flatten, getitem, permute, reshape, setitem, squeeze, stack,
                    transpose, unsqueeze)

tensor_methods.install()
