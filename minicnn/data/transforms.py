"""Batch transforms: preprocessing and data augmentation on whole batches N×C×H×W (d2l §14.1).

A transform takes a float batch on either backend (NumPy or CuPy) and returns one on the
same backend; nothing loops over images. Random transforms are split in two: ``sample``
draws the per-image parameters on the CPU from a NumPy Generator (a few numbers per image),
and ``apply`` does the array work with them. The DataLoader passes each batch its own
generator, derived from (seed, epoch, batch), so a resumed run sees the same augmentations;
called without one, a transform draws from its own ``seed`` or from ``minicnn.random``.
Semantics follow torchvision's transforms of the same names.
"""
import numpy

from .. import backend
from .. import random as mrandom


def _check_batch(images, transform):
    if getattr(images, "ndim", None) != 4:
        raise ValueError(
            f"{type(transform).__name__}: expected a batch of images N×C×H×W, got shape "
            f"{getattr(images, 'shape', type(images).__name__)}; for one image use images[None]"
        )


def _pair(size, name):
    """``size`` as (height, width): an int means a square."""
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or min(pair) <= 0:
        raise ValueError(f"{name}: size must be a positive int or (height, width), got {size!r}")
    return pair


class Transform:
    """A deterministic batch transform: ``transform(images)``; ``rng`` is accepted and ignored (d2l §14.1)."""

    def __call__(self, images, rng=None):
        _check_batch(images, self)
        return self.apply(images)


class RandomTransform(Transform):
    """A batch transform with per-image random parameters: ``apply(images, sample(shape, rng))`` (d2l §14.1)."""

    def __init__(self, seed=None):
        self.generator = None if seed is None else numpy.random.default_rng(seed)

    def __call__(self, images, rng=None):
        _check_batch(images, self)
        if rng is None:
            rng = self.generator if self.generator is not None else mrandom.generator(numpy)
        return self.apply(images, self.sample(images.shape, rng))


class Compose(Transform):
    """Apply transforms one after the other (torchvision.transforms.Compose)."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images, rng=None):
        for transform in self.transforms:
            images = transform(images, rng) if isinstance(transform, Transform) else transform(images)
        return images

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Normalize(Transform):
    """(image - mean) / std per channel, e.g. with ImageNet's statistics (torchvision.transforms.Normalize; d2l §14.2)."""

    def __init__(self, mean, std):
        self.mean = numpy.atleast_1d(numpy.asarray(mean, dtype=numpy.float64))
        self.std = numpy.atleast_1d(numpy.asarray(std, dtype=numpy.float64))
        if numpy.any(self.std == 0):
            raise ValueError(f"Normalize: std must not contain 0, got {std!r}")

    def apply(self, images):
        """Normalise a batch channel by channel."""
        channels = images.shape[1]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values.size not in (1, channels):
                raise ValueError(f"Normalize: {values.size} {name} values for images with "
                                 f"{channels} channels (shape {images.shape})")
        xp = backend.get_array_module(images)
        mean = xp.asarray(self.mean, dtype=images.dtype).reshape(-1, 1, 1)
        std = xp.asarray(self.std, dtype=images.dtype).reshape(-1, 1, 1)
        return (images - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


# ---- resampling: every geometric transform here is rows · image · columnsᵀ --------------------

def _interpolation_matrix(start, length, offset, scaled, count, size, dtype):
    """Bilinear resampling along one axis of ``size`` pixels, as a (count × size) matrix.

    The source window [start, start + length) is stretched to ``scaled`` pixels and output
    pixels offset .. offset + count - 1 of the stretch are kept; align_corners=False, as
    torch's ``interpolate``. Row i holds 1 - λ at the lower source pixel and λ at the upper
    one; a row that points outside the image stays zero, which is zero padding for free.
    Number arguments give one matrix for every image; arrays of N give N matrices. The
    coordinates are computed in ``dtype`` (the images' dtype), as torch does.
    """
    per_image = any(numpy.ndim(v) for v in (start, length, offset, scaled))
    start, length, offset, scaled = (numpy.reshape(v, (-1, 1, 1)) for v in (start, length, offset, scaled))
    scale = length.astype(dtype) / scaled.astype(dtype)
    centre = offset.astype(dtype) + numpy.arange(count, dtype=dtype)[:, None] + 0.5
    source = (scale.astype(numpy.float64) * centre - 0.5).astype(dtype)  # one rounding, as torch's fused multiply-add
    source = numpy.maximum(source, 0)    # window coordinate of output pixel i (count × 1)
    low = numpy.floor(source)
    weight = source - low                # λ
    high = numpy.minimum(low + 1, length - 1)
    pixel = numpy.arange(size) - start   # window coordinate of each source pixel (1 × size)
    matrix = (1 - weight) * (pixel == low) + weight * (pixel == high)
    return matrix if per_image else matrix[0]


def _resample(images, rows, columns):
    """``rows · image · columnsᵀ`` for each image and channel: resampling along H, then along W."""
    xp = backend.get_array_module(images)
    rows, columns = xp.asarray(rows), xp.asarray(columns)
    if rows.ndim == 2:  # the same matrices for every image: two plain matrix products
        return xp.tensordot(xp.tensordot(images, rows, axes=([2], [1])), columns, axes=([2], [1]))
    return rows[:, None] @ images @ columns[:, None].swapaxes(2, 3)


def _shorter_side_to(side, height, width):
    """(height, width) scaled so the shorter side becomes ``side`` (torchvision's int-size rule)."""
    if height <= width:
        return side, numpy.trunc(side * width / height).astype(numpy.int64)
    return numpy.trunc(side * height / width).astype(numpy.int64), side


class Resize(Transform):
    """Bilinear resize, as F.interpolate(mode="bilinear", align_corners=False) (d2l §8.1: 28 → 224).

    ``size`` (h, w) sets both sides; an int sets the shorter side and keeps the aspect
    ratio, as torchvision's Resize (for the square d2l images: size × size).
    """

    def __init__(self, size):
        self.size = size
        _pair(size, "Resize")

    def apply(self, images):
        """Transform the batch ``images``."""
        height, width = images.shape[2:]
        if isinstance(self.size, int):
            out_h, out_w = (int(side) for side in _shorter_side_to(self.size, height, width))
        else:
            out_h, out_w = self.size
        return _resample(images, _interpolation_matrix(0, height, 0, out_h, out_h, height, images.dtype),
                         _interpolation_matrix(0, width, 0, out_w, out_w, width, images.dtype))

    def __repr__(self):
        return f"Resize({self.size})"


class RandomResizedCrop(RandomTransform):
    """Crop a random area and aspect ratio, resize it to ``size`` (Szegedy et al. 2015, GoogLeNet; d2l §14.1)."""

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3), attempts=10, seed=None):
        super().__init__(seed)
        self.size = _pair(size, "RandomResizedCrop")
        self.scale, self.ratio, self.attempts = tuple(scale), tuple(ratio), attempts

    def sample(self, shape, rng):
        """Per image (top, left, height, width) of the crop, by torchvision's rule."""
        n, _, height, width = shape
        area = height * width * rng.uniform(*self.scale, size=(n, self.attempts))
        log_ratio = numpy.log(self.ratio)
        aspect = numpy.exp(rng.uniform(log_ratio[0], log_ratio[1], size=(n, self.attempts)))
        crop_w = numpy.round(numpy.sqrt(area * aspect)).astype(numpy.int64)
        crop_h = numpy.round(numpy.sqrt(area / aspect)).astype(numpy.int64)
        fits = (crop_w > 0) & (crop_w <= width) & (crop_h > 0) & (crop_h <= height)
        first = numpy.argmax(fits, axis=1)  # the first attempt that fits, as torchvision's loop
        chosen = numpy.arange(n), first
        crop_h, crop_w = crop_h[chosen], crop_w[chosen]
        fallback_h, fallback_w = self._central_box(height, width)
        found = fits.any(axis=1)
        crop_h = numpy.where(found, crop_h, fallback_h)
        crop_w = numpy.where(found, crop_w, fallback_w)
        top = numpy.where(found, rng.integers(0, height - crop_h + 1), (height - crop_h) // 2)
        left = numpy.where(found, rng.integers(0, width - crop_w + 1), (width - crop_w) // 2)
        return top, left, crop_h, crop_w

    def _central_box(self, height, width):
        """The fallback when no attempt fits: the whole image, trimmed to the allowed ratios."""
        if width / height < min(self.ratio):
            return int(round(width / min(self.ratio))), width
        if width / height > max(self.ratio):
            return height, int(round(height * max(self.ratio)))
        return height, width

    def apply(self, images, params):
        """Transform the batch ``images`` (with the parameters drawn by ``sample``)."""
        top, left, crop_h, crop_w = params
        out_h, out_w = self.size
        height, width = images.shape[2:]
        return _resample(images, _interpolation_matrix(top, crop_h, 0, out_h, out_h, height, images.dtype),
                         _interpolation_matrix(left, crop_w, 0, out_w, out_w, width, images.dtype))

    def __repr__(self):
        return f"RandomResizedCrop({self.size}, scale={self.scale}, ratio={self.ratio})"


class ScaleJitter(RandomTransform):
    """VGG's multi-scale training: shorter side to S ~ U{min_side..max_side}, then a random crop.

    Simonyan & Zisserman 2015, §3.1 ("scale jittering"); d2l §8.2 trains VGG at one scale.
    """

    def __init__(self, size, min_side, max_side, seed=None):
        super().__init__(seed)
        self.size = _pair(size, "ScaleJitter")
        if not max(self.size) <= min_side <= max_side:
            raise ValueError(f"ScaleJitter: need max(size) <= min_side <= max_side, got size={size}, "
                             f"min_side={min_side}, max_side={max_side}")
        self.min_side, self.max_side = min_side, max_side

    def sample(self, shape, rng):
        """Per image the rescaled (height, width) and the crop's (top, left) in the rescaled image."""
        n, _, height, width = shape
        side = rng.integers(self.min_side, self.max_side + 1, size=n)
        scaled_h, scaled_w = _shorter_side_to(side, height, width)
        scaled_h, scaled_w = numpy.broadcast_to(scaled_h, (n,)), numpy.broadcast_to(scaled_w, (n,))
        top = rng.integers(0, scaled_h - self.size[0] + 1)
        left = rng.integers(0, scaled_w - self.size[1] + 1)
        return scaled_h, scaled_w, top, left

    def apply(self, images, params):
        """Transform the batch ``images`` (with the parameters drawn by ``sample``)."""
        scaled_h, scaled_w, top, left = params
        height, width = images.shape[2:]
        out_h, out_w = self.size
        return _resample(images, _interpolation_matrix(0, height, top, scaled_h, out_h, height, images.dtype),
                         _interpolation_matrix(0, width, left, scaled_w, out_w, width, images.dtype))

    def __repr__(self):
        return f"ScaleJitter({self.size}, min_side={self.min_side}, max_side={self.max_side})"


# ---- crops, flips, colour ----------------------------------------------------------------------

class RandomCrop(RandomTransform):
    """Zero-pad by ``padding``, then crop a random size window (AlexNet, Krizhevsky et al. 2012; d2l §14.1)."""

    def __init__(self, size, padding=0, seed=None):
        super().__init__(seed)
        self.size, self.padding = _pair(size, "RandomCrop"), int(padding)

    def sample(self, shape, rng):
        """Per image (top, left) of the window in the padded image."""
        n, _, height, width = shape
        room_h = height + 2 * self.padding - self.size[0]
        room_w = width + 2 * self.padding - self.size[1]
        if room_h < 0 or room_w < 0:
            raise ValueError(f"RandomCrop: crop {self.size} is larger than the padded image "
                             f"({height + 2 * self.padding}, {width + 2 * self.padding})")
        return rng.integers(0, room_h + 1, size=n), rng.integers(0, room_w + 1, size=n)

    def apply(self, images, params):
        """Transform the batch ``images`` (with the parameters drawn by ``sample``)."""
        top, left = params  # in the padded image; rows of the matrices that land in the padding stay zero
        (crop_h, crop_w), height, width = self.size, *images.shape[2:]
        p = self.padding
        return _resample(images, _interpolation_matrix(top - p, crop_h, 0, crop_h, crop_h, height, images.dtype),
                         _interpolation_matrix(left - p, crop_w, 0, crop_w, crop_w, width, images.dtype))

    def __repr__(self):
        return f"RandomCrop({self.size}, padding={self.padding})"


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (AlexNet, Krizhevsky et al. 2012; d2l §14.1)."""

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        self.p = p

    def sample(self, shape, rng):
        """Per image: flip it or not."""
        return rng.random(shape[0]) < self.p

    def apply(self, images, flip):
        """Transform the batch ``images`` (with the parameters drawn by ``sample``)."""
        xp = backend.get_array_module(images)
        return xp.where(xp.asarray(flip)[:, None, None, None], images[..., ::-1], images)

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"


def _jitter_range(value, name):
    """torchvision's rule: a number v means factors in [max(0, 1 - v), 1 + v]; a pair is the range."""
    if numpy.ndim(value) == 0:
        if value < 0:
            raise ValueError(f"ColorJitter: {name} must be non-negative, got {value}")
        return (max(0.0, 1.0 - value), 1.0 + value) if value else None
    low, high = value
    return float(low), float(high)


def _grayscale(images):
    """ITU-R 601 luma, as torchvision's rgb_to_grayscale: N×1×H×W."""
    red, green, blue = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    return 0.2989 * red + 0.587 * green + 0.114 * blue


def _blend(images, other, factor):
    """factor * images + (1 - factor) * other, clipped to [0, 1] (torchvision's _blend)."""
    xp = backend.get_array_module(images)
    return xp.clip(factor * images + (1 - factor) * other, 0, 1)


def _brightness(images, factor):
    return _blend(images, 0, factor)


def _contrast(images, factor):
    gray = _grayscale(images) if images.shape[1] == 3 else images
    return _blend(images, gray.mean(axis=(1, 2, 3), keepdims=True), factor)


def _saturation(images, factor):
    return _blend(images, _grayscale(images), factor)


def _rgb_to_hsv(images):
    """Hue in [0, 1), saturation and value of each pixel of an N×3×H×W batch (the hexcone model, Smith 1978)."""
    xp = backend.get_array_module(images)
    red, green, blue = images[:, 0], images[:, 1], images[:, 2]
    value, low = images.max(axis=1), images.min(axis=1)
    spread = value - low
    gray = spread == 0
    safe = xp.where(gray, 1, spread)  # gray pixels have no hue; any divisor will do
    saturation = spread / xp.where(gray, 1, value)
    # Which sextant of the colour wheel: the largest channel picks the 120° sector, the other two the side.
    hue = xp.where(value == red, (green - blue) / safe,
                   xp.where(value == green, 2 + (blue - red) / safe, 4 + (red - green) / safe))
    hue = xp.where(gray, 0, hue / 6) % 1
    return hue, saturation, value


def _hsv_to_rgb(hue, saturation, value):
    """The inverse of ``_rgb_to_hsv``: N×H×W hue, saturation and value back to an N×3×H×W batch."""
    xp = backend.get_array_module(hue)
    sector = xp.floor(hue * 6)
    within = hue * 6 - sector  # how far along the sector, 0 … 1
    sector = sector.astype(xp.int64) % 6
    low = xp.clip(value * (1 - saturation), 0, 1)
    falling = xp.clip(value * (1 - saturation * within), 0, 1)
    rising = xp.clip(value * (1 - saturation * (1 - within)), 0, 1)
    # (red, green, blue) of the six sectors, each a choice among value, rising, falling, low.
    table = ((value, rising, low), (falling, value, low), (low, value, rising),
             (low, falling, value), (rising, low, value), (value, low, falling))
    channels = [sum(xp.where(sector == k, row[c], 0) for k, row in enumerate(table)) for c in range(3)]
    return xp.stack(channels, axis=1)


def _hue(images, shift):
    """Rotate every pixel's hue by ``shift`` turns (torchvision's adjust_hue); 1-channel images have no hue: unchanged."""
    if images.shape[1] == 1:
        return images
    hue, saturation, value = _rgb_to_hsv(images)
    return _hsv_to_rgb((hue + shift[:, 0]) % 1, saturation, value)


class ColorJitter(RandomTransform):
    """Random brightness, contrast, saturation and hue in a random order per image (torchvision's; d2l §14.1).

    The colour augmentation in the spirit of AlexNet's (Krizhevsky et al. 2012, §4.1).
    ``hue`` = h shifts each image's hue by a uniform draw from [-h, h] turns of the colour
    wheel (0 ≤ h ≤ 0.5, or a pair within [-0.5, 0.5]): RGB to HSV, shift, back, as
    torchvision. A 1-channel image is gray, so hue leaves it unchanged (as torchvision);
    saturation needs 3 channels.
    """

    adjustments = (_brightness, _contrast, _saturation, _hue)
    unchanged = (1.0, 1.0, 1.0, 0.0)  # the factor (or hue shift) that leaves an image as it is

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, seed=None):
        super().__init__(seed)
        self.ranges = (_jitter_range(brightness, "brightness"), _jitter_range(contrast, "contrast"),
                       _jitter_range(saturation, "saturation"), _hue_range(hue))

    def sample(self, shape, rng):
        """Per image the order of the four adjustments (N×4) and their factors (N×4; ``unchanged`` = as it is)."""
        n = shape[0]
        order = numpy.argsort(rng.random((n, 4)), axis=1)
        factors = numpy.tile(self.unchanged, (n, 1))
        for column, bounds in enumerate(self.ranges):
            if bounds is not None:
                factors[:, column] = rng.uniform(*bounds, size=n)
        return order, factors

    def apply(self, images, params):
        """Transform the batch ``images`` (with the parameters drawn by ``sample``)."""
        order, factors = params
        if self.ranges[2] is not None and images.shape[1] != 3:
            raise ValueError(f"ColorJitter: saturation needs RGB images (3 channels), got shape {images.shape}")
        xp = backend.get_array_module(images)
        for step in range(4):
            for column, adjust in enumerate(self.adjustments):
                if self.ranges[column] is None:
                    continue
                factor = numpy.where(order[:, step] == column, factors[:, column], self.unchanged[column])
                images = adjust(images, xp.asarray(factor, dtype=images.dtype)[:, None, None, None])
        return images

    def __repr__(self):
        return f"ColorJitter(ranges={self.ranges})"


def _hue_range(hue):
    """torchvision's rule for hue: h means shifts in [-h, h] with 0 ≤ h ≤ 0.5; a pair must lie in [-0.5, 0.5]."""
    low, high = (-hue, hue) if numpy.ndim(hue) == 0 else hue
    if not -0.5 <= low <= high <= 0.5:
        raise ValueError(f"ColorJitter: hue must be in [0, 0.5] or a pair within [-0.5, 0.5], got {hue!r}")
    return (float(low), float(high)) if (low, high) != (0, 0) else None


# AlexNet's lighting noise with ImageNet's RGB statistics (pixels scaled to [0, 1]), as used by
# fb.resnet.torch: eigenvalues λ and eigenvectors (the columns) of the 3×3 covariance of RGB pixels.
IMAGENET_EIGENVALUES = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGENVECTORS = ((-0.5675, 0.7192, 0.4009),
                         (-0.5808, -0.0045, -0.8140),
                         (-0.5836, -0.6948, 0.4203))


class PCALighting(RandomTransform):
    """AlexNet's lighting noise: add Σᵢ αᵢλᵢpᵢ to every pixel, αᵢ ~ N(0, σ²) per image (Krizhevsky et al. 2012, §4.1).

    pᵢ and λᵢ are the eigenvectors and eigenvalues of the covariance of the training set's
    pixel colours (a C×C matrix), so the noise changes the intensity and colour of the
    illumination along the directions in which natural images vary most. The defaults are
    ImageNet's RGB statistics with AlexNet's σ = 0.1; ``PCALighting.from_images(images)``
    computes them from your own data (for 1-channel images this is a random brightness
    offset with standard deviation σ·variance). The result is not clipped, as in the paper.
    """

    def __init__(self, alphastd=0.1, eigenvalues=IMAGENET_EIGENVALUES, eigenvectors=IMAGENET_EIGENVECTORS,
                 seed=None):
        super().__init__(seed)
        self.alphastd = float(alphastd)
        self.eigenvalues = numpy.asarray(eigenvalues, dtype=numpy.float64).reshape(-1)
        self.eigenvectors = numpy.asarray(eigenvectors, dtype=numpy.float64)
        channels = self.eigenvalues.size
        if self.eigenvectors.shape != (channels, channels) or self.alphastd < 0:
            raise ValueError(f"PCALighting: need {channels}×{channels} eigenvectors for {channels} eigenvalues and "
                             f"alphastd ≥ 0, got eigenvectors {self.eigenvectors.shape}, alphastd {alphastd}")

    @classmethod
    def from_images(cls, images, alphastd=0.1, seed=None):
        """Lighting noise with the eigen-decomposition of ``images``' pixel-colour covariance (N×C×H×W, e.g. the training set)."""
        _check_batch(images, cls)
        pixels = backend.to_numpy(images).astype(numpy.float64).transpose(1, 0, 2, 3).reshape(images.shape[1], -1)
        eigenvalues, eigenvectors = numpy.linalg.eigh(numpy.atleast_2d(numpy.cov(pixels)))
        return cls(alphastd, eigenvalues[::-1], eigenvectors[:, ::-1], seed=seed)

    def sample(self, shape, rng):
        """Per image the colour offset Σᵢ αᵢλᵢpᵢ (N×C)."""
        alpha = rng.normal(0.0, self.alphastd, size=(shape[0], self.eigenvalues.size))
        return (alpha * self.eigenvalues) @ self.eigenvectors.T

    def apply(self, images, offsets):
        """Transform the batch ``images`` (with the offsets drawn by ``sample``)."""
        if images.shape[1] != offsets.shape[1]:
            raise ValueError(f"PCALighting: statistics for {offsets.shape[1]} channels, images have shape "
                             f"{images.shape}; for other data use PCALighting.from_images(training_images)")
        xp = backend.get_array_module(images)
        return images + xp.asarray(offsets, dtype=images.dtype)[:, :, None, None]

    def __repr__(self):
        return f"PCALighting(alphastd={self.alphastd}, eigenvalues={self.eigenvalues.round(4).tolist()})"
