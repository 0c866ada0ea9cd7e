"""Gradient checking: compare backward() with central finite differences.

Every differentiable op in minicnn is tested with this. The analytical gradient of
L = sum(v * fn(inputs)) for a fixed random v is compared, element by element, with
(L(x + eps) - L(x - eps)) / (2 eps). Work in float64: in float32 the rounding error of
the difference quotient is as large as the gradient itself. (d2l §5.3; CS231n notes.)
"""
import numpy

from . import backend
from .autograd import Tensor, no_grad


class GradcheckError(AssertionError):
    """backward() and the finite differences disagree; the message names where and by how much."""


def _projection(output, seed):
    """A fixed random direction v, so one backward pass checks every output element at once."""
    rng = numpy.random.default_rng(seed)
    v = rng.standard_normal(output.shape)
    xp = backend.get_array_module(output.data)
    return xp.asarray(v, dtype=output.dtype)


def _projected_loss(fn, inputs, v):
    with no_grad():
        return float((fn(*inputs).data * v).sum())


def _check_inputs(inputs):
    for i, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"gradcheck: input {i} is a {type(tensor).__name__}, not a Tensor")
        if tensor.requires_grad and tensor.dtype != numpy.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {tensor.dtype}; finite differences need "
                "float64 (in float32 rounding swamps the difference quotient): "
                "use Tensor(array.astype('float64'), requires_grad=True)"
            )
    if not any(t.requires_grad for t in inputs):
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")


def numerical_grad(fn, inputs, index, v, eps):
    """d/d inputs[index] of sum(v * fn(inputs)) by central differences, one element at a time."""
    data = inputs[index].data  # perturbed in place, element by element, then restored
    grad = numpy.zeros(data.shape, dtype=numpy.float64)
    for k in numpy.ndindex(data.shape):
        original = data[k].item()
        data[k] = original + eps
        upper = _projected_loss(fn, inputs, v)
        data[k] = original - eps
        lower = _projected_loss(fn, inputs, v)
        data[k] = original
        grad[k] = (upper - lower) / (2 * eps)
    return grad


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check fn's backward against finite differences for every input with requires_grad.

    ``inputs`` is a list of float64 Tensors; ``fn(*inputs)`` returns a Tensor. Returns True,
    or raises GradcheckError naming the input, the element index, and both values.
    """
    inputs = list(inputs)
    _check_inputs(inputs)
    for tensor in inputs:
        tensor.grad = None
    output = fn(*inputs)
    if not output.requires_grad:
        raise GradcheckError("gradcheck: fn's output does not depend on any input that requires grad")
    v = _projection(output, seed)
    output.backward(v)
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            continue
        numeric = numerical_grad(fn, inputs, index, v, eps)
        analytic = backend.to_numpy(tensor.grad) if tensor.grad is not None else numpy.zeros_like(numeric)
        _compare(index, analytic, numeric, eps, atol, rtol)
    return True


def _compare(index, analytic, numeric, eps, atol, rtol):
    if analytic.shape != numeric.shape:
        raise GradcheckError(
            f"gradcheck: input {index}: backward returned a gradient of shape {analytic.shape}, "
            f"but the input has shape {numeric.shape}"
        )
    bad = ~numpy.isclose(analytic, numeric, atol=atol, rtol=rtol)
    if bad.any():
        where = tuple(int(i) for i in numpy.argwhere(bad)[0])
        raise GradcheckError(
            f"gradcheck: input {index}, element {where}: analytical gradient "
            f"{analytic[where]:.8g} but numerical {numeric[where]:.8g} "
            f"({int(bad.sum())} of {bad.size} elements disagree; eps={eps:g}, "
            f"atol={atol:g}, rtol={rtol:g})"
        )
