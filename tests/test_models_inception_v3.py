"""Inception v3's blocks and the small v3-style network (Szegedy et al. 2016): shapes, weights, gradients."""
import numpy
import pytest

from minicnn import Tensor, backend, gradcheck, models, nn
from minicnn.autograd import no_grad
from minicnn.random import manual_seed
from model_checks import batch, count_parameters, output_shapes, sampled_gradcheck, sgd_step_lowers_loss


@pytest.fixture(autouse=True)
def seeded_weights():
    manual_seed(0)


def images(rng, shape, dtype="float32"):
    return Tensor(backend.asarray(rng.standard_normal(shape).astype(dtype)))


def kernels(path):
    return [tuple(m.weight.shape[2:]) for m in path.modules() if isinstance(m, nn.Conv2d)]


def conv_bn(cin, cout, kh, kw):
    """Weights of a bias-free conv and its BatchNorm (γ, β)."""
    return cin * cout * kh * kw + 2 * cout


# ---------------------------------------------------------------- the blocks

def test_factorized_inception_sees_5x5_through_two_3x3s(rng):
    block = models.FactorizedInception(8, 2, (2, 4), (3, 5), 2)
    assert kernels(block.b3) == [(1, 1), (3, 3), (3, 3)]
    assert [m.out_channels for m in block.b3.modules() if isinstance(m, nn.Conv2d)] == [3, 3, 5]
    assert all(m.bias is None for m in block.modules() if isinstance(m, nn.Conv2d))
    with no_grad():
        assert block(images(rng, (2, 8, 5, 5))).shape == (2, 2 + 4 + 5 + 2, 5, 5)


def test_asymmetric_inception_paths_and_weights(rng):
    block = models.AsymmetricInception(16, 4, (8, 6), (8, 5), 3, n=7)
    assert kernels(block.b2) == [(1, 1), (1, 7), (7, 1)]
    assert kernels(block.b3) == [(1, 1), (1, 7), (7, 1), (1, 7), (7, 1)]
    expected = (conv_bn(16, 4, 1, 1)
                + conv_bn(16, 8, 1, 1) + conv_bn(8, 8, 1, 7) + conv_bn(8, 6, 7, 1)
                + conv_bn(16, 8, 1, 1) + 3 * conv_bn(8, 8, 7, 1) + conv_bn(8, 5, 1, 7)
                + conv_bn(16, 3, 1, 1))
    assert count_parameters(block) == expected
    x = images(rng, (2, 16, 9, 9))
    with no_grad():
        y = block(x).numpy()
        paths = [path(x).numpy() for path in (block.b1, block.b2, block.b3, block.b4)]
    assert y.shape == (2, 4 + 6 + 5 + 3, 9, 9)
    numpy.testing.assert_array_equal(y, numpy.concatenate(paths, axis=1))


def test_one_by_n_then_n_by_one_costs_less_than_n_by_n():
    pair = models.AsymmetricInception(8, 1, (8, 8), (1, 1), 1, n=7).b2
    assert count_parameters(pair[3:]) == 2 * conv_bn(8, 8, 1, 7) < conv_bn(8, 8, 7, 7)


def test_asymmetric_inception_needs_an_odd_n():
    with pytest.raises(ValueError, match="odd"):
        models.AsymmetricInception(4, 1, (1, 1), (1, 1), 1, n=4)


@pytest.mark.parametrize("padding, side, out_side", [(0, 35, 17), (0, 9, 4), (1, 28, 14), (1, 7, 4)])
def test_grid_reduction_halves_the_grid_and_widens(rng, padding, side, out_side):
    block = models.GridReduction(4, (2, 3), (2, 5), padding=padding)
    x = images(rng, (2, 4, side, side))
    with no_grad():
        y = block(x)
        pooled = block.b3(x).numpy()
    assert y.shape == (2, 3 + 5 + 4, out_side, out_side) and block.out_channels == 12
    numpy.testing.assert_array_equal(y.numpy()[:, 8:], pooled)  # the pool path passes the input's channels on
    strides = [m.stride for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert strides == [(1, 1), (2, 2), (1, 1), (1, 1), (2, 2)]


@pytest.mark.parametrize("name, build, shape", [
    ("factorized", lambda: models.FactorizedInception(3, 2, (2, 2), (1, 2), 1), (2, 3, 4, 4)),
    ("asymmetric", lambda: models.AsymmetricInception(3, 1, (2, 2), (1, 2), 1, n=3), (2, 3, 4, 3)),
    ("grid reduction", lambda: models.GridReduction(2, (2, 2), (1, 2)), (2, 2, 5, 5)),
    ("grid reduction padded", lambda: models.GridReduction(2, (1, 2), (1, 1), padding=1), (2, 2, 4, 5)),
])
def test_block_gradcheck(name, build, shape, rng):
    block = build().double()
    for p in block.parameters():  # BatchNorm's γ and β away from 1 and 0
        p.data[...] = backend.asarray(rng.standard_normal(p.shape))
    x = Tensor(backend.asarray(rng.standard_normal(shape)), requires_grad=True)
    with no_grad():
        weights = Tensor(backend.asarray(rng.standard_normal(block(x).shape)))  # mixes every output
    assert gradcheck(lambda x, *_: (block(x) * weights).sum(), [x] + list(block.parameters()))


# ---------------------------------------------------------------- the network

def test_inception_v3_parameters_and_shapes():
    net = models.inception_v3()
    assert count_parameters(net) == 773_162
    assert output_shapes(net, (1, 28, 28)) == [
        (64, 14, 14), (128, 14, 14), (288, 7, 7), (256, 7, 7), (480, 4, 4), (10,)]
    assert output_shapes(net, (1, 96, 96))[:5] == [
        (64, 48, 48), (128, 48, 48), (288, 24, 24), (256, 24, 24), (480, 12, 12)]


def test_tiny_inception_v3_gradcheck(rng):
    x, labels = batch(rng, (3, 1, 16, 16), 10, dtype="float64")
    sampled_gradcheck(models.inception_v3(width=1 / 16, n=3), x, labels)


def test_inception_v3_one_sgd_step_lowers_the_loss(rng, backend_name):
    x, labels = batch(rng, (8, 1, 28, 28), 10)
    before, after = sgd_step_lowers_loss(models.inception_v3(width=1 / 8), x, labels)
    assert after < before
