"""The d2l book's helpers, written for minicnn: ``from minicnn import d2l`` in place of ``from d2l import torch as d2l``.

Chapters 6 and 7 and §13.10–13.11 of Dive into Deep Learning call these by name:
``load_data_fashion_mnist``, ``train_ch6`` with ``Accumulator``, ``Timer``, ``accuracy`` and
``evaluate_accuracy_gpu`` (d2l §6.6), ``Animator`` (§3.6), ``try_gpu`` (§5.6), ``corr2d``
(§6.2), ``Residual`` (§7.6), and for FCN ``load_data_voc`` and ``train_ch13`` (§13.9, §13.11).
The same names and printed lines as the book's; the code is minicnn's own, in four files:
``tensors.py`` (the tensor vocabulary), ``data.py`` (loaders), ``plotting.py`` (Animator)
and ``training.py`` (the loops). ``d2l.plt`` and ``d2l.Image`` (matplotlib.pyplot and
PIL.Image) are imported on first use.
"""
from ..models import Residual
from .data import (IMAGENET_MEAN, IMAGENET_STD, VOC_CLASSES, VOC_COLORMAP, TensorBatches, VOCSegDataset,
                   download_extract, load_data_fashion_mnist, load_data_voc, read_voc_images)
from .plotting import Animator, set_figsize, show_images, use_svg_display
from .tensors import (abs, arange, argmax, astype, cat, concat, corr2d, exp, float32, int32, int64, log, matmul,
                      normal, ones, rand, randn, reduce_mean, reduce_sum, reshape, size, stack, tensor, to_numpy,
                      transpose, zeros)
from .training import (Accumulator, Timer, accuracy, evaluate_accuracy_gpu, num_gpus, train_batch_ch13, train_ch6,
                       train_ch13, try_all_gpus, try_gpu)


def __getattr__(name):
    """``d2l.plt`` (matplotlib.pyplot) and ``d2l.Image`` (PIL.Image), imported when first used."""
    if name == "plt":
        import matplotlib.pyplot
        return matplotlib.pyplot
    if name == "Image":
        from PIL import Image
        return Image
    raise AttributeError(f"module 'minicnn.d2l' has no attribute {name!r}")


__all__ = [
    "Accumulator", "Animator", "IMAGENET_MEAN", "IMAGENET_STD", "Residual", "TensorBatches", "Timer",
    "VOCSegDataset", "VOC_CLASSES", "VOC_COLORMAP", "abs", "accuracy", "arange", "argmax", "astype", "cat", "concat",
    "corr2d", "download_extract", "evaluate_accuracy_gpu", "exp", "float32", "int32", "int64",
    "load_data_fashion_mnist", "load_data_voc", "log", "matmul", "normal", "num_gpus", "ones", "rand", "randn",
    "read_voc_images", "reduce_mean", "reduce_sum", "reshape", "set_figsize", "show_images", "size", "stack",
    "tensor", "to_numpy", "train_batch_ch13", "train_ch13", "train_ch6", "transpose", "try_all_gpus", "try_gpu",
    "use_svg_display", "zeros",
]
