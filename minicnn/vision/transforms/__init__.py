"""torchvision.transforms for single images: ToTensor, Resize, Normalize, Compose (d2l §3.5, §13.11).

These take one image — a PIL image, an H×W×C array, or a C×H×W Tensor — as torchvision's do;
``minicnn.data.transforms`` holds the batch transforms the DataLoader applies.
"""
from . import functional
from .functional import to_tensor
from ...autograd import Tensor
from ...backend import get_array_module
from ...data import transforms as batch_transforms


class Compose:
    """Apply transforms one after the other (torchvision.transforms.Compose)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """A PIL image or H×W[×C] uint8 array as a float32 C×H×W Tensor in [0, 1] (torchvision.transforms.ToTensor)."""

    def __call__(self, image):
        return to_tensor(image)

    def __repr__(self):
        return "ToTensor()"


class Resize:
    """Bilinear resize of a C×H×W (or N×C×H×W) Tensor or a PIL image; an int sets the shorter side."""

    def __init__(self, size):
        self.size = size
        self._resize = batch_transforms.Resize(size)

    def __call__(self, image):
        if not isinstance(image, Tensor):
            return functional.resize_pil(image, self.size)
        batch = image.data if image.ndim == 4 else image.data[None]
        out = self._resize(batch)
        return Tensor(out if image.ndim == 4 else out[0])

    def __repr__(self):
        return f"Resize({self.size})"


class Normalize:
    """(image − mean) / std per channel of a C×H×W Tensor (torchvision.transforms.Normalize)."""

    def __init__(self, mean, std):
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, image):
        xp = get_array_module(image.data)
        mean = xp.asarray(self.mean, dtype=image.dtype).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=image.dtype).reshape(-1, 1, 1)
        return (image - Tensor(mean)) / Tensor(std)

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


__all__ = ["Compose", "Normalize", "Resize", "ToTensor", "functional"]
