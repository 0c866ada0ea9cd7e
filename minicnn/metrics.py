"""Segmentation metrics from a confusion matrix: pixel accuracy and mean IoU (Long et al. 2015, §5; d2l §14.9).

Everything is counted once in a confusion matrix C, where C[t, p] is the number of
pixels of true class t predicted as class p. Then

    pixel accuracy = trace(C) / sum(C)
    IoU of class k = C[k, k] / (row k + column k − C[k, k])   (intersection over union)
    mean IoU       = the mean of IoU over the classes that occur in the truth or the prediction

Confusion matrices of several batches simply add up, so a whole validation set is
measured by summing per-batch matrices. Works on NumPy and CuPy arrays (and Tensors).
"""
from .autograd import Tensor
from .backend import get_array_module


def _array(values):
    return values.data if isinstance(values, Tensor) else values


def confusion_matrix(prediction, target, num_classes, ignore_index=None):
    """C[t, p] = number of pixels with true class t predicted as p (rows truth, columns prediction).

    ``prediction`` and ``target`` are integer class maps of the same shape (take
    ``logits.argmax(axis=1)`` first); pixels whose target equals ``ignore_index`` are not
    counted (e.g. VOC's 255 "void" boundary when it is kept).
    """
    prediction, target = _array(prediction), _array(target)
    xp = get_array_module(prediction, target)
    if tuple(prediction.shape) != tuple(target.shape):
        raise ValueError(
            f"confusion_matrix: prediction has shape {tuple(prediction.shape)} but target has shape "
            f"{tuple(target.shape)}; for (N, C, H, W) logits pass logits.argmax(axis=1)"
        )
    prediction, target = prediction.reshape(-1), target.reshape(-1)
    if ignore_index is not None:
        keep = target != ignore_index
        prediction, target = prediction[keep], target[keep]
    for name, values in (("prediction", prediction), ("target", target)):
        if values.size and (int(values.min()) < 0 or int(values.max()) >= num_classes):
            raise ValueError(
                f"confusion_matrix: {name} holds values in [{int(values.min())}, {int(values.max())}] "
                f"but there are {num_classes} classes (valid 0..{num_classes - 1}); pass "
                "ignore_index for a 'void' label"
            )
    flat = target.astype("int64") * num_classes + prediction.astype("int64")
    counts = xp.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def pixel_accuracy(confusion):
    """The fraction of pixels whose predicted class is the true one: trace(C) / sum(C)."""
    total = int(confusion.sum())
    if total == 0:
        raise ValueError("pixel_accuracy: the confusion matrix is empty (no pixel was counted)")
    return float(confusion.trace()) / total


def iou_per_class(confusion):
    """IoU of each class: C[k,k] / (sum of row k + sum of column k − C[k,k]); NaN where a class never occurs."""
    xp = get_array_module(confusion)
    confusion = confusion.astype("float64")
    intersection = xp.diagonal(confusion)
    union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
    iou = xp.full(intersection.shape, float("nan"))
    present = union > 0
    iou[present] = intersection[present] / union[present]
    return iou


def mean_iou(confusion):
    """The mean of the per-class IoU over the classes present in truth or prediction (FCN's "mean IU")."""
    xp = get_array_module(confusion)
    iou = iou_per_class(confusion)
    present = ~xp.isnan(iou)
    if not bool(present.any()):
        raise ValueError("mean_iou: the confusion matrix is empty (no pixel was counted)")
    return float(iou[present].mean())


def label_to_color(labels, colormap):
    """Class map (..., H, W) → colour image (..., H, W, 3) uint8, each class painted with colormap[class] (d2l §14.9)."""
    labels = _array(labels)
    xp = get_array_module(labels)
    palette = xp.asarray(colormap, dtype="uint8")
    if palette.ndim != 2 or palette.shape[1] != 3:
        raise ValueError(f"label_to_color: colormap must be a list of (r, g, b) triples, got shape {palette.shape}")
    if labels.size and (int(labels.min()) < 0 or int(labels.max()) >= len(palette)):
        raise ValueError(
            f"label_to_color: labels hold values in [{int(labels.min())}, {int(labels.max())}] but the "
            f"colormap has {len(palette)} colours"
        )
    return palette[labels]
