"""Segmentation data: the VOC 2012 reader on a tiny VOC-shaped folder, and SyntheticShapes."""
import math

import numpy
import pytest

from minicnn import backend
from minicnn.data import DataLoader, DatasetNotFoundError, DataFileError
from minicnn.data.segmentation import (SHAPE_CLASSES, VOC_CLASSES, VOC_COLORMAP, SyntheticShapes,
                                       VOCSegmentation)

CROP = (6, 8)


def _write_voc(root, examples, image_set="train"):
    """A VOC2012-shaped folder: {name: (image H×W×3 uint8, label H×W uint8 or None)} → JPEG, palette PNG, split file."""
    Image = pytest.importorskip("PIL.Image")
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    palette = [value for colour in VOC_COLORMAP for value in colour]
    for name, (image, label) in examples.items():
        Image.fromarray(image).save(root / "JPEGImages" / f"{name}.jpg", quality=95)
        if label is not None:
            png = Image.fromarray(label, mode="P")
            png.putpalette(palette + [224, 224, 192] * (256 - len(VOC_COLORMAP)))
            png.save(root / "SegmentationClass" / f"{name}.png")
    (root / "ImageSets" / "Segmentation" / f"{image_set}.txt").write_text("\n".join(examples) + "\n")
    return root


def _example(rng, height, width):
    image = rng.integers(0, 256, size=(height, width, 3), dtype=numpy.uint8)
    label = rng.integers(0, len(VOC_CLASSES), size=(height, width)).astype(numpy.uint8)
    label[0, :] = 255  # a "void" border row
    return image, label


@pytest.fixture
def voc(tmp_path):
    rng = numpy.random.default_rng(0)
    examples = {"2007_000001": _example(rng, 10, 12), "2007_000002": _example(rng, 6, 8),
                "2007_000003": _example(rng, 5, 20), "2007_000004": _example(rng, 12, 7)}
    return _write_voc(tmp_path / "VOCdevkit" / "VOC2012", examples), examples


def _bit(value, position):
    return (value >> position) & 1


def test_colormap_is_the_voc_bit_interleaved_palette():
    # VOC's devkit builds colour k by spreading k's bits over r, g, b from the top bit down.
    for k, colour in enumerate(VOC_COLORMAP):
        r = g = b = 0
        for level in range(8):
            r |= _bit(k, 3 * level) << (7 - level)
            g |= _bit(k, 3 * level + 1) << (7 - level)
            b |= _bit(k, 3 * level + 2) << (7 - level)
        assert colour == (r, g, b), VOC_CLASSES[k]
    assert len(VOC_CLASSES) == len(VOC_COLORMAP) == 21


def test_finds_root_above_vocdevkit_and_skips_small_images(voc):
    root, _ = voc
    dataset = VOCSegmentation(root.parent.parent, "train", crop_size=CROP)
    assert dataset.ids == ["2007_000001", "2007_000002"]
    assert dataset.skipped == ["2007_000003", "2007_000004"]  # 5 rows < 6, 7 columns < 8
    assert len(dataset) == 2 and "2 skipped" in repr(dataset)


def test_labels_are_the_palette_indices_with_void_mapped(voc):
    root, examples = voc
    _, label = examples["2007_000001"]
    expected = label.astype(numpy.int64)
    background = VOCSegmentation(root, crop_size=CROP)
    assert numpy.array_equal(background.read_label(0), numpy.where(expected == 255, 0, expected))
    kept = VOCSegmentation(root, crop_size=CROP, void_label=255)
    assert numpy.array_equal(kept.read_label(0), expected)


def test_image_and_label_are_cropped_at_the_same_window(voc):
    root, _ = voc
    dataset = VOCSegmentation(root, crop_size=CROP, seed=3)
    full_image, full_label = dataset.read_image(0), dataset.read_label(0)
    offsets = set()
    for _ in range(12):
        image, label = dataset[0]
        image, label = backend.to_numpy(image), backend.to_numpy(label)
        assert image.shape == (3,) + CROP and image.dtype == numpy.float32
        assert label.shape == CROP and label.dtype == numpy.int64
        pixels = numpy.rint(image * 255).astype(numpy.uint8)
        matches = [(top, left) for top in range(10 - CROP[0] + 1) for left in range(12 - CROP[1] + 1)
                   if numpy.array_equal(full_image[:, top:top + CROP[0], left:left + CROP[1]], pixels)]
        assert len(matches) == 1
        top, left = matches[0]
        assert numpy.array_equal(full_label[top:top + CROP[0], left:left + CROP[1]], label)
        offsets.add(matches[0])
    assert len(offsets) > 1  # the crops are random


def test_voc_crops_batch_through_the_dataloader(voc):
    root, _ = voc
    images, labels = next(iter(DataLoader(VOCSegmentation(root, crop_size=CROP, seed=0), batch_size=2)))
    assert images.shape == (2, 3) + CROP and images.dtype == numpy.float32
    assert labels.shape == (2,) + CROP and labels.dtype == numpy.int64
    assert 0 <= int(labels.min()) and int(labels.max()) < len(VOC_CLASSES)


def test_missing_label_file_names_the_file(tmp_path):
    rng = numpy.random.default_rng(1)
    image, _ = _example(rng, 8, 8)
    root = _write_voc(tmp_path, {"a": _example(rng, 8, 8), "b": (image, None)})
    with pytest.raises(DataFileError, match=r"SegmentationClass[/\\]b\.png.*missing"):
        VOCSegmentation(root, crop_size=4)


def test_size_mismatch_names_the_file(tmp_path):
    rng = numpy.random.default_rng(2)
    image, _ = _example(rng, 8, 9)
    _, label = _example(rng, 8, 8)
    root = _write_voc(tmp_path, {"odd": (image, label)})
    with pytest.raises(DataFileError, match=r"odd\.png.*8×8.*9×8"):
        VOCSegmentation(root, crop_size=4)


def test_class_index_out_of_range_names_the_file(tmp_path):
    rng = numpy.random.default_rng(3)
    image, label = _example(rng, 8, 8)
    label[4, 4] = 30
    dataset = VOCSegmentation(_write_voc(tmp_path, {"bad": (image, label)}), crop_size=4)
    with pytest.raises(DataFileError, match=r"bad\.png.*class index 30"):
        dataset[0]


def test_rgb_label_is_rejected(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = numpy.random.default_rng(4)
    root = _write_voc(tmp_path, {"rgb": _example(rng, 8, 8)})
    Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=numpy.uint8)).save(
        root / "SegmentationClass" / "rgb.png")
    with pytest.raises(DataFileError, match=r"rgb\.png.*mode RGB"):
        VOCSegmentation(root, crop_size=4).read_label(0)


def test_missing_dataset_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="VOCtrainval_11-May-2012.tar"):
        VOCSegmentation(tmp_path, "val")


def _expected_mask(kind, center, radius, angle, size):
    """An independent rasteriser: circle by distance, square and triangle by their edge normals."""
    ys, xs = numpy.mgrid[0:size, 0:size] + 0.5
    dx, dy = xs - center[0], ys - center[1]
    if kind == "circle":
        return numpy.hypot(dx, dy) <= radius
    corners = 4 if kind == "square" else 3
    apothem = radius * math.cos(math.pi / corners)  # distance from the centre to each edge
    inside = numpy.ones((size, size), dtype=bool)
    for k in range(corners):
        normal = angle + math.pi / corners + 2 * math.pi * k / corners
        inside &= dx * math.cos(normal) + dy * math.sin(normal) <= apothem + 1e-9
    return inside


def test_synthetic_labels_match_the_drawn_shapes():
    dataset = SyntheticShapes(num_images=20, size=32, seed=5)
    for image, label, shapes in zip(dataset.images, dataset.labels, dataset.shapes):
        expected = numpy.zeros_like(label)
        colour = numpy.zeros_like(image)
        coverage = numpy.zeros(label.shape, dtype=int)
        for kind, center, radius, angle, rgb in shapes:
            mask = _expected_mask(SHAPE_CLASSES[kind], center, radius, angle, 32)
            expected[mask] = kind
            colour[:, mask] = numpy.array(rgb)[:, None]
            coverage += mask
        assert numpy.array_equal(label, expected)
        assert coverage.max() <= 1  # shapes never overlap
        covered = expected > 0
        assert numpy.array_equal(image[:, covered], colour[:, covered])
    assert set(numpy.unique(dataset.labels)) == {0, 1, 2, 3}


def test_synthetic_is_deterministic_by_seed_with_a_distinct_held_out_split():
    first, again = SyntheticShapes(num_images=4, size=16, seed=7), SyntheticShapes(num_images=4, size=16, seed=7)
    assert numpy.array_equal(first.images, again.images) and numpy.array_equal(first.labels, again.labels)
    other_seed = SyntheticShapes(num_images=4, size=16, seed=8)
    held_out = SyntheticShapes(train=False, num_images=4, size=16, seed=7)
    assert not numpy.array_equal(first.images, other_seed.images)
    assert not numpy.array_equal(first.images, held_out.images)


def test_synthetic_batches_through_the_dataloader():
    dataset = SyntheticShapes(num_images=10, size=16, seed=0)
    images, labels = next(iter(DataLoader(dataset, batch_size=4)))
    assert images.shape == (4, 3, 16, 16) and images.dtype == numpy.float32
    assert labels.shape == (4, 16, 16) and labels.dtype == numpy.int64
    assert numpy.array_equal(backend.to_numpy(labels), dataset.labels[:4])
    image, label = dataset[1]
    assert numpy.allclose(backend.to_numpy(image), dataset.images[1] / 255)
    assert numpy.array_equal(backend.to_numpy(label), dataset.labels[1])
