"""minicnn: a from-scratch framework for convolutional networks, written to be read.

Start with ``autograd.py`` (Tensor, Function, backward), then ``functional/``
(each operation with its derivative), ``kernels/`` (im2col and pooling loops),
``nn/`` (layers), ``models/`` (the d2l networks) and ``training.py``.
"""
from . import backend, functional, kernels, random
from .autograd import Function, Tensor, is_grad_enabled, no_grad
from .gradcheck import GradcheckError, gradcheck
from . import data, nn, optim, profile, serialization
from . import metrics, models, training
from .serialization import load, save
from .summary import summary

__version__ = "0.1.0"
