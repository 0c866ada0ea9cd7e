"""Inverted dropout: identity in eval, keeps 1-p of the elements scaled by 1/(1-p) in training."""
import numpy
import pytest

import minicnn.functional as D
from minicnn import Tensor, backend, gradcheck, nn
from minicnn.random import manual_seed


def _ones(shape, dtype="float32", requires_grad=False):
    return Tensor(backend.xp().ones(shape, dtype=dtype), requires_grad=requires_grad)


def test_eval_is_identity(backend_name, rng):
    x = Tensor(backend.asarray(rng.standard_normal((4, 5)), dtype="float32"))
    layer = nn.Dropout(0.5).eval()
    numpy.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    numpy.testing.assert_array_equal(D.dropout(x, 0.5, training=False).numpy(), x.numpy())


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_kept_fraction_and_scale(backend_name, p):
    out = nn.Dropout(p)(_ones((1000, 1000))).numpy()
    kept = out != 0
    assert abs(kept.mean() - (1 - p)) < 0.005 * (1 - p)
    numpy.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)


def test_gradient_is_the_scaled_mask(backend_name):
    x = _ones((50, 40), dtype="float64", requires_grad=True)
    out = D.dropout(x, p=0.4)
    out.sum().backward()
    numpy.testing.assert_array_equal(backend.to_numpy(x.grad), out.numpy())
    assert ((out.numpy() == 0) | numpy.isclose(out.numpy(), 1 / 0.6)).all()


@pytest.mark.parametrize("p, shape", [(0.3, (4, 6, 5)), (0.7, (2, 3, 4, 5))])
def test_gradcheck_with_a_fixed_mask(backend_name, rng, p, shape):
    """Finite differences against backward, the mask redrawn from the same seed on every call."""
    x = Tensor(backend.asarray(rng.standard_normal(shape)), requires_grad=True)

    def fixed_mask_dropout(t):
        manual_seed(7)
        return D.dropout(t, p)

    assert gradcheck(fixed_mask_dropout, [x])  # gradcheck's upstream gradient is random, not ones


def test_backward_scales_the_incoming_gradient_by_the_mask(backend_name, rng):
    x = Tensor(backend.asarray(rng.uniform(1, 2, size=(30, 20))), requires_grad=True)
    out = D.dropout(x, p=0.4)
    upstream = rng.standard_normal(out.shape)
    out.backward(backend.asarray(upstream))
    mask = out.numpy() / x.numpy()  # 0 or 1/(1-p), element by element
    numpy.testing.assert_allclose(backend.to_numpy(x.grad), upstream * mask, rtol=1e-12)


def test_float32_stays_float32(backend_name):
    assert D.dropout(_ones((3, 3)), 0.5).dtype == numpy.float32


def test_manual_seed_repeats_the_mask(backend_name):
    manual_seed(3)
    first = D.dropout(_ones((20, 20)), 0.5).numpy()
    manual_seed(3)
    numpy.testing.assert_array_equal(D.dropout(_ones((20, 20)), 0.5).numpy(), first)


def test_extreme_and_invalid_p(backend_name):
    x = _ones((4, 4))
    assert (D.dropout(x, 1.0).numpy() == 0).all()
    numpy.testing.assert_array_equal(D.dropout(x, 0.0).numpy(), x.numpy())
    with pytest.raises(ValueError, match="p must be"):
        D.dropout(x, 1.5)
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(-0.1)


def test_module_follows_train_and_eval():
    net = nn.Sequential(nn.Dropout(0.5))
    x = _ones((100, 100))
    assert (net(x).numpy() == 0).any()
    net.eval()
    numpy.testing.assert_array_equal(net(x).numpy(), x.numpy())
    net.train()
    assert (net(x).numpy() == 0).any()
