"""BatchNorm, LayerNorm, GroupNorm: gradients, running statistics, eval mode, against formulas and PyTorch."""
import numpy
import pytest

import minicnn.functional.normalization as N
from minicnn import Tensor, backend, gradcheck, nn


def _tensor(array, requires_grad=False, dtype=None):
    return Tensor(backend.asarray(array, dtype=dtype), requires_grad=requires_grad)


def _module_gradcheck(layer, x):
    """gradcheck the layer with respect to its input and every parameter (all float64)."""
    params = list(layer.parameters())
    return gradcheck(lambda x, *_: layer(x), [x] + params)


# --- gradients -----------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 3, 2)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_function_gradcheck(rng, shape, training):
    x = _tensor(rng.standard_normal(shape), requires_grad=True)
    weight = _tensor(rng.standard_normal(3), requires_grad=True)
    bias = _tensor(rng.standard_normal(3), requires_grad=True)
    running_mean = backend.asarray(rng.standard_normal(3))
    running_var = backend.asarray(rng.random(3) + 0.5)
    assert gradcheck(
        lambda x, w, b: N.batch_norm(x, running_mean, running_var, w, b, training=training),
        [x, weight, bias])


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.BatchNorm1d(3), (5, 3)),
    (lambda: nn.BatchNorm1d(3), (4, 3, 2)),
    (lambda: nn.BatchNorm2d(2), (3, 2, 3, 3)),
])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_layers_gradcheck(rng, layer, shape, training):
    bn = layer().double()
    with_stats = bn.train()(_tensor(rng.standard_normal(shape) * 3 + 1))  # running stats away from 0/1
    assert with_stats.shape == shape
    bn.train(training)
    init_params(bn, rng)
    assert _module_gradcheck(bn, _tensor(rng.standard_normal(shape), requires_grad=True))


def init_params(module, rng):
    for p in module.parameters():
        p.data[...] = backend.asarray(rng.standard_normal(p.shape))


def test_layer_norm_gradcheck(rng):
    layer = nn.LayerNorm((3, 4)).double()
    init_params(layer, rng)
    assert _module_gradcheck(layer, _tensor(rng.standard_normal((2, 2, 3, 4)), requires_grad=True))


def test_group_norm_gradcheck(rng):
    layer = nn.GroupNorm(2, 4).double()
    init_params(layer, rng)
    assert _module_gradcheck(layer, _tensor(rng.standard_normal((2, 4, 3, 2)), requires_grad=True))


def test_norms_without_affine_gradcheck(rng):
    x = _tensor(rng.standard_normal((3, 4, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x: N.layer_norm(x, (2, 2)), [x])
    assert gradcheck(lambda x: N.group_norm(x, 2), [x])
    assert gradcheck(lambda x: N.batch_norm(x, None, None, training=True), [x])


# --- forward values and running statistics -------------------------------------------

def _batch_norm_reference(x, mean, var, weight, bias, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(shape)) / numpy.sqrt(var.reshape(shape) + eps) * weight.reshape(shape) + bias.reshape(shape)


def test_batch_norm_running_stats_after_three_steps_and_eval(backend_name, rng):
    bn = nn.BatchNorm2d(3)
    init_params(bn, rng)
    batches = [rng.standard_normal((4, 3, 5, 5)) * (k + 1) + k for k in range(3)]
    mean, var = numpy.zeros(3), numpy.ones(3)
    for batch in batches:
        out = bn(_tensor(batch, dtype="float32")).numpy()
        batch_mean, batch_var = batch.mean(axis=(0, 2, 3)), batch.var(axis=(0, 2, 3))
        weight, bias = (backend.to_numpy(p.data) for p in (bn.weight, bn.bias))
        numpy.testing.assert_allclose(out, _batch_norm_reference(batch, batch_mean, batch_var, weight, bias),
                                      rtol=1e-4, atol=1e-4)
        n = batch.size // 3
        mean = 0.9 * mean + 0.1 * batch_mean
        var = 0.9 * var + 0.1 * batch_var * n / (n - 1)
    numpy.testing.assert_allclose(backend.to_numpy(bn.running_mean.data), mean, rtol=1e-5)
    numpy.testing.assert_allclose(backend.to_numpy(bn.running_var.data), var, rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 3
    x = rng.standard_normal((2, 3, 5, 5))
    out = bn.eval()(_tensor(x, dtype="float32")).numpy()
    numpy.testing.assert_allclose(out, _batch_norm_reference(x, mean, var, weight, bias), rtol=1e-4, atol=1e-4)
    numpy.testing.assert_allclose(backend.to_numpy(bn.running_mean.data), mean, rtol=1e-5)  # eval leaves them


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batch_norm_matches_torch(rng, momentum):
    torch = pytest.importorskip("torch")
    ours, theirs = nn.BatchNorm1d(4, momentum=momentum), torch.nn.BatchNorm1d(4, momentum=momentum)
    init_params(ours, rng)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    for k in range(3):
        x = (rng.standard_normal((8, 4)) * (k + 2)).astype("float32")
        numpy.testing.assert_allclose(ours(_tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                                      rtol=1e-4, atol=1e-5)
    for name, buffer in theirs.named_buffers():
        numpy.testing.assert_allclose(backend.to_numpy(getattr(ours, name).data), buffer.numpy(), rtol=1e-5, atol=1e-6)
    ours.eval(), theirs.eval()
    x = rng.standard_normal((5, 4)).astype("float32")
    numpy.testing.assert_allclose(ours(_tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                                  rtol=1e-4, atol=1e-5)


def test_batch_norm_gradients_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 2, 2))
    g = rng.standard_normal(x.shape)
    ours, theirs = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    xt = _tensor(x, requires_grad=True)
    ours(xt).backward(backend.asarray(g))
    xtt = torch.from_numpy(x).requires_grad_()
    theirs(xtt).backward(torch.from_numpy(g))
    numpy.testing.assert_allclose(backend.to_numpy(xt.grad), xtt.grad.numpy(), atol=1e-10)
    numpy.testing.assert_allclose(backend.to_numpy(ours.weight.grad), theirs.weight.grad.numpy(), atol=1e-10)


def test_layer_and_group_norm_match_reference_and_torch(rng):
    x = rng.standard_normal((2, 4, 3, 3))
    weight, bias = rng.standard_normal(4), rng.standard_normal(4)
    out = N.group_norm(_tensor(x), 2, _tensor(weight), _tensor(bias)).numpy()
    grouped = x.reshape(2, 2, -1)
    x_hat = ((grouped - grouped.mean(-1, keepdims=True)) / numpy.sqrt(grouped.var(-1, keepdims=True) + 1e-5))
    expected = x_hat.reshape(x.shape) * weight[None, :, None, None] + bias[None, :, None, None]
    numpy.testing.assert_allclose(out, expected, atol=1e-10)
    ln_weight = rng.standard_normal((3, 3))
    out = N.layer_norm(_tensor(x), (3, 3), _tensor(ln_weight)).numpy()
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    numpy.testing.assert_allclose(out, (x - mean) / numpy.sqrt(var + 1e-5) * ln_weight, atol=1e-10)
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(x)
    numpy.testing.assert_allclose(
        out, torch.nn.functional.layer_norm(tx, (3, 3), torch.from_numpy(ln_weight)).numpy(), atol=1e-10)
    numpy.testing.assert_allclose(
        N.group_norm(_tensor(x), 2).numpy(), torch.nn.functional.group_norm(tx, 2).numpy(), atol=1e-10)


def test_float32_stays_float32(backend_name, rng):
    x = _tensor(rng.standard_normal((4, 6, 3, 3)), dtype="float32")
    instance = (nn.InstanceNorm2d(6), nn.InstanceNorm2d(6, affine=True, track_running_stats=True),
                nn.InstanceNorm2d(6, track_running_stats=True).eval())
    for layer in (nn.BatchNorm2d(6), nn.BatchNorm2d(6).eval(), nn.LayerNorm(3), nn.GroupNorm(3, 6), *instance):
        assert layer(x).dtype == numpy.float32
    assert nn.BatchNorm2d(6).running_var.dtype == numpy.float32


def test_buffers_and_without_running_stats(rng):
    bn = nn.BatchNorm2d(3)
    assert list(dict(bn.named_buffers())) == ["running_mean", "running_var", "num_batches_tracked"]
    assert bn.num_batches_tracked.dtype == numpy.int64 and bn.num_batches_tracked.shape == ()
    plain = nn.BatchNorm2d(3, affine=False, track_running_stats=False).eval()
    assert plain.running_mean is None and list(plain.state_dict()) == []
    x = rng.standard_normal((4, 3, 2, 2))
    expected = (x - x.mean(axis=(0, 2, 3), keepdims=True)) / numpy.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + 1e-5)
    numpy.testing.assert_allclose(plain(_tensor(x)).numpy(), expected, atol=1e-10)  # batch stats even in eval


def test_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(6\) got 16 channels"):
        nn.BatchNorm2d(6)(Tensor(backend.xp().ones((2, 16, 3, 3), dtype="float32")))
    with pytest.raises(ValueError, match="use BatchNorm2d after a convolution"):
        nn.BatchNorm1d(6)(Tensor(backend.xp().ones((2, 6, 3, 3), dtype="float32")))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(6)(Tensor(backend.xp().ones((1, 6), dtype="float32")))
    with pytest.raises(ValueError, match="divisible|divide"):
        nn.GroupNorm(4, 6)
    with pytest.raises(ValueError, match="normalized_shape"):
        nn.LayerNorm(5)(Tensor(backend.xp().ones((2, 4), dtype="float32")))


def test_reprs_match_torch():
    torch = pytest.importorskip("torch")
    assert repr(nn.BatchNorm2d(6)) == repr(torch.nn.BatchNorm2d(6))
    assert repr(nn.LayerNorm(8)) == repr(torch.nn.LayerNorm(8))
    assert repr(nn.GroupNorm(2, 8)) == repr(torch.nn.GroupNorm(2, 8))


# --- InstanceNorm2d: GroupNorm with one channel per group, PyTorch's flags -----------

FLAGS = [(affine, tracked) for affine in (False, True) for tracked in (False, True)]


def _torch_instance_norm(torch, ours, **options):
    """torch.nn.InstanceNorm2d in float64 with ``ours``'s affine parameters."""
    theirs = torch.nn.InstanceNorm2d(ours.num_features, **options).double()
    if ours.affine:
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
            theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    return theirs


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
@pytest.mark.parametrize("affine, tracked", FLAGS)
def test_instance_norm_matches_torch_in_train_and_eval(rng, affine, tracked, momentum):
    torch = pytest.importorskip("torch")
    options = dict(affine=affine, track_running_stats=tracked, momentum=momentum)
    ours = nn.InstanceNorm2d(3, **options).double()
    init_params(ours, rng)
    theirs = _torch_instance_norm(torch, ours, **options)
    for step in range(3):  # training: each image's own statistics, running averages updated
        x = rng.standard_normal((4, 3, 5, 3)) * (step + 2) + step
        g = rng.standard_normal(x.shape)
        xt, xtt = _tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
        got, expected = ours(xt), theirs(xtt)
        numpy.testing.assert_allclose(got.numpy(), expected.detach().numpy(), atol=1e-10)
        got.backward(backend.asarray(g))
        expected.backward(torch.from_numpy(g))
        numpy.testing.assert_allclose(backend.to_numpy(xt.grad), xtt.grad.numpy(), atol=1e-10)
    for name, parameter in theirs.named_parameters():  # summed over the three steps on both sides
        numpy.testing.assert_allclose(backend.to_numpy(getattr(ours, name).grad), parameter.grad.numpy(), atol=1e-9)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for name, buffer in theirs.named_buffers():
        numpy.testing.assert_allclose(backend.to_numpy(getattr(ours, name).data), buffer.numpy(), atol=1e-12)
    ours.eval(), theirs.eval()  # running statistics if tracked, else each image's own
    x = rng.standard_normal((2, 3, 4, 4)) * 3 - 1
    numpy.testing.assert_allclose(ours(_tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(), atol=1e-10)
    numpy.testing.assert_allclose(ours(_tensor(x[0])).numpy(), theirs(torch.from_numpy(x[0])).detach().numpy(),
                                  atol=1e-10)  # unbatched (C, H, W)


def test_instance_norm_is_group_norm_with_one_channel_per_group(rng):
    x = _tensor(rng.standard_normal((2, 4, 3, 5)))
    instance, group = nn.InstanceNorm2d(4, affine=True), nn.GroupNorm(4, 4)
    init_params(instance, rng)
    group.load_state_dict(instance.state_dict())
    numpy.testing.assert_allclose(instance(x).numpy(), group(x).numpy(), atol=1e-6)
    planes = nn.InstanceNorm2d(4)(x).numpy().reshape(2, 4, -1)
    numpy.testing.assert_allclose(planes.mean(axis=2), 0, atol=1e-6)
    numpy.testing.assert_allclose(planes.var(axis=2), 1, atol=1e-4)


def test_instance_norm_running_stats_by_hand(rng):
    norm = nn.InstanceNorm2d(2, momentum=0.25, track_running_stats=True)
    x = rng.standard_normal((3, 2, 4, 2)) * 2 + 5
    norm(_tensor(x, dtype="float32"))
    planes = x.reshape(3, 2, -1)
    expected_mean = 0.75 * 0 + 0.25 * planes.mean(axis=2).mean(axis=0)
    expected_var = 0.75 * 1 + 0.25 * planes.var(axis=2, ddof=1).mean(axis=0)  # unbiased per image, then averaged
    numpy.testing.assert_allclose(backend.to_numpy(norm.running_mean.data), expected_mean, rtol=1e-5)
    numpy.testing.assert_allclose(backend.to_numpy(norm.running_var.data), expected_var, rtol=1e-5)
    assert int(norm.num_batches_tracked.item()) == 0  # PyTorch's InstanceNorm never counts batches
    y = norm.eval()(_tensor(x, dtype="float32")).numpy()
    numpy.testing.assert_allclose(y, (x - expected_mean[:, None, None]) / numpy.sqrt(expected_var[:, None, None] + 1e-5),
                                  rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("affine, tracked", FLAGS)
@pytest.mark.parametrize("training", [True, False])
def test_instance_norm_gradcheck(rng, affine, tracked, training):
    norm = nn.InstanceNorm2d(3, affine=affine, track_running_stats=tracked).double()
    init_params(norm, rng)
    if tracked:
        norm(_tensor(rng.standard_normal((4, 3, 3, 3)) * 2 + 1))  # running stats away from 0 and 1
    norm.train(training)
    assert _module_gradcheck(norm, _tensor(rng.standard_normal((2, 3, 3, 5)), requires_grad=True))


def test_instance_norm_defaults_buffers_and_repr():
    torch = pytest.importorskip("torch")
    plain = nn.InstanceNorm2d(6)
    assert plain.weight is None and plain.running_mean is None and list(plain.state_dict()) == []
    for options in ({}, {"affine": True, "track_running_stats": True}, {"momentum": None}):
        assert repr(nn.InstanceNorm2d(6, **options)) == repr(torch.nn.InstanceNorm2d(6, **options))


def test_instance_norm_errors_name_the_layer_and_shapes():
    ones = backend.xp().ones
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\).*more than one pixel"):
        nn.InstanceNorm2d(3)(Tensor(ones((2, 3, 1, 1), dtype="float32")))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\) expects \(N, C, H, W\)"):
        nn.InstanceNorm2d(3)(Tensor(ones((2, 3), dtype="float32")))
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\) got 4 channels"):
        nn.InstanceNorm2d(3, affine=True)(Tensor(ones((2, 4, 2, 2), dtype="float32")))
    with pytest.warns(UserWarning, match="got 4 channels"):  # unused num_features: PyTorch only warns
        nn.InstanceNorm2d(3)(Tensor(ones((2, 4, 2, 2), dtype="float32")))
    # evaluation with running statistics needs no per-image statistics, so a 1×1 map is fine there
    one_pixel = nn.InstanceNorm2d(3, track_running_stats=True).eval()(Tensor(ones((2, 3, 1, 1), dtype="float32")))
    numpy.testing.assert_allclose(one_pixel.numpy(), 1 / numpy.sqrt(1 + 1e-5), rtol=1e-6)
