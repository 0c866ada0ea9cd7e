"""Semantic-segmentation data: the Pascal VOC 2012 reader and SyntheticShapes, a built-in set that needs no download.

A segmentation example is an image (float32 C×H×W in [0, 1], like every minicnn dataset)
and a label map (int64 H×W) holding one class index per pixel, so that an FCN's
(N, C, H, W) logits and the (N, H, W) labels meet in ``F.cross_entropy``.

VOC's label PNGs are palette images: each pixel stores a class index (0..20) and the
palette only says how to colour it, so the indices are read directly. Object borders
are marked 255 ("void"); by default they become background 0 — what d2l's colour-map
lookup does, since the border colour is not in its table — and ``void_label`` chooses
another value (e.g. 255, to skip them with ``metrics.confusion_matrix(ignore_index=255)``;
``F.cross_entropy`` rejects 255, so crop or mask them before the loss).
"""
import math
from pathlib import Path

import numpy

from .. import backend
from .datasets import DatasetNotFoundError
from .idx import DataFileError

VOC_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "potted plant", "sheep", "sofa",
    "train", "tv/monitor",
)
VOC_COLORMAP = (
    (0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128), (0, 128, 128),
    (128, 128, 128), (64, 0, 0), (192, 0, 0), (64, 128, 0), (192, 128, 0), (64, 0, 128), (192, 0, 128),
    (64, 128, 128), (192, 128, 128), (0, 64, 0), (128, 64, 0), (0, 192, 0), (128, 192, 0), (0, 64, 128),
)
VOC_VOID = 255
VOC_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"


def _import_pillow():
    """The PIL.Image module, or an ImportError that says how to install Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "VOCSegmentation reads JPEG and PNG files with Pillow, which is not installed: "
            "`pip install pillow` (or `pip install -e \".[images]\"`)"
        ) from None
    return Image


def _pair(size):
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"crop_size must be a positive int or (height, width), got {size!r}")
    return pair


def _find_voc_root(root, image_set):
    """The VOC2012 folder: ``root`` itself, or its ``VOCdevkit/VOC2012`` or ``VOC2012`` subfolder."""
    root = Path(root).expanduser()
    candidates = [root, root / "VOCdevkit" / "VOC2012", root / "VOC2012"]
    split_file = Path("ImageSets") / "Segmentation" / f"{image_set}.txt"
    for folder in candidates:
        if (folder / split_file).is_file():
            return folder
    looked = "\n".join(f"    {folder / split_file}" for folder in candidates)
    raise DatasetNotFoundError(
        f"Pascal VOC 2012 not found: looked for\n{looked}\n"
        f"Download {VOC_URL} and unpack it (`tar xf VOCtrainval_11-May-2012.tar -C {root}`), "
        "then pass the folder that holds VOCdevkit/"
    )


class VOCSegmentation:
    """Pascal VOC 2012 segmentation (Everingham et al. 2010; d2l §14.9): random crops of image and label together.

    ``root`` holds ``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` (palette PNGs) and
    ``ImageSets/Segmentation/{train,val}.txt`` (or is a folder above ``VOCdevkit/VOC2012``).
    Images smaller than ``crop_size`` (height, width) are skipped, as d2l does; their ids
    are kept in ``skipped``. Files are decoded when an example is read, and a damaged
    label (index outside 0..20 and not 255) raises ``DataFileError`` naming the file.
    ``dataset[i]`` draws a new crop each time, from a generator seeded by ``seed``.
    """

    classes = VOC_CLASSES
    colormap = VOC_COLORMAP

    def __init__(self, root, image_set="train", crop_size=(320, 480), void_label=0, transform=None, seed=None):
        self._image = _import_pillow()
        self.root = _find_voc_root(root, image_set)
        self.image_set = image_set
        self.crop_size = _pair(crop_size)
        self.void_label = int(void_label)
        self.transform = transform
        self.rng = numpy.random.default_rng(seed)
        self.ids, self.skipped = [], []
        for name in self._read_ids():
            fits = self._check_pair(name)
            (self.ids if fits else self.skipped).append(name)

    def _read_ids(self):
        path = self.root / "ImageSets" / "Segmentation" / f"{self.image_set}.txt"
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]

    def _paths(self, name):
        return self.root / "JPEGImages" / f"{name}.jpg", self.root / "SegmentationClass" / f"{name}.png"

    def _check_pair(self, name):
        """Both files exist and have the same size (read from the headers); True if the crop fits."""
        image_path, label_path = self._paths(name)
        for path, what in ((image_path, "image"), (label_path, "label")):
            if not path.is_file():
                raise DataFileError(
                    f"{path}: the {what} file of {name!r} (listed in ImageSets/Segmentation/"
                    f"{self.image_set}.txt) is missing"
                )
        image_size, label_size = self._size(image_path), self._size(label_path)
        if image_size != label_size:
            raise DataFileError(
                f"{label_path}: the label is {label_size[0]}×{label_size[1]} (width×height) but its image "
                f"{image_path} is {image_size[0]}×{image_size[1]}; they must have the same size"
            )
        width, height = image_size
        return height >= self.crop_size[0] and width >= self.crop_size[1]

    def _size(self, path):
        try:
            with self._image.open(path) as image:
                return image.size
        except OSError as exc:
            raise DataFileError(f"{path}: cannot be read as an image ({exc})") from None

    def read_image(self, index):
        """The whole image ``index`` as uint8 3×H×W."""
        with self._image.open(self._paths(self.ids[index])[0]) as image:
            return numpy.asarray(image.convert("RGB")).transpose(2, 0, 1)

    def read_label(self, index):
        """The whole label map ``index`` as uint8 H×W class indices (void already replaced by ``void_label``)."""
        path = self._paths(self.ids[index])[1]
        with self._image.open(path) as label:
            if label.mode not in ("P", "L"):
                raise DataFileError(
                    f"{path}: expected a palette (mode P) PNG of class indices, got mode {label.mode}; "
                    "VOC labels must not be converted to RGB"
                )
            indices = numpy.array(label)
        bad = indices[(indices >= len(self.classes)) & (indices != VOC_VOID)]
        if bad.size:
            raise DataFileError(
                f"{path}: class index {int(bad.max())} is out of range: VOC labels hold 0..{len(self.classes) - 1} "
                f"and {VOC_VOID} (void border)"
            )
        indices[indices == VOC_VOID] = self.void_label
        return indices

    def random_crop(self, image, label):
        """The same random crop_size window cut from image (C×H×W) and label (H×W) (d2l §14.9.2)."""
        crop_h, crop_w = self.crop_size
        top = int(self.rng.integers(0, label.shape[0] - crop_h + 1))
        left = int(self.rng.integers(0, label.shape[1] - crop_w + 1))
        rows, columns = slice(top, top + crop_h), slice(left, left + crop_w)
        return image[:, rows, columns], label[rows, columns]

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        image, label = self.random_crop(self.read_image(index), self.read_label(index))
        image = backend.asarray(image[None], dtype=numpy.float32) / 255
        if self.transform is not None:
            image = self.transform(image)
        return image[0], backend.asarray(label, dtype=numpy.int64)

    def __repr__(self):
        crop_h, crop_w = self.crop_size
        return (f"VOCSegmentation({self.image_set}, {len(self)} images, {len(self.skipped)} skipped "
                f"as smaller than {crop_h}×{crop_w}, root={str(self.root)!r})")


SHAPE_CLASSES = ("background", "circle", "square", "triangle")
_CORNERS = {"square": 4, "triangle": 3}
_AREA_PER_RADIUS2 = {"circle": math.pi, "square": 2.0, "triangle": 3 * math.sqrt(3) / 4}  # area / circumradius²


def shape_mask(kind, center, radius, angle, size):
    """Boolean H×W mask of a circle or a regular polygon (square, triangle) of circumradius ``radius``.

    A pixel belongs to the shape when its centre (x + 0.5, y + 0.5) lies inside: within
    ``radius`` of ``center`` for a circle; left of every edge of the counter-clockwise
    polygon whose first corner points at ``angle`` (radians) otherwise.
    """
    ys, xs = numpy.mgrid[0:size, 0:size] + 0.5
    dx, dy = xs - center[0], ys - center[1]
    if kind == "circle":
        return dx * dx + dy * dy <= radius * radius
    count = _CORNERS[kind]
    turns = angle + 2 * numpy.pi * numpy.arange(count) / count
    corners = numpy.stack([radius * numpy.cos(turns), radius * numpy.sin(turns)], axis=1)
    inside = numpy.ones((size, size), dtype=bool)
    for (x0, y0), (x1, y1) in zip(corners, numpy.roll(corners, -1, axis=0)):
        inside &= (x1 - x0) * (dy - y0) - (y1 - y0) * (dx - x0) >= 0
    return inside


class SyntheticShapes:
    """Circles, squares and triangles on textured backgrounds with exact per-pixel labels (FCN sanity set, d2l §14.11).

    Each image holds 1..``max_shapes`` flat-coloured shapes that do not overlap (a shape
    that would touch an earlier one is dropped) over a background of two colours
    blended by random stripes plus pixel noise; the label of a pixel is its shape's
    class (1 circle, 2 square, 3 triangle) or 0. A shape's size is drawn from
    ``radius_range`` × image size as the radius of a circle of the same area, so the
    three classes cover alike. The drawing parameters of image i are kept in
    ``shapes[i]`` as (class, (cx, cy), circumradius, angle, colour). Everything follows
    from ``seed``; the train and held-out (``train=False``) splits use independent
    streams of it.
    """

    classes = SHAPE_CLASSES
    colormap = VOC_COLORMAP[:len(SHAPE_CLASSES)]

    def __init__(self, train=True, num_images=None, size=96, max_shapes=2, radius_range=(0.14, 0.3), seed=0,
                 transform=None):
        self.train = bool(train)
        count = (4000 if self.train else 500) if num_images is None else int(num_images)
        self.size, self.radius_range, self.transform = int(size), tuple(radius_range), transform
        rng = numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(0 if self.train else 1,)))
        self.images = numpy.empty((count, 3, self.size, self.size), dtype=numpy.uint8)
        self.labels = numpy.empty((count, self.size, self.size), dtype=numpy.uint8)
        self.shapes = []
        for i in range(count):
            self.images[i], self.labels[i], shapes = self._draw(rng, max_shapes)
            self.shapes.append(shapes)

    def _background(self, rng):
        """Two random colours blended by stripes of random direction and frequency, plus noise: 3×S×S float."""
        ys, xs = numpy.mgrid[0:self.size, 0:self.size]
        direction = rng.uniform(0, numpy.pi)
        period = rng.uniform(4, 16)
        phase = (xs * numpy.cos(direction) + ys * numpy.sin(direction)) * 2 * numpy.pi / period
        blend = 0.5 + 0.5 * numpy.sin(phase)
        first, second = rng.uniform(0, 255, size=(2, 3, 1, 1))
        return first * blend + second * (1 - blend) + rng.normal(0, 12, size=(3, self.size, self.size))

    def _draw(self, rng, max_shapes):
        """(image 3×S×S uint8, label S×S uint8, shapes drawn) for one example."""
        image = self._background(rng)
        label = numpy.zeros((self.size, self.size), dtype=numpy.uint8)
        average = image.mean(axis=(1, 2))
        shapes = []
        for _ in range(int(rng.integers(1, max_shapes + 1))):
            shape = self._random_shape(rng, average)
            mask = shape_mask(SHAPE_CLASSES[shape[0]], shape[1], shape[2], shape[3], self.size)
            if (mask & (label > 0)).any():
                continue  # shapes never overlap, so each is seen whole
            image[:, mask] = numpy.asarray(shape[4], dtype=numpy.float64)[:, None]
            label[mask] = shape[0]
            shapes.append(shape)
        return numpy.clip(numpy.rint(image), 0, 255).astype(numpy.uint8), label, shapes

    def _random_shape(self, rng, background):
        """(class, centre, radius, angle, colour): a colour at least 80 away from the background's mean."""
        kind = int(rng.integers(1, len(SHAPE_CLASSES)))
        center = tuple(float(c) for c in rng.uniform(0.15 * self.size, 0.85 * self.size, size=2))
        equal_area = rng.uniform(*self.radius_range) * self.size
        radius = float(equal_area * math.sqrt(math.pi / _AREA_PER_RADIUS2[SHAPE_CLASSES[kind]]))
        angle = float(rng.uniform(0, 2 * numpy.pi))
        colour = rng.integers(0, 256, size=3)
        while numpy.linalg.norm(colour - background) < 80:
            colour = rng.integers(0, 256, size=3)
        return kind, center, radius, angle, tuple(int(c) for c in colour)

    def arrays(self):
        """(images N×3×S×S uint8, labels N×S×S uint8) as NumPy arrays: what the DataLoader batch-indexes."""
        return self.images, self.labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        image = backend.asarray(self.images[index : index + 1], dtype=numpy.float32) / 255
        if self.transform is not None:
            image = self.transform(image)
        return image[0], backend.asarray(self.labels[index], dtype=numpy.int64)

    def __repr__(self):
        split = "train" if self.train else "held-out"
        return f"SyntheticShapes({split}, {len(self)} images of {self.size}×{self.size}, classes {self.classes[1:]})"
