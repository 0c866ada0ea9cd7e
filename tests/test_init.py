"""minicnn.nn.init: PyTorch's formulas and the FCN bilinear kernel, checked statistically and by hand."""
import math

import numpy
import pytest

from minicnn import Tensor, backend, nn
from minicnn.nn import init


def _empty(shape, dtype="float32"):
    return nn.Parameter(backend.xp().empty(shape, dtype=dtype))


def test_calculate_gain_hand_values():
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("conv2d") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swishy")


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_fills_in_place_keeps_dtype_and_returns_tensor(backend_name):
    for dtype in ("float32", "float64"):
        p = _empty((64, 32, 3, 3), dtype)
        array = p.data
        for fill in (init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                     init.kaiming_normal_, init.zeros_, init.ones_, init.uniform_, init.normal_):
            assert fill(p) is p
            assert p.data is array and p.dtype == dtype


def _std(tensor):
    return float(backend.to_numpy(tensor.data).std())


def _max_abs(tensor):
    return float(numpy.abs(backend.to_numpy(tensor.data)).max())


def test_xavier_uniform_bound_and_std(backend_name):
    p = init.xavier_uniform_(_empty((200, 100, 3, 3)))  # fan_in 900, fan_out 1800
    bound = math.sqrt(6 / (900 + 1800))
    assert _max_abs(p) <= bound
    assert _max_abs(p) > 0.99 * bound
    assert _std(p) == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_xavier_normal_std_with_gain(backend_name):
    p = init.xavier_normal_(_empty((300, 200)), gain=2.0)
    assert _std(p) == pytest.approx(2.0 * math.sqrt(2 / 500), rel=0.02)
    assert abs(float(backend.to_numpy(p.data).mean())) < 0.05 * _std(p)


def test_kaiming_uniform_bound(backend_name):
    p = init.kaiming_uniform_(_empty((128, 64, 3, 3)), nonlinearity="relu")  # fan_in 576
    bound = math.sqrt(2) * math.sqrt(3 / 576)
    assert bound * 0.99 < _max_abs(p) <= bound


def test_kaiming_normal_std_fan_in_and_fan_out(backend_name):
    p = init.kaiming_normal_(_empty((128, 64, 3, 3)), nonlinearity="relu")
    assert _std(p) == pytest.approx(math.sqrt(2 / 576), rel=0.02)
    p = init.kaiming_normal_(_empty((128, 64, 3, 3)), mode="fan_out", nonlinearity="relu")
    assert _std(p) == pytest.approx(math.sqrt(2 / 1152), rel=0.02)


def test_uniform_normal_constant(backend_name):
    p = init.uniform_(_empty((100000,)), -2.0, 3.0)
    values = backend.to_numpy(p.data)
    assert values.min() >= -2.0 and values.max() <= 3.0
    assert values.mean() == pytest.approx(0.5, abs=0.02)
    values = backend.to_numpy(init.normal_(_empty((100000,)), 1.5, 0.5).data)
    assert values.mean() == pytest.approx(1.5, abs=0.01)
    assert values.std() == pytest.approx(0.5, rel=0.02)
    assert (backend.to_numpy(init.constant_(_empty((3, 2)), 0.25).data) == 0.25).all()
    assert (backend.to_numpy(init.ones_(_empty((3, 2))).data) == 1).all()
    assert (backend.to_numpy(init.zeros_(_empty((3, 2))).data) == 0).all()


def test_manual_seed_repeats_draws(backend_name):
    init.manual_seed(7)
    first = backend.to_numpy(init.normal_(_empty((5, 5))).data).copy()
    init.manual_seed(7)
    second = backend.to_numpy(init.normal_(_empty((5, 5))).data)
    numpy.testing.assert_array_equal(first, second)
    third = backend.to_numpy(init.normal_(_empty((5, 5))).data)
    assert not numpy.array_equal(second, third)


def test_fan_needs_two_dimensions():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(_empty((10,)))


def test_bilinear_kernel_even_and_odd_by_hand(backend_name):
    weight = init.bilinear_(_empty((2, 2, 4, 4)))
    profile = numpy.array([0.25, 0.75, 0.75, 0.25])  # factor 2, center 1.5
    w = backend.to_numpy(weight.data)
    for c in range(2):
        numpy.testing.assert_allclose(w[c, c], numpy.outer(profile, profile))
    assert (w[0, 1] == 0).all() and (w[1, 0] == 0).all()
    w = backend.to_numpy(init.bilinear_(_empty((1, 1, 3, 3), "float64")).data)
    profile = numpy.array([0.5, 1.0, 0.5])  # factor 2, center 1
    numpy.testing.assert_allclose(w[0, 0], numpy.outer(profile, profile))


def _bilinear_reference(image, scale):
    """Bilinear resize with align_corners=False, written out for one (C, H, W) image."""
    channels, height, width = image.shape

    def taps(size):
        source = numpy.maximum((numpy.arange(size * scale) + 0.5) / scale - 0.5, 0)
        low = numpy.floor(source).astype(int)
        high = numpy.minimum(low + 1, size - 1)
        return low, high, source - low

    (y0, y1, fy), (x0, x1, fx) = taps(height), taps(width)
    top = image[:, y0][:, :, x0] * (1 - fx) + image[:, y0][:, :, x1] * fx
    bottom = image[:, y1][:, :, x0] * (1 - fx) + image[:, y1][:, :, x1] * fx
    return top * (1 - fy)[:, None] + bottom * fy[:, None]


def _upsample_with_bilinear_layer(image):
    layer = nn.ConvTranspose2d(3, 3, kernel_size=4, padding=1, stride=2)
    init.bilinear_(layer.weight)
    init.zeros_(layer.bias)
    return layer(Tensor(backend.asarray(image[None], dtype="float32"))).numpy()[0]


def test_bilinear_transposed_conv_upsamples_like_bilinear_interpolation(rng):
    image = rng.random((3, 8, 10))
    out = _upsample_with_bilinear_layer(image)
    assert out.shape == (3, 16, 20)
    expected = _bilinear_reference(image, 2)
    numpy.testing.assert_allclose(out[:, 1:-1, 1:-1], expected[:, 1:-1, 1:-1], atol=1e-5)


def test_bilinear_upsampling_agrees_with_torch_interpolate(rng):
    torch = pytest.importorskip("torch")
    image = rng.random((3, 8, 10))
    theirs = torch.nn.functional.interpolate(
        torch.from_numpy(image)[None], scale_factor=2, mode="bilinear", align_corners=False)[0].numpy()
    numpy.testing.assert_allclose(_bilinear_reference(image, 2), theirs, atol=1e-12)
    out = _upsample_with_bilinear_layer(image)
    numpy.testing.assert_allclose(out[:, 1:-1, 1:-1], theirs[:, 1:-1, 1:-1], atol=1e-5)
