"""Batch transforms: hand-computed cases, PyTorch's interpolate as the oracle, torchvision's formulas."""
import colorsys

import numpy as np
import pytest
from conftest import AVAILABLE_BACKENDS

from minicnn.data import (ColorJitter, Compose, Normalize, PCALighting, RandomCrop, RandomHorizontalFlip,
                          RandomResizedCrop, Resize, ScaleJitter)


def batch(n=4, c=1, h=6, w=6, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


# ---- Resize ------------------------------------------------------------------------------------

def test_resize_upsamples_a_linear_ramp_by_hand():
    # 1-D, 2 -> 4, align_corners=False: source x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25,
    # clamped to [0, 1] -> weights give a, a + (b-a)/4, a + 3(b-a)/4, b.
    image = np.array([[[[0.0, 4.0], [8.0, 12.0]]]], dtype=np.float32)
    expected_x = np.array([0.0, 1.0, 3.0, 4.0])
    expected_y = np.array([0.0, 2.0, 6.0, 8.0])
    result = Resize(4)(image)
    assert result.shape == (1, 1, 4, 4) and result.dtype == np.float32
    np.testing.assert_allclose(result[0, 0], expected_y[:, None] + expected_x[None, :], atol=1e-6)


def test_resize_downsamples_by_two_to_pair_averages():
    # 4 -> 2: source x = (i + 0.5) * 2 - 0.5 = 0.5, 2.5: the mean of each pair (no antialiasing)
    image = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    expected = np.array([[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_allclose(Resize((2, 2))(image)[0, 0], expected, atol=1e-12)


def test_resize_int_sets_the_shorter_side():
    assert Resize(8)(batch(h=4, w=6)).shape == (4, 1, 8, 12)
    assert Resize(8)(batch(h=6, w=4)).shape == (4, 1, 12, 8)
    assert Resize((5, 3))(batch(h=6, w=4)).shape == (4, 1, 5, 3)


@pytest.mark.parametrize("in_size, out_size", [
    ((28, 28), (224, 224)), ((28, 28), (96, 96)), ((7, 9), (5, 13)), ((32, 32), (32, 32)), ((40, 16), (11, 3)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resize_matches_torch_interpolate(in_size, out_size, dtype):
    torch = pytest.importorskip("torch")
    images = batch(n=3, c=2, h=in_size[0], w=in_size[1], seed=1).astype(dtype)
    expected = torch.nn.functional.interpolate(torch.from_numpy(images), size=out_size, mode="bilinear",
                                               align_corners=False, antialias=False).numpy()
    result = Resize(out_size)(images)
    assert result.dtype == dtype
    np.testing.assert_allclose(result, expected, rtol=0, atol=4e-7 if dtype == np.float32 else 1e-12)


# ---- Normalize and Compose ------------------------------------------------------------------

def test_normalize_per_channel_by_hand():
    images = np.stack([np.full((2, 2), 0.5), np.full((2, 2), 0.25), np.full((2, 2), 1.0)])[None].astype(np.float32)
    result = Normalize(mean=[0.5, 0.0, 0.5], std=[0.5, 0.25, 2.0])(images)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result[0, :, 0, 0], [0.0, 1.0, 0.25])


def test_normalize_rejects_wrong_channel_counts_and_zero_std():
    with pytest.raises(ValueError, match="2 mean values for images with 3 channels"):
        Normalize([0.1, 0.2], [1.0])(batch(c=3))
    with pytest.raises(ValueError, match="std must not contain 0"):
        Normalize(0.0, [1.0, 0.0])


def test_compose_applies_in_order_and_accepts_plain_functions():
    images = batch()
    composed = Compose([Normalize(0.5, 0.5), lambda x: x * 3, Resize(3)])
    np.testing.assert_allclose(composed(images), Resize(3)((images - 0.5) / 0.5 * 3), rtol=1e-6)


def test_transforms_reject_non_batches():
    with pytest.raises(ValueError, match=r"Resize: expected a batch of images N×C×H×W, got shape \(6, 6\)"):
        Resize(3)(np.zeros((6, 6), dtype=np.float32))
    with pytest.raises(ValueError, match="RandomCrop"):
        RandomCrop(3)(np.zeros((1, 6, 6), dtype=np.float32))


# ---- flips and crops ------------------------------------------------------------------------

def test_flip_always_and_never():
    images = batch()
    np.testing.assert_array_equal(RandomHorizontalFlip(p=1.0)(images), images[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(images), images)


def test_flip_each_image_independently_and_repeatably():
    images = batch(n=64)
    result = RandomHorizontalFlip(seed=3)(images)
    flipped = np.all(result == images[..., ::-1], axis=(1, 2, 3))
    kept = np.all(result == images, axis=(1, 2, 3))
    assert np.all(flipped | kept) and 10 < flipped.sum() < 54
    np.testing.assert_array_equal(RandomHorizontalFlip(seed=3)(images), result)


def windows(padded, size):
    """Every size × size window of each padded image, by plain slicing."""
    h, w = padded.shape[-2:]
    return [padded[..., i:i + size, j:j + size] for i in range(h - size + 1) for j in range(w - size + 1)]


def test_random_crop_takes_a_window_of_the_zero_padded_image():
    images = batch(n=16, c=2, h=5, w=5, seed=4) + 1.0  # no zeros inside, so padding shows
    result = RandomCrop(5, padding=2, seed=0)(images)
    assert result.shape == (16, 2, 5, 5)
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for n in range(16):
        matches = [k for k, window in enumerate(windows(padded[n], 5)) if np.array_equal(window, result[n])]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert len(offsets) > 4  # the offset really varies between images


def test_random_crop_without_padding_of_full_size_is_identity_and_too_big_is_an_error():
    images = batch()
    np.testing.assert_array_equal(RandomCrop(6)(images), images)
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(9, padding=1)(images)


def test_random_resized_crop_equals_crop_then_resize():
    images = batch(n=8, c=3, h=20, w=16, seed=5)
    transform = RandomResizedCrop((12, 10))
    result = transform(images, np.random.default_rng(9))
    top, left, height, width = transform.sample(images.shape, np.random.default_rng(9))
    for n in range(8):
        crop = images[n:n + 1, :, top[n]:top[n] + height[n], left[n]:left[n] + width[n]]
        np.testing.assert_allclose(result[n:n + 1], Resize((12, 10))(crop), atol=1e-6)


def test_random_resized_crop_boxes_follow_scale_and_ratio():
    transform = RandomResizedCrop(8, scale=(0.25, 0.5), ratio=(0.5, 2.0))
    top, left, height, width = transform.sample((500, 1, 100, 100), np.random.default_rng(0))
    assert np.all(top >= 0) and np.all(left >= 0)
    assert np.all(top + height <= 100) and np.all(left + width <= 100)
    area = height * width / 100**2
    assert np.all(area > 0.23) and np.all(area < 0.52)  # rounding of the sides moves it a little
    aspect = width / height
    assert np.all(aspect > 0.47) and np.all(aspect < 2.1) and aspect.min() < 0.7 and aspect.max() > 1.5


def test_random_resized_crop_falls_back_to_the_centre():
    # ratio 10:1 never fits a square image, so every image gets the central crop
    transform = RandomResizedCrop(4, scale=(0.9, 1.0), ratio=(10.0, 10.0))
    top, left, height, width = transform.sample((3, 1, 20, 20), np.random.default_rng(0))
    np.testing.assert_array_equal(height, [2, 2, 2])  # round(20 / 10)
    np.testing.assert_array_equal(width, [20, 20, 20])
    np.testing.assert_array_equal(top, [9, 9, 9])


def test_scale_jitter_is_a_crop_of_the_rescaled_image():
    images = batch(n=6, c=1, h=8, w=8, seed=6)
    transform = ScaleJitter(8, min_side=10, max_side=14)
    result = transform(images, np.random.default_rng(1))
    scaled_h, scaled_w, top, left = transform.sample(images.shape, np.random.default_rng(1))
    assert set(scaled_h) <= set(range(10, 15)) and np.array_equal(scaled_h, scaled_w)
    for n in range(6):
        rescaled = Resize(int(scaled_h[n]))(images[n:n + 1])
        np.testing.assert_allclose(result[n:n + 1], rescaled[..., top[n]:top[n] + 8, left[n]:left[n] + 8], atol=1e-6)


def test_scale_jitter_checks_its_sizes():
    with pytest.raises(ValueError, match="min_side"):
        ScaleJitter(224, min_side=200, max_side=300)


# ---- colour -------------------------------------------------------------------------------

def gray(image):
    return 0.2989 * image[0] + 0.587 * image[1] + 0.114 * image[2]


def hue_shift_by_hand(image, shift):
    """Each pixel through the standard library's colorsys: RGB to HSV, hue + shift (mod 1), back to RGB."""
    pixels = image.reshape(3, -1).T.astype(np.float64)
    shifted = [colorsys.hsv_to_rgb((h + shift) % 1, s, v) for h, s, v in (colorsys.rgb_to_hsv(*p) for p in pixels)]
    return np.array(shifted).T.reshape(image.shape)


def jitter_one_by_hand(image, order, factors):
    """torchvision's adjust_brightness / adjust_contrast / adjust_saturation / adjust_hue, one image, given order."""
    for op in order:
        f = factors[op]
        if op == 0:
            image = np.clip(f * image, 0, 1)
        elif op == 1:
            image = np.clip(f * image + (1 - f) * gray(image).mean(), 0, 1)
        elif op == 2:
            image = np.clip(f * image + (1 - f) * gray(image)[None], 0, 1)
        else:
            image = hue_shift_by_hand(image, f)
    return image


def test_color_jitter_matches_torchvision_formulas_in_the_sampled_order():
    images = batch(n=12, c=3, h=5, w=5, seed=7)
    transform = ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.3)
    result = transform(images, np.random.default_rng(4))
    order, factors = transform.sample(images.shape, np.random.default_rng(4))
    assert len({tuple(o) for o in order}) > 2  # the order really differs between images
    assert np.all((factors[:, :3] >= 0.5) & (factors[:, :3] <= 1.5))
    assert np.all(np.abs(factors[:, 3]) <= 0.3) and factors[:, 3].std() > 0.05
    for n in range(12):
        np.testing.assert_allclose(result[n], jitter_one_by_hand(images[n], order[n], factors[n]), atol=1e-5)


def test_hue_alone_matches_colorsys_and_keeps_each_pixels_largest_and_smallest_channel():
    images = batch(n=6, c=3, h=4, w=5, seed=11)
    transform = ColorJitter(hue=0.5)
    result = transform(images, np.random.default_rng(1))
    _, factors = transform.sample(images.shape, np.random.default_rng(1))
    for n in range(6):
        np.testing.assert_allclose(result[n], hue_shift_by_hand(images[n], factors[n, 3]), atol=1e-5)
    # A hue rotation moves colour around the wheel but keeps value (max) and max - min.
    np.testing.assert_allclose(result.max(axis=1), images.max(axis=1), atol=1e-6)
    np.testing.assert_allclose(result.min(axis=1), images.min(axis=1), atol=1e-6)
    assert result.dtype == np.float32 and np.abs(result - images).max() > 0.1


def test_hue_third_of_a_turn_maps_red_to_green_and_leaves_gray_alone():
    red, green, gray_pixel = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.4, 0.4, 0.4]
    images = np.array([red, green, gray_pixel], dtype=np.float32)[:, :, None, None]
    result = ColorJitter(hue=(1 / 3, 1 / 3))(images)
    np.testing.assert_allclose(result[:, :, 0, 0], [green, [0.0, 0.0, 1.0], gray_pixel], atol=1e-6)
    one_channel = batch(c=1)  # a 1-channel image is gray: no hue to shift (torchvision does the same)
    np.testing.assert_array_equal(ColorJitter(hue=0.5, seed=0)(one_channel), one_channel)


def test_brightness_only_scales_each_image_by_one_factor_in_range():
    images = batch(n=20, c=3, seed=8) * 0.5  # stays below 1 after scaling by at most 1.3
    result = ColorJitter(brightness=0.3, seed=0)(images)
    ratio = result / images
    per_image = ratio.reshape(20, -1)
    np.testing.assert_allclose(per_image, per_image[:, :1].repeat(per_image.shape[1], axis=1), rtol=1e-5)
    assert np.all((per_image >= 0.7 - 1e-6) & (per_image <= 1.3 + 1e-6))
    assert result.dtype == np.float32


def test_color_jitter_range_rule_and_errors():
    assert ColorJitter(brightness=1.5).ranges[0] == (0.0, 2.5)
    assert ColorJitter(contrast=(0.2, 0.4)).ranges[1] == (0.2, 0.4)
    assert ColorJitter().ranges == (None, None, None, None)
    assert ColorJitter(hue=0.2).ranges[3] == (-0.2, 0.2)
    with pytest.raises(ValueError, match="saturation needs RGB"):
        ColorJitter(saturation=0.5)(batch(c=1))
    with pytest.raises(ValueError, match="non-negative"):
        ColorJitter(brightness=-1)
    for hue in (0.6, -0.1, (0.2, 0.7)):
        with pytest.raises(ValueError, match=r"hue must be in \[0, 0.5\]"):
            ColorJitter(hue=hue)


# ---- AlexNet's PCA lighting ---------------------------------------------------------------

def test_lighting_adds_one_colour_per_image_along_the_eigenvectors():
    images = batch(n=5, c=3, h=4, w=4, seed=12)
    transform = PCALighting()
    result = transform(images, np.random.default_rng(3))
    alpha = np.random.default_rng(3).normal(0, 0.1, size=(5, 3))
    eigenvectors, eigenvalues = np.array(transform.eigenvectors), np.array(transform.eigenvalues)
    expected = np.einsum("ck,nk->nc", eigenvectors, alpha * eigenvalues)  # Σᵢ αᵢ λᵢ pᵢ
    np.testing.assert_allclose(result - images, np.broadcast_to(expected[:, :, None, None], images.shape), atol=1e-6)
    assert result.dtype == np.float32


def test_lighting_noise_has_the_covariance_of_the_scaled_eigenvalues():
    offsets = PCALighting(alphastd=0.1)(np.zeros((20000, 3, 1, 1), dtype=np.float32), np.random.default_rng(5))[..., 0, 0]
    vectors, values = np.array(PCALighting().eigenvectors), np.array(PCALighting().eigenvalues)
    np.testing.assert_allclose(np.cov(offsets.T), vectors @ np.diag((0.1 * values) ** 2) @ vectors.T, atol=2e-6)
    assert abs(np.mean(offsets)) < 1e-3


def test_lighting_from_images_finds_the_direction_the_colours_vary_along():
    rng = np.random.default_rng(6)
    direction = np.array([2.0, 1.0, -2.0]) / 3
    t = rng.normal(0, 0.2, size=(50, 1, 8, 8))
    images = (0.5 + t * direction[None, :, None, None]).astype(np.float32)  # every pixel on one line
    lighting = PCALighting.from_images(images, seed=0)
    assert abs(lighting.eigenvectors[:, 0] @ direction) == pytest.approx(1, abs=1e-4)
    assert lighting.eigenvalues[0] == pytest.approx(t.var(ddof=1), rel=1e-3) and lighting.eigenvalues[1] < 1e-6
    offsets = (lighting(images) - images)[:, :, 0, 0]
    np.testing.assert_allclose(np.abs(offsets @ direction), np.linalg.norm(offsets, axis=1), rtol=1e-3)


def test_lighting_for_one_channel_is_a_brightness_offset_and_channel_counts_must_match():
    images = batch(n=4000, c=1, h=2, w=2, seed=13)
    lighting = PCALighting.from_images(images, alphastd=0.5)
    assert lighting.eigenvalues[0] == pytest.approx(images.var(ddof=1), rel=1e-4)
    offsets = (lighting(images, np.random.default_rng(0)) - images).reshape(4000, -1)
    assert np.allclose(offsets, offsets[:, :1], atol=1e-6)
    assert offsets[:, 0].std() == pytest.approx(0.5 * images.var(ddof=1), rel=0.05)
    with pytest.raises(ValueError, match="from_images"):
        PCALighting()(images)
    with pytest.raises(ValueError, match="3×3 eigenvectors"):
        PCALighting(eigenvectors=np.eye(2))


def test_random_transforms_are_repeatable_from_a_seed():
    images = batch(n=8, c=3, h=12, w=12)
    for make in (lambda: RandomCrop(10, padding=1, seed=3), lambda: RandomResizedCrop(6, seed=3),
                 lambda: ColorJitter(0.4, 0.4, 0.4, 0.2, seed=3), lambda: ScaleJitter(12, 12, 20, seed=3),
                 lambda: PCALighting(seed=3)):
        np.testing.assert_array_equal(make()(images), make()(images))


@pytest.mark.skipif("cupy" not in AVAILABLE_BACKENDS, reason="CuPy with a CUDA device is not available")
@pytest.mark.parametrize("transform", [
    Resize(20), Normalize([0.1, 0.2, 0.3], [0.5, 0.5, 2.0]), RandomCrop(10, padding=3),
    RandomHorizontalFlip(), RandomResizedCrop(9), ScaleJitter(10, 12, 16), ColorJitter(0.4, 0.4, 0.4, 0.2),
    PCALighting(),
], ids=lambda t: type(t).__name__)
def test_cupy_batches_give_the_numpy_results(transform):
    import cupy
    images = batch(n=8, c=3, h=12, w=12, seed=10)
    expected = transform(images, np.random.default_rng(2))
    result = transform(cupy.asarray(images), np.random.default_rng(2))
    assert isinstance(result, cupy.ndarray) and result.dtype == np.float32
    np.testing.assert_allclose(cupy.asnumpy(result), expected, atol=1e-6)
