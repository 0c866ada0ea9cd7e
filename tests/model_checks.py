"""Checks shared by the model-zoo tests: parameter counts, shape tables, sampled gradient checks,
one SGD step, and copying a PyTorch reference's weights in by position.
"""
import numpy

import minicnn.functional as F
from minicnn import backend
from minicnn import random as mrandom
from minicnn.autograd import Tensor, no_grad
from minicnn.optim import SGD
from minicnn.summary import summary


def count_parameters(model):
    """Total number of learnable scalars."""
    return sum(p.size for p in model.parameters())


def output_shapes(model, input_shape, depth=1):
    """The per-sample output shape of each row of ``summary`` (d2l's shape loop), batch axis dropped."""
    return [tuple(row["output_shape"][1:]) for row in summary(model, input_shape, depth=depth, file=None)]


def batch(rng, shape, num_classes, dtype="float32"):
    """A random input batch and random integer labels."""
    x = rng.standard_normal(shape).astype(dtype)
    return x, rng.integers(0, num_classes, size=shape[0])


def _seeded_loss(model, x, target, loss_fn):
    """The loss with a fixed dropout mask: every call reseeds the generator first."""
    mrandom.manual_seed(0)
    return loss_fn(model(x), target)


def _sample_tensors(params, count, rng):
    """The first and last parameter plus ``count - 2`` others picked at random, in model order."""
    if len(params) <= count:
        return list(range(len(params)))
    middle = rng.choice(numpy.arange(1, len(params) - 1), size=count - 2, replace=False)
    return sorted({0, len(params) - 1, *middle.tolist()})


def sampled_gradcheck(model, x, target, loss_fn=F.cross_entropy, tensors=6, per_tensor=2,
                      steps=(1e-6, 1e-7, 1e-8), atol=1e-7, rtol=1e-4, seed=0):
    """Compare backward() with central differences of the float64 loss, in training mode.

    Checks ``per_tensor`` random elements of the input and of ``tensors`` parameters
    (first, last and random others); BatchNorm uses batch statistics and dropout a fixed
    mask. A ReLU or max-pool kink within one step of the point spoils that difference
    quotient, and deep BatchNorm stacks amplify such kinks, so each element may match at
    any of the ``steps``; a wrong gradient matches at none. Raises AssertionError naming
    the tensor, the element and the values.
    """
    rng = numpy.random.default_rng(seed)
    model.double().train()
    x = Tensor(numpy.asarray(x, dtype="float64"), requires_grad=True)
    named = [("input", x)] + list(model.named_parameters())
    chosen = [named[0]] + [named[1 + i] for i in _sample_tensors(named[1:], tensors, rng)]
    model.zero_grad()
    _seeded_loss(model, x, target, loss_fn).backward()
    for name, tensor in chosen:
        for flat in rng.choice(tensor.size, size=min(per_tensor, tensor.size), replace=False):
            index = numpy.unravel_index(flat, tensor.shape)
            analytic = 0.0 if tensor.grad is None else float(tensor.grad[index])
            numeric = []
            for eps in steps:
                numeric.append(_central_difference(model, x, target, loss_fn, tensor, index, eps))
                if abs(analytic - numeric[-1]) <= atol + rtol * abs(numeric[-1]):
                    break
            else:
                raise AssertionError(
                    f"{name}{tuple(int(i) for i in index)}: backward gives {analytic:.10g}, finite "
                    f"differences give {', '.join(f'{n:.10g}' for n in numeric)} with steps {steps}"
                )


def _central_difference(model, x, target, loss_fn, tensor, index, eps):
    original = float(tensor.data[index])
    with no_grad():
        tensor.data[index] = original + eps
        upper = _seeded_loss(model, x, target, loss_fn).item()
        tensor.data[index] = original - eps
        lower = _seeded_loss(model, x, target, loss_fn).item()
    tensor.data[index] = original
    return (upper - lower) / (2 * eps)


def sgd_step_lowers_loss(model, x, target, loss_fn=F.cross_entropy, lr=0.01):
    """(loss before, loss after) one SGD step on the fixed batch, in training mode with a fixed dropout mask."""
    model.to(backend.current()).train()  # on the backend under test (numpy, or cupy)
    x, target = Tensor(backend.asarray(x)), backend.asarray(target)
    optimizer = SGD(model.parameters(), lr=lr)
    before = _seeded_loss(model, x, target, loss_fn)
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with no_grad():
        after = _seeded_loss(model, x, target, loss_fn)
    return before.item(), after.item()


def randomize_batchnorm_(torch_model, seed=0):
    """Give a PyTorch model's BatchNorm layers non-trivial affine parameters and running statistics."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    for module in torch_model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            size = module.num_features
            with torch.no_grad():
                module.weight.copy_(0.5 + torch.rand(size, generator=generator))
                module.bias.copy_(0.2 * torch.randn(size, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))


def copy_from_torch_(model, torch_model):
    """Copy a PyTorch model's parameters and buffers into ``model`` by position, checking every shape."""
    ours = list(model.parameters()) + list(model.buffers())
    theirs = list(torch_model.parameters()) + list(torch_model.buffers())
    assert len(ours) == len(theirs), f"{len(ours)} parameters and buffers here, {len(theirs)} in PyTorch"
    for position, (mine, reference) in enumerate(zip(ours, theirs)):
        assert tuple(mine.shape) == tuple(reference.shape), (
            f"position {position}: shape {tuple(mine.shape)} here, {tuple(reference.shape)} in PyTorch"
        )
        mine.data = reference.detach().numpy().astype(mine.dtype, copy=True)


def assert_same_outputs(model, torch_model, x, training=False, rtol=1e-4, atol=1e-4):
    """Both models give the same output on ``x`` (eval mode unless ``training``)."""
    import torch
    model.train(training)
    torch_model.train(training)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    with no_grad():
        got = model(Tensor(x)).numpy()
    numpy.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)



def assert_gradients_match_torch(model, torch_model, x, target, loss_fn=F.cross_entropy, torch_loss_fn=None,
                                 rtol=1e-6, atol=1e-9):
    """In float64 and training mode, after copying ``torch_model``'s weights in by position: the same
    loss and the same gradient for the input and every parameter.

    Dropout is set to p=0 on both sides (the two frameworks cannot draw the same mask);
    BatchNorm uses batch statistics. ``torch_loss_fn`` defaults to PyTorch's cross-entropy.
    """
    import torch
    torch_loss_fn = torch_loss_fn or torch.nn.functional.cross_entropy
    torch_model.double().train()
    model.double().train()
    for module in list(model.modules()) + list(torch_model.modules()):
        if type(module).__name__ == "Dropout":
            module.p = 0.0
    copy_from_torch_(model, torch_model)
    x = numpy.asarray(x, dtype="float64")
    theirs_x = torch.tensor(x, requires_grad=True)
    theirs = torch_loss_fn(torch_model(theirs_x), torch.from_numpy(numpy.asarray(target)))
    theirs.backward()
    ours_x = Tensor(x, requires_grad=True)
    ours = loss_fn(model(ours_x), target)
    ours.backward()
    numpy.testing.assert_allclose(ours.item(), theirs.item(), rtol=rtol, err_msg="loss")
    numpy.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=rtol, atol=atol, err_msg="input")
    named = list(model.named_parameters())
    assert len(named) == len(list(torch_model.parameters()))
    for (name, mine), theirs_param in zip(named, torch_model.parameters()):
        assert mine.grad is not None, f"{name}: no gradient"
        numpy.testing.assert_allclose(mine.grad, theirs_param.grad.numpy(), rtol=rtol, atol=atol, err_msg=name)
