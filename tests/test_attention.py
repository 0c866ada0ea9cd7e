"""nn.SpatialAttention (Woo et al. 2018, CBAM §3): the map by hand, gradients, shapes and errors."""
import numpy
import pytest

from minicnn import Tensor, backend, gradcheck, nn


def _tensor(array, requires_grad=False):
    return Tensor(backend.asarray(array), requires_grad=requires_grad)


def _correlate_same(planes, kernel):
    """Cross-correlate (2, H, W) planes with a (2, k, k) kernel, zero padding k//2: one output plane."""
    k = kernel.shape[-1]
    padded = numpy.pad(planes, ((0, 0), (k // 2, k // 2), (k // 2, k // 2)))
    height, width = planes.shape[1:]
    return numpy.array([[(padded[:, i:i + k, j:j + k] * kernel).sum() for j in range(width)] for i in range(height)])


@pytest.mark.parametrize("kernel_size", [7, 3])
def test_spatial_attention_is_sigmoid_of_conv_over_channel_mean_and_max(rng, kernel_size, backend_name):
    layer = nn.SpatialAttention(kernel_size)
    x = rng.standard_normal((2, 5, 6, 9)).astype("float32")
    y = layer(_tensor(x)).numpy()
    kernel = layer.conv.weight.numpy()[0]
    assert kernel.shape == (2, kernel_size, kernel_size) and layer.conv.bias is None
    for n in range(2):
        pooled = numpy.stack([x[n].mean(axis=0), x[n].max(axis=0)])  # the paper's [avg; max]
        weights = 1 / (1 + numpy.exp(-_correlate_same(pooled, kernel)))
        numpy.testing.assert_allclose(y[n], x[n] * weights, rtol=1e-4, atol=1e-6)


def test_spatial_attention_weighs_pixels_not_channels(rng):
    layer = nn.SpatialAttention()
    x = _tensor(rng.standard_normal((2, 4, 5, 5)).astype("float32"))
    ratio = layer(x).numpy() / x.numpy()
    numpy.testing.assert_allclose(ratio, ratio[:, :1].repeat(4, axis=1), rtol=1e-5)  # one map for all channels
    assert ((ratio > 0) & (ratio < 1)).all()
    assert layer.attention(x).shape == (2, 1, 5, 5)


@pytest.mark.parametrize("kernel_size, shape", [(7, (1, 3, 3, 4)), (3, (2, 4, 5, 3)), (5, (2, 1, 3, 3))])
def test_spatial_attention_gradcheck(rng, kernel_size, shape):
    layer = nn.SpatialAttention(kernel_size).double()
    x = _tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda x, w: layer(x), [x, layer.conv.weight])


def test_spatial_attention_errors_and_repr():
    with pytest.raises(ValueError, match="odd"):
        nn.SpatialAttention(4)
    with pytest.raises(ValueError, match=r"SpatialAttention expects \(N, C, H, W\)"):
        nn.SpatialAttention()(Tensor(backend.xp().ones((2, 8), dtype="float32")))
    assert "(conv): Conv2d(2, 1, kernel_size=(3, 3)" in repr(nn.SpatialAttention(3))
    assert [name for name, _ in nn.SpatialAttention().named_parameters()] == ["conv.weight"]
