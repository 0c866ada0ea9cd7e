"""VGG's dense evaluation: the plain forward at one position, window-by-window averaging, flip invariance, backends."""
import numpy as np
import pytest

import minicnn
from minicnn import Tensor, backend, models
from minicnn.data import Resize

ARCH = ((1, 4), (1, 8))  # two blocks: stride 4, so 16-pixel images give a 4×4 map for the dense head


def small_vgg(seed=0):
    minicnn.random.manual_seed(seed)
    net = models.vgg(ARCH, hidden=16, image_size=16).double()
    net.eval()
    return net


def images(n=3, side=16, seed=0):
    return np.random.default_rng(seed).random((n, 1, side, side))


def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_one_position_without_flips_is_the_plain_forwards_softmax():
    net, x = small_vgg(), images()
    with minicnn.no_grad():
        expected = softmax(net(Tensor(x)).numpy())
    np.testing.assert_allclose(models.dense_evaluate(net, x, flip=False), expected, rtol=1e-12)
    # The same from the already fully convolutional twin.
    np.testing.assert_allclose(models.dense_evaluate(models.fully_convolutional(net), x, flip=False), expected,
                               rtol=1e-12)


def test_larger_scale_averages_the_dense_head_over_every_window():
    net, x = small_vgg(1), images(n=2, seed=1)
    resized = Resize((32, 32))(x)
    blocks, head = net[:2], net[2:]  # features, then Flatten and the dense layers
    with minicnn.no_grad():
        features = blocks(Tensor(resized)).numpy()  # 8×8 map: 5×5 windows of the head's 4×4 input
        windows = [head(Tensor(np.ascontiguousarray(features[:, :, i:i + 4, j:j + 4]))).numpy()
                   for i in range(5) for j in range(5)]
    expected = softmax(np.mean(windows, axis=0))
    np.testing.assert_allclose(models.dense_evaluate(net, x, scales=(2,), flip=False), expected, rtol=1e-10)


def test_scales_and_flips_average_the_posteriors():
    net, x = small_vgg(2), images(seed=2)
    one = [models.dense_evaluate(net, view, scales=(s,), flip=False) for s in (1, 1.5) for view in (x, x[..., ::-1])]
    result = models.dense_evaluate(net, x, scales=(1, 1.5))
    np.testing.assert_allclose(result, np.mean(one, axis=0), rtol=1e-12)
    assert result.shape == (3, 10) and np.allclose(result.sum(axis=1), 1)
    assert not np.allclose(one[0], one[1])  # the mirror image really scores differently


def test_flip_averaging_makes_the_result_mirror_invariant():
    net, x = small_vgg(3), images(seed=3)
    mirrored = np.ascontiguousarray(x[..., ::-1])
    np.testing.assert_allclose(models.dense_evaluate(net, x, scales=(1, 1.25)),
                               models.dense_evaluate(net, mirrored, scales=(1, 1.25)), rtol=1e-12)


def test_the_model_keeps_its_mode_and_dropout_is_off():
    net, x = small_vgg(4), images(seed=4)
    net.train()
    first, second = models.dense_evaluate(net, x), models.dense_evaluate(net, x)
    np.testing.assert_array_equal(first, second)
    assert net.training


def test_bad_scales_and_inputs_are_explained():
    net = small_vgg()
    with pytest.raises(ValueError, match="scales must be positive"):
        models.dense_evaluate(net, images(), scales=(0,))
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\)"):
        models.dense_evaluate(net, images()[0])
    with pytest.raises(ValueError, match="not a class-score map"):
        flat = minicnn.nn.Sequential(minicnn.nn.Sequential(minicnn.nn.Conv2d(1, 2, 3), minicnn.nn.Flatten()))
        models.dense_evaluate(flat.double(), images())


def test_every_backend_gives_the_numpy_result(backend_name):
    x = images(seed=5)
    backend.use("numpy")
    net = small_vgg(5)
    expected = models.dense_evaluate(net, x, scales=(1, 1.5))
    backend.use(backend_name)
    net.to(backend_name)
    result = models.dense_evaluate(net, backend.asarray(x), scales=(1, 1.5))
    assert backend.get_array_module(result) is backend.xp()
    np.testing.assert_allclose(backend.to_numpy(result), expected, rtol=1e-10)
