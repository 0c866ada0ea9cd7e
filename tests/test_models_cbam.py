"""CBAM (Woo et al. 2018): channel attention with avg and max descriptors, the block, and CBAM-ResNet-18."""
from functools import partial

import numpy
import pytest

from minicnn import models, nn
from minicnn.autograd import Tensor, no_grad
from minicnn.random import manual_seed
from model_checks import batch, count_parameters, output_shapes, sampled_gradcheck, sgd_step_lowers_loss

TINY_RESNET_ARCH = ((2, 4), (2, 6), (2, 8), (2, 8))


def tiny_cbam_resnet18():
    return models.resnet(TINY_RESNET_ARCH, block=partial(models.CBAMResidual, reduction=2, kernel_size=3))


@pytest.fixture(autouse=True)
def seeded_weights():
    manual_seed(0)


def images(rng, shape):
    return Tensor(rng.standard_normal(shape).astype("float32"))


def _sigmoid(z):
    return 1 / (1 + numpy.exp(-z))


def test_channel_attention_adds_the_avg_and_max_descriptors_through_one_mlp(rng):
    block = models.ChannelAttention(8, reduction=4)
    x = images(rng, (2, 8, 3, 3))
    with no_grad():
        y = block(x).numpy()

    def mlp(s):
        hidden = numpy.maximum(s @ block.fc1.weight.numpy().T + block.fc1.bias.numpy(), 0)
        return hidden @ block.fc2.weight.numpy().T + block.fc2.bias.numpy()
    gate = _sigmoid(mlp(x.numpy().mean(axis=(2, 3))) + mlp(x.numpy().max(axis=(2, 3))))
    numpy.testing.assert_allclose(y, x.numpy() * gate[:, :, None, None], rtol=1e-5)


def test_cbam_block_is_channel_then_spatial_attention(rng):
    block = models.CBAMBlock(8, reduction=4)
    x = images(rng, (2, 8, 5, 5))
    with no_grad():
        numpy.testing.assert_array_equal(block(x).numpy(), block.spatial(block.channel(x)).numpy())
    assert block.spatial.conv.weight.shape == (1, 2, 7, 7)


def test_cbam_block_matches_a_pytorch_reference(rng):
    torch = pytest.importorskip("torch")
    tnn = torch.nn
    block = models.CBAMBlock(8, reduction=4, kernel_size=3).double()
    fc1, fc2, conv = tnn.Linear(8, 2).double(), tnn.Linear(2, 8).double(), tnn.Conv2d(2, 1, 3, padding=1, bias=False)
    conv = conv.double()
    with torch.no_grad():
        for theirs, ours in ((fc1, block.channel.fc1), (fc2, block.channel.fc2), (conv, block.spatial.conv)):
            for name, parameter in theirs.named_parameters():
                parameter.copy_(torch.from_numpy(getattr(ours, name).numpy()))

    def reference(x):  # Woo et al. 2018, Eq. 2 and Eq. 3
        mlp = lambda s: fc2(torch.relu(fc1(s)))  # noqa: E731
        x = x * torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))[:, :, None, None]
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(conv(pooled))
    x = rng.standard_normal((2, 8, 5, 4))
    g = rng.standard_normal(x.shape)
    xt, xtt = Tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    got, expected = block(xt), reference(xtt)
    numpy.testing.assert_allclose(got.numpy(), expected.detach().numpy(), atol=1e-12)
    got.backward(g)
    expected.backward(torch.from_numpy(g))
    numpy.testing.assert_allclose(xt.grad, xtt.grad.numpy(), atol=1e-12)
    numpy.testing.assert_allclose(block.spatial.conv.weight.grad, conv.weight.grad.numpy(), atol=1e-10)


def test_cbam_resnet18_parameters_and_shapes():
    # SE-ResNet-18's count (same channel MLPs) plus one 2→1 7×7 bias-free filter per residual block
    assert count_parameters(models.cbam_resnet18()) == count_parameters(models.se_resnet18()) + 8 * 2 * 7 * 7
    assert count_parameters(models.cbam_resnet18()) == 11_268_242
    assert output_shapes(models.cbam_resnet18(), (1, 96, 96)) == [
        (64, 24, 24), (64, 24, 24), (128, 12, 12), (256, 6, 6), (512, 3, 3), (10,)]
    assert sum(isinstance(m, nn.SpatialAttention) for m in models.cbam_resnet18().modules()) == 8


def test_cbam_residual_attends_to_the_branch_before_the_sum(rng):
    block = models.CBAMResidual(3, 3, reduction=2).eval()
    x = images(rng, (2, 3, 5, 5))
    with no_grad():
        branch = models.Residual.residual(block, x)  # conv-BN-ReLU-conv-BN, without the attention
        expected = numpy.maximum(block.cbam(branch).numpy() + x.numpy(), 0)
        numpy.testing.assert_allclose(block(x).numpy(), expected, rtol=1e-6)


def _block_loss(output, target):
    weights = numpy.random.default_rng(7).standard_normal(output.shape[1:])
    return (output * Tensor(weights)).mean()


@pytest.mark.parametrize("name, build, input_shape", [
    ("channel attention", lambda: models.ChannelAttention(4, reduction=2), (3, 4, 3, 3)),
    ("cbam block", lambda: models.CBAMBlock(4, reduction=2, kernel_size=3), (3, 4, 4, 5)),
    ("cbam residual", lambda: models.CBAMResidual(3, 4, use_1x1conv=True, strides=2, reduction=2, kernel_size=3),
     (2, 3, 5, 5)),
])
def test_block_gradcheck(name, build, input_shape, rng):
    sampled_gradcheck(build(), rng.standard_normal(input_shape), None, loss_fn=_block_loss, tensors=8)


def test_tiny_cbam_resnet18_gradcheck(rng):
    x, labels = batch(rng, (4, 1, 32, 32), 10, dtype="float64")
    sampled_gradcheck(tiny_cbam_resnet18(), x, labels)


def test_cbam_resnet18_one_sgd_step_lowers_the_loss(rng, backend_name):
    x, labels = batch(rng, (8, 1, 32, 32), 10)
    before, after = sgd_step_lowers_loss(tiny_cbam_resnet18(), x, labels)
    assert after < before
