"""gradcheck itself: it passes correct ops, catches wrong ones and says where, and guards its inputs."""
import re

import numpy
import pytest

from minicnn import Function, GradcheckError, Tensor, backend, gradcheck


def leaf(rng, *shape, dtype="float64", requires_grad=True):
    values = rng.standard_normal(shape).astype(dtype)
    return Tensor(backend.asarray(values), requires_grad=requires_grad)


class SquareWithOneWrongElement(Function):
    """a², whose backward is right everywhere except at element (1, 2), where it adds 1."""

    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    # d(a²)/da = 2a, plus a planted error of +1 at (1, 2)
    def backward(self, grad):
        (a,) = self.saved
        wrong = 2 * a * grad
        wrong[1, 2] += 1.0
        return (wrong,)


def test_passes_on_correct_ops(backend_name, rng):
    a, b = leaf(rng, 3, 4), leaf(rng, 4)
    assert gradcheck(lambda x, y: (x * y + x).exp(), [a, b]) is True


def test_checks_only_inputs_that_require_grad(backend_name, rng):
    a = leaf(rng, 2, 3)
    constant = leaf(rng, 2, 3, dtype="float32", requires_grad=False)  # float32 allowed: not checked
    assert gradcheck(lambda x, c: x * c, [a, constant]) is True
    assert constant.grad is None


def test_catches_a_wrong_backward_and_names_input_element_and_values(backend_name, rng):
    good, bad = leaf(rng, 2, 3), leaf(rng, 3, 4)

    def fn(g, b):
        return g.sum() + SquareWithOneWrongElement()(b)

    with pytest.raises(GradcheckError) as info:
        gradcheck(fn, [good, bad])
    message = str(info.value)
    assert "input 1" in message and "element (1, 2)" in message
    analytic, numeric = (float(v) for v in re.findall(r"analytical gradient (\S+) but numerical (\S+)", message)[0])
    assert analytic - numeric == pytest.approx(1.0, abs=1e-5)  # exactly the planted error


def test_catches_a_missing_factor(backend_name, rng):
    class HalfDerivative(Function):
        def forward(self, a):
            self.save_for_backward(a)
            return a * a * a

        # d(a³)/da = 3a², here deliberately a²
        def backward(self, grad):
            (a,) = self.saved
            return (grad * a * a,)

    with pytest.raises(GradcheckError, match="input 0, element"):
        gradcheck(lambda x: HalfDerivative()(x), [leaf(rng, 5)])


def test_rejects_float32_inputs(backend_name, rng):
    with pytest.raises(TypeError, match=r"input 0 has dtype float32.*float64"):
        gradcheck(lambda x: x * 2, [leaf(rng, 3, dtype="float32")])


def test_rejects_inputs_without_requires_grad(backend_name, rng):
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda x: x * 2, [leaf(rng, 3, requires_grad=False)])


def test_rejects_non_tensor_inputs():
    with pytest.raises(TypeError, match="input 0 is a ndarray"):
        gradcheck(lambda x: x * 2, [numpy.ones(3)])


def test_leaves_the_inputs_unchanged(backend_name, rng):
    a = leaf(rng, 2, 3)
    before = a.numpy()
    gradcheck(lambda x: x.exp(), [a])
    numpy.testing.assert_array_equal(a.numpy(), before)


def test_works_on_non_contiguous_and_zero_dimensional_inputs(backend_name, rng):
    transposed = Tensor(backend.asarray(rng.standard_normal((3, 4))).T, requires_grad=True)
    assert gradcheck(lambda x: x * x, [transposed]) is True
    scalar = Tensor(backend.asarray(numpy.array(0.7)), requires_grad=True)
    assert gradcheck(lambda x: x.exp() * 3, [scalar]) is True
