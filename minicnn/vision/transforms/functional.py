"""torchvision.transforms.functional's ``to_tensor`` and ``crop`` for one image (d2l §13.9 crops VOC images)."""
import numpy

from ... import backend
from ...autograd import Tensor


def to_tensor(image):
    """A PIL image or H×W[×C] array as a float32 C×H×W Tensor; uint8 values are scaled to [0, 1]."""
    array = numpy.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"to_tensor: expected an H×W or H×W×C image, got shape {array.shape}")
    chw = numpy.ascontiguousarray(array.transpose(2, 0, 1))
    values = chw.astype(numpy.float32) / 255 if chw.dtype == numpy.uint8 else chw.astype(numpy.float32)
    return Tensor(backend.asarray(values))


def crop(image, top, left, height, width):
    """The ``height`` × ``width`` window of ``image`` whose top-left corner is (top, left).

    ``image`` is a Tensor (…, H, W) — the crop is differentiable indexing — or a PIL image.
    """
    if isinstance(image, Tensor):
        return image[..., top:top + height, left:left + width]
    return image.crop((left, top, left + width, top + height))


def resize_pil(image, size):
    """A PIL image resized bilinearly; an int ``size`` sets the shorter side, as torchvision does."""
    from PIL import Image
    width, height = image.size
    if isinstance(size, int):
        scale = size / min(width, height)
        target = (size, int(height * scale)) if width <= height else (int(width * scale), size)
    else:
        target = (size[1], size[0])
    return image.resize(target, Image.BILINEAR)
