"""minicnn: a from-scratch framework for convolutional networks, written to be read.

Start with ``autograd.py`` (Tensor, Function, backward), then ``functional/``
(each operation with its derivative), ``kernels/`` (im2col and pooling loops),
``nn/`` (layers), ``models/`` (the d2l networks) and ``training.py``.

PyTorch's top-level names are here too (``minicnn.zeros``, ``minicnn.cat``, ``minicnn.float32``,
``minicnn.device``, ...), so d2l's code runs after ``import minicnn as torch`` (see docs/d2l.md).
"""
from . import backend, functional, kernels, random
from .autograd import Function, Tensor, is_grad_enabled, no_grad
from .creation import (arange, double, float16, float32, float64, full, half, int32, int64, long, normal,
                       ones, ones_like, rand, randn, tensor, uint8, zeros, zeros_like)
from .device import device
from .functional import (abs, argmax, argmin, cat, clamp, clone, exp, flatten, log, log_softmax, matmul,
                         max, mean, min, permute, relu, reshape, sigmoid, softmax, sqrt, squeeze, stack,
                         std, sum, tanh, transpose, unsqueeze, var)
from .random import manual_seed
from .gradcheck import GradcheckError, gradcheck
from . import data, nn, optim, profile, serialization
from . import metrics, models, training
from .process import tune_process
from .serialization import load, save
from .summary import summary

__version__ = "0.1.0"
