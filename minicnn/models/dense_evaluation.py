"""VGG's dense multi-scale evaluation (Simonyan & Zisserman 2015, §3.2; d2l §8.2): test-time averaging over positions, scales and flips.

The fully convolutional VGG (``fully_convolutional``) slides its classifier over an image
larger than the training size and returns a class-score map, one score vector per
position. The paper averages (sum-pools) that map into one score vector per image, turns
it into soft-max posteriors, and averages the posteriors of the image and its mirror
image, and of the image rescaled to several sizes.
"""
from .. import functional as F
from .. import nn
from ..autograd import Tensor, no_grad
from ..backend import get_array_module
from ..data.transforms import Resize
from .vgg import fully_convolutional


def _score_map_net(model):
    """``model`` itself if it is fully convolutional, else its ``fully_convolutional`` twin (a VGG with a dense head)."""
    if any(isinstance(layer, nn.Flatten) for layer in model.children()):
        return fully_convolutional(model)
    return model


def _posteriors(net, images):
    """Soft-max of the class-score map averaged over its positions: (N, classes)."""
    scores = net(Tensor(images))
    if scores.ndim != 4:
        raise ValueError(f"dense_evaluate: the network gave scores of shape {tuple(scores.shape)}, not a class-score "
                         "map (N, classes, h, w); pass a VGG or its fully_convolutional() twin")
    return F.softmax(scores.mean(dim=(2, 3)), dim=1).data


def dense_evaluate(model, images, scales=(1.0,), flip=True):
    """Class posteriors (N, classes) of a VGG, averaged over positions, ``scales`` and horizontal flips (Simonyan & Zisserman 2015, §3.2).

    ``images`` (N, C, H, W) are at the training size; each scale s resizes them to
    round(s·H) × round(s·W) (bilinear) before the fully convolutional network scores every
    position. ``model`` is a VGG classifier (converted with ``fully_convolutional``) or an
    already fully convolutional net. Scales below 1 shrink the score map below one
    position and fail; the paper's test scales Q ≥ the crop size play the same role.
    The model is evaluated in eval mode and left in the mode it was in.
    """
    if not scales or min(scales) <= 0:
        raise ValueError(f"dense_evaluate: scales must be positive factors of the image size, got {scales!r}")
    images = images.data if isinstance(images, Tensor) else images
    if getattr(images, "ndim", None) != 4:
        raise ValueError(f"dense_evaluate: expected images (N, C, H, W), got shape {getattr(images, 'shape', None)}")
    net, was_training = _score_map_net(model), model.training
    net.eval()
    height, width = images.shape[2:]
    total, views = 0, 0
    with no_grad():
        for scale in scales:
            size = (max(1, round(scale * height)), max(1, round(scale * width)))
            scaled = images if size == (height, width) else Resize(size)(images)
            for view in ((scaled, scaled[..., ::-1]) if flip else (scaled,)):
                total, views = total + _posteriors(net, get_array_module(view).ascontiguousarray(view)), views + 1
    model.train(was_training)
    return total / views
