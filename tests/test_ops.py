"""Every basic op: float64 gradcheck of its backward, forward values against NumPy and PyTorch.

The NumPy formulas below are written out independently of minicnn.functional, so a wrong
forward cannot agree with them by construction.
"""
import math
import warnings

import numpy
import pytest

import minicnn.functional as F
from minicnn import Tensor, backend, gradcheck


def leaf(values, requires_grad=True):
    """A tensor on the backend under test from a NumPy array (dtype kept)."""
    return Tensor(backend.asarray(numpy.asarray(values)), requires_grad=requires_grad)


def normal(rng, *shape):
    return leaf(rng.standard_normal(shape))


def positive(rng, *shape):
    return leaf(rng.uniform(0.5, 2.0, shape))


def away_from_zero(rng, *shape):
    """Normal values with |x| >= 0.1, so kinks at 0 (relu) stay out of the finite differences."""
    values = rng.standard_normal(shape)
    return leaf(numpy.where(numpy.abs(values) < 0.1, 0.5, values))


def close(tensor, expected, rtol=1e-10, atol=1e-12):
    numpy.testing.assert_allclose(tensor.numpy(), expected, rtol=rtol, atol=atol)


def torch_or_skip():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------- elementwise binary ops

BINARY = {
    "add": (lambda a, b: a + b, F.add, numpy.add),
    "sub": (lambda a, b: a - b, F.sub, numpy.subtract),
    "mul": (lambda a, b: a * b, F.mul, numpy.multiply),
    "div": (lambda a, b: a / b, F.div, numpy.divide),
}
BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 3, 4)),
    ((), (2, 3)),
    ((2, 1, 4), (3, 1)),
]


@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name", BINARY)
def test_binary_op(backend_name, rng, name, shapes):
    operator, function, reference = BINARY[name]
    a, b = normal(rng, *shapes[0]), positive(rng, *shapes[1])
    assert gradcheck(operator, [a, b])
    expected = reference(a.numpy(), b.numpy())
    close(operator(a, b), expected)
    close(function(a, b), expected)


SCALAR_OPERANDS = {
    "x + 2": (lambda x: x + 2, lambda v: v + 2),
    "2 + x": (lambda x: 2 + x, lambda v: 2 + v),
    "2 - x": (lambda x: 2 - x, lambda v: 2 - v),
    "x - 2": (lambda x: x - 2, lambda v: v - 2),
    "3 * x": (lambda x: 3 * x, lambda v: 3 * v),
    "x * 3": (lambda x: x * 3, lambda v: v * 3),
    "2 / x": (lambda x: 2 / x, lambda v: 2 / v),
    "x / 2": (lambda x: x / 2, lambda v: v / 2),
    "x ** 2": (lambda x: x ** 2, lambda v: v ** 2),
    "2 ** x": (lambda x: 2 ** x, lambda v: 2.0 ** v),
}


@pytest.mark.parametrize("name", SCALAR_OPERANDS)
def test_scalar_operand_on_either_side(backend_name, rng, name):
    expression, reference = SCALAR_OPERANDS[name]
    x = positive(rng, 2, 3)
    assert gradcheck(expression, [x])
    close(expression(x), reference(x.numpy()))


def test_neg(backend_name, rng):
    x = normal(rng, 2, 3)
    assert gradcheck(lambda t: -t, [x])
    assert gradcheck(F.neg, [x])
    close(-x, -x.numpy())


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1, -2.5, 1, 0])
def test_pow_on_positive_input(backend_name, rng, exponent):
    x = positive(rng, 2, 3)
    assert gradcheck(lambda t: t ** exponent, [x])
    close(F.pow(x, exponent), x.numpy() ** exponent)


@pytest.mark.parametrize("exponent", [2, 3])
def test_pow_integer_exponent_on_negative_input(backend_name, rng, exponent):
    x = leaf(-rng.uniform(0.5, 2.0, (2, 3)))
    assert gradcheck(lambda t: t ** exponent, [x])
    close(x ** exponent, x.numpy() ** exponent)


def test_pow_rejects_a_tensor_exponent(rng):
    with pytest.raises(TypeError, match="pow: the exponent must be a Python number"):
        normal(rng, 2) ** normal(rng, 2)


@pytest.mark.parametrize(
    "name, make_input, reference",
    [
        ("exp", normal, numpy.exp),
        ("log", positive, numpy.log),
        ("sqrt", positive, numpy.sqrt),
    ],
)
def test_unary_math(backend_name, rng, name, make_input, reference):
    x = make_input(rng, 3, 4)
    function = getattr(F, name)
    assert gradcheck(function, [x])
    close(function(x), reference(x.numpy()))
    close(getattr(x, name)(), reference(x.numpy()))


# ---------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((4,), (4,)),
    ((2, 3, 4), (4, 5)),
    ((2, 1, 3, 4), (5, 4, 2)),
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 3)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(backend_name, rng, shapes):
    a, b = normal(rng, *shapes[0]), normal(rng, *shapes[1])
    assert gradcheck(lambda x, y: x @ y, [a, b])
    close(F.matmul(a, b), numpy.matmul(a.numpy(), b.numpy()))


def test_matmul_shape_error_names_both_shapes(rng):
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\)"):
        normal(rng, 3, 4) @ normal(rng, 5, 2)
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(\)"):
        normal(rng, 3) @ normal(rng)


# ---------------------------------------------------------------- reductions

AXES = [None, 0, 1, -1, (0, 2), (-1, 0)]


def distinct_values(rng, *shape):
    """Values at least 0.08 apart, so a finite-difference step never changes the maximum."""
    count = int(numpy.prod(shape))
    values = rng.permutation(count) * 0.1 + rng.uniform(-0.01, 0.01, count)
    return leaf(values.reshape(shape))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max"])
def test_reduction(backend_name, rng, name, axis, keepdims):
    x = distinct_values(rng, 2, 3, 4)
    assert gradcheck(lambda t: getattr(t, name)(axis=axis, keepdims=keepdims), [x])
    expected = getattr(numpy, name)(x.numpy(), axis=axis, keepdims=keepdims)
    out = getattr(F, name)(x, axis, keepdims)
    assert out.shape == expected.shape
    close(out, expected)


def test_max_splits_the_gradient_among_ties(backend_name):
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    x.max(axis=1).sum().backward()
    numpy.testing.assert_allclose(backend.to_numpy(x.grad), [[0, 0.5, 0.5], [0.5, 0.5, 0]])


def test_max_ties_match_torch_amax(backend_name):
    torch = torch_or_skip()
    values = numpy.array([[1.0, 3.0, 3.0, 3.0], [2.0, 2.0, 0.0, -1.0]])
    x = leaf(values)
    x.max().backward()
    reference = torch.tensor(values, requires_grad=True)
    torch.amax(reference).backward()
    numpy.testing.assert_allclose(backend.to_numpy(x.grad), reference.grad.numpy())


def test_reduction_axis_out_of_range(rng):
    with pytest.raises(ValueError, match="axis 3 is out of range for a tensor with 3 dimensions"):
        normal(rng, 2, 3, 4).sum(axis=3)


# ---------------------------------------------------------------- shape ops


@pytest.mark.parametrize("shape", [(6, -1), (-1,), (4, 3, 2), (2, 12)], ids=str)
def test_reshape(backend_name, rng, shape):
    x = normal(rng, 2, 3, 4)
    assert gradcheck(lambda t: F.reshape(t, shape), [x])
    close(x.reshape(*shape), x.numpy().reshape(shape))


def test_reshape_error(rng):
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\)"):
        normal(rng, 2, 3).reshape(4, 2)


@pytest.mark.parametrize("axes", [None, (1, 0, 2), (2, 0, 1), (0, -1, 1), (-1, -3, -2)], ids=str)
def test_transpose(backend_name, rng, axes):
    x = normal(rng, 2, 3, 4)
    args = () if axes is None else axes
    assert gradcheck(lambda t: t.transpose(*args), [x])
    close(F.transpose(x, *args), numpy.transpose(x.numpy(), axes))


def test_dot_t_reverses_the_axes(backend_name, rng):
    x = normal(rng, 3, 4)
    assert gradcheck(lambda t: t.T * 2, [x])
    close(x.T, x.numpy().T)


INDEXES = {
    "int": lambda: 1,
    "negative int pair": lambda: (-1, 2),
    "slice": lambda: (slice(None), slice(1, 3)),
    "negative step": lambda: slice(None, None, -1),
    "negative step, second axis": lambda: (slice(1, None), slice(None, None, -2)),
    "ellipsis": lambda: (Ellipsis, -1),
    "int array with repeats": lambda: [0, 0, 2, 0],
    "two int arrays": lambda: ([0, 2, 2], [1, 1, 4]),
    "int array and slice": lambda: (slice(None), [4, 0, 4]),
    "boolean mask": lambda: numpy.arange(20).reshape(4, 5) % 3 == 0,
}


@pytest.mark.parametrize("name", INDEXES)
def test_indexing(backend_name, rng, name):
    index = INDEXES[name]()
    device_index = backend.asarray(index) if isinstance(index, numpy.ndarray) else index
    x = normal(rng, 4, 5)
    assert gradcheck(lambda t: t[device_index], [x])
    close(x[device_index], x.numpy()[index])


def test_indexing_with_repeats_adds_the_gradients(backend_name):
    x = leaf(numpy.zeros(3))
    x[[0, 0, 2, 0]].sum().backward()
    numpy.testing.assert_allclose(backend.to_numpy(x.grad), [3.0, 0.0, 1.0])


def test_indexing_with_an_integer_tensor(backend_name, rng):
    x = normal(rng, 4, 5)
    rows = Tensor(backend.asarray(numpy.array([3, 1, 3])))
    assert gradcheck(lambda t: t[rows], [x])


CONCAT_CASES = [
    (0, [(2, 3), (1, 3), (4, 3)]),
    (1, [(2, 1), (2, 3), (2, 2)]),
    (-1, [(2, 3, 1), (2, 3, 2), (2, 3, 3)]),
    (1, [(2, 1, 2, 2), (2, 3, 2, 2), (2, 2, 2, 2)]),
]


@pytest.mark.parametrize("axis, shapes", CONCAT_CASES, ids=str)
def test_concat(backend_name, rng, axis, shapes):
    tensors = [normal(rng, *shape) for shape in shapes]
    assert gradcheck(lambda *ts: F.concat(ts, axis=axis), tensors)
    close(F.concat(tensors, axis=axis), numpy.concatenate([t.numpy() for t in tensors], axis=axis))


def test_concat_with_an_input_that_needs_no_gradient(backend_name, rng):
    a, constant = normal(rng, 2, 3), leaf(rng.standard_normal((2, 2)), requires_grad=False)
    assert gradcheck(lambda x, c: F.concat([x, c]), [a, constant])


def test_concat_defaults_to_the_channel_axis(rng):
    out = F.concat([normal(rng, 2, 3, 4, 4), normal(rng, 2, 5, 4, 4)])
    assert out.shape == (2, 8, 4, 4)


def test_concat_error_names_the_shapes(rng):
    with pytest.raises(ValueError, match=r"concat: tensor 1 has shape \(2, 3, 5\).*\(2, 3, 4\)"):
        F.concat([normal(rng, 2, 3, 4), normal(rng, 2, 3, 5)], axis=1)


@pytest.mark.parametrize("start_dim, expected", [(1, (2, 12)), (2, (2, 3, 4)), (0, (24,)), (-1, (2, 3, 2, 2))])
def test_flatten(backend_name, rng, start_dim, expected):
    x = normal(rng, 2, 3, 2, 2)
    assert gradcheck(lambda t: F.flatten(t, start_dim), [x])
    out = F.flatten(x, start_dim)
    assert out.shape == expected
    close(out, x.numpy().reshape(expected))


def test_flatten_defaults(rng):
    x = normal(rng, 2, 3, 2, 2)
    assert F.flatten(x).shape == (2, 12)  # the functional form keeps the batch axis
    assert x.flatten().shape == (24,)  # the method flattens everything, as torch.Tensor.flatten


# ---------------------------------------------------------------- activations


def numpy_sigmoid(v):
    return 1 / (1 + numpy.exp(-v))


def numpy_softmax(v, axis):
    e = numpy.exp(v - v.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ACTIVATIONS = {
    "relu": (F.relu, lambda v: numpy.maximum(v, 0)),
    "sigmoid": (F.sigmoid, numpy_sigmoid),
    "tanh": (F.tanh, numpy.tanh),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation(backend_name, rng, name):
    function, reference = ACTIVATIONS[name]
    x = away_from_zero(rng, 3, 4)
    assert gradcheck(function, [x])
    close(function(x), reference(x.numpy()))
    close(getattr(x, name)(), reference(x.numpy()))


def test_relu_of_minus_infinity_is_zero(backend_name):
    x = leaf(numpy.array([-numpy.inf, -1.0, 2.0, numpy.inf], dtype="float32"))
    with numpy.errstate(invalid="raise"):
        close(F.relu(x), [0.0, 0.0, 2.0, numpy.inf])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_extreme_values_do_not_overflow(backend_name, dtype):
    x = leaf(numpy.array([-1000.0, -100.0, 0.0, 100.0, 1000.0], dtype=dtype))
    with warnings.catch_warnings(), numpy.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        y = F.sigmoid(x)
        y.sum().backward()
    values, grads = y.numpy(), backend.to_numpy(x.grad)
    assert numpy.all(numpy.isfinite(values)) and numpy.all(numpy.isfinite(grads))
    numpy.testing.assert_allclose(values, [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-30)
    numpy.testing.assert_allclose(grads, [0.0, 0.0, 0.25, 0.0, 0.0], atol=1e-30)


@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax(backend_name, rng, axis):
    x = normal(rng, 2, 3, 4)
    assert gradcheck(lambda t: F.softmax(t, axis=axis), [x])
    out = F.softmax(x, axis=axis)
    close(out, numpy_softmax(x.numpy(), axis))
    close(out.sum(axis=axis), numpy.ones(numpy.delete(x.shape, axis % 3)))


@pytest.mark.parametrize("axis", [-1, 1])
def test_log_softmax(backend_name, rng, axis):
    x = normal(rng, 2, 3, 4)
    assert gradcheck(lambda t: F.log_softmax(t, axis=axis), [x])
    close(F.log_softmax(x, axis=axis), numpy.log(numpy_softmax(x.numpy(), axis)))


def test_softmax_family_is_stable_for_large_logits(backend_name):
    x = leaf(numpy.array([[1000.0, 0.0, -1000.0]], dtype="float32"))
    with warnings.catch_warnings(), numpy.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        probabilities, log_probabilities = F.softmax(x), F.log_softmax(x)
    close(probabilities, [[1.0, 0.0, 0.0]], rtol=1e-6, atol=0)
    close(log_probabilities, [[0.0, -1000.0, -2000.0]], rtol=1e-6, atol=0)


@pytest.mark.parametrize("axis", [-1, 1])
def test_softmax_family_matches_torch(backend_name, rng, axis):
    torch = torch_or_skip()
    values = rng.standard_normal((2, 3, 4)).astype("float32")
    x = leaf(values)
    expected_softmax = torch.softmax(torch.from_numpy(values), dim=axis).numpy()
    expected_log = torch.log_softmax(torch.from_numpy(values), dim=axis).numpy()
    numpy.testing.assert_allclose(F.softmax(x, axis).numpy(), expected_softmax, rtol=1e-5, atol=1e-7)
    numpy.testing.assert_allclose(F.log_softmax(x, axis).numpy(), expected_log, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(
        F.sigmoid(x).numpy(), torch.sigmoid(torch.from_numpy(values)).numpy(), rtol=1e-5, atol=1e-7
    )


# ---------------------------------------------------------------- cross_entropy

REDUCTIONS = ["mean", "sum", "none"]


def integer_targets(values):
    return Tensor(backend.asarray(numpy.asarray(values, dtype="int64")))


def test_cross_entropy_hand_computed(backend_name):
    logits = leaf(numpy.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]))
    target = integer_targets([2, 0])
    first = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3  # -log softmax[2]
    second = math.log(3)  # uniform over 3 classes
    close(F.cross_entropy(logits, target, reduction="none"), [first, second])
    close(F.cross_entropy(logits, target, reduction="sum"), first + second)
    loss = F.cross_entropy(logits, target)
    close(loss, (first + second) / 2)
    loss.backward()
    softmax_first = numpy.exp([1.0, 2.0, 3.0]) / numpy.exp([1.0, 2.0, 3.0]).sum()
    expected = numpy.array([softmax_first - [0, 0, 1], [1 / 3 - 1, 1 / 3, 1 / 3]]) / 2
    numpy.testing.assert_allclose(backend.to_numpy(logits.grad), expected, rtol=1e-12)


CE_SHAPES = [((5, 3), (5,)), ((2, 3, 2, 2), (2, 2, 2))]


def random_targets(rng, shape, classes):
    return integer_targets(rng.integers(0, classes, shape))


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradcheck(backend_name, rng, reduction, shapes):
    logits = normal(rng, *shapes[0])
    target = random_targets(rng, shapes[1], shapes[0][1])
    assert gradcheck(lambda t: F.cross_entropy(t, target, reduction=reduction), [logits])


def composed_cross_entropy(logits, onehot, reduction):
    """log_softmax + negative log-likelihood, built from other ops."""
    per_sample = -(F.log_softmax(logits, axis=1) * onehot).sum(axis=1)
    if reduction == "none":
        return per_sample
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_equals_log_softmax_plus_nll(backend_name, rng, reduction, shapes):
    logits_np = rng.standard_normal(shapes[0])
    target_np = rng.integers(0, shapes[0][1], shapes[1])
    onehot = numpy.moveaxis(numpy.eye(shapes[0][1])[target_np], -1, 1)  # class axis to position 1
    fused, composed = leaf(logits_np), leaf(logits_np)
    fused_loss = F.cross_entropy(fused, integer_targets(target_np), reduction=reduction)
    composed_loss = composed_cross_entropy(composed, leaf(onehot, requires_grad=False), reduction)
    close(fused_loss, composed_loss.numpy())
    upstream = rng.standard_normal(fused_loss.shape)
    fused_loss.backward(backend.asarray(upstream))
    composed_loss.backward(backend.asarray(upstream))
    numpy.testing.assert_allclose(backend.to_numpy(fused.grad), backend.to_numpy(composed.grad), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(backend_name, rng, reduction, shapes):
    torch = torch_or_skip()
    logits_np = rng.standard_normal(shapes[0]).astype("float32")
    target_np = rng.integers(0, shapes[0][1], shapes[1])
    logits = leaf(logits_np)
    loss = F.cross_entropy(logits, integer_targets(target_np), reduction=reduction)
    reference = torch.tensor(logits_np, requires_grad=True)
    expected = torch.nn.functional.cross_entropy(reference, torch.from_numpy(target_np), reduction=reduction)
    assert loss.dtype == numpy.float32
    numpy.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    upstream = rng.standard_normal(tuple(expected.shape)).astype("float32")
    loss.backward(backend.asarray(upstream))
    expected.backward(torch.from_numpy(upstream))
    assert logits.grad.dtype == numpy.float32
    numpy.testing.assert_allclose(backend.to_numpy(logits.grad), reference.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_cross_entropy_is_stable_for_large_logits(backend_name):
    logits = leaf(numpy.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype="float32"))
    loss = F.cross_entropy(logits, integer_targets([1, 1]), reduction="none")
    close(loss, [2000.0, 0.0], rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "target, error, message",
    [
        ([0, -1, 2], ValueError, r"class index -1 .* 3 classes \(valid indices are 0..2\)"),
        ([0, 3, 2], ValueError, r"class index 3 .* 3 classes"),
        ([0, 1], ValueError, r"logits of shape \(3, 3\) need targets of shape \(3,\), got \(2,\)"),
        ([[0], [1], [2]], ValueError, r"need targets of shape \(3,\), got \(3, 1\)"),
    ],
)
def test_cross_entropy_rejects_bad_targets(rng, target, error, message):
    with pytest.raises(error, match=message):
        F.cross_entropy(normal(rng, 3, 3), integer_targets(target))


def test_cross_entropy_rejects_float_targets_and_bad_arguments(rng):
    logits = normal(rng, 3, 3)
    with pytest.raises(TypeError, match="integer class indices, got dtype float32"):
        F.cross_entropy(logits, Tensor([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="target must be an integer Tensor or array, got list"):
        F.cross_entropy(logits, [0, 1, 2])
    with pytest.raises(ValueError, match=r"logits need shape \(N, C\)"):
        F.cross_entropy(normal(rng, 3), integer_targets([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(logits, integer_targets([0, 1, 2]), reduction="average")


def test_cross_entropy_checks_4d_targets(rng):
    with pytest.raises(ValueError, match=r"need targets of shape \(2, 2, 2\), got \(2, 4\)"):
        F.cross_entropy(normal(rng, 2, 3, 2, 2), integer_targets(numpy.zeros((2, 4))))


# ---------------------------------------------------------------- mse_loss


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss(backend_name, rng, reduction):
    prediction, target = normal(rng, 3, 4), normal(rng, 3, 4)
    assert gradcheck(lambda p, t: F.mse_loss(p, t, reduction=reduction), [prediction, target])
    squared = (prediction.numpy() - target.numpy()) ** 2
    expected = {"mean": squared.mean(), "sum": squared.sum(), "none": squared}[reduction]
    close(F.mse_loss(prediction, target, reduction=reduction), expected)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_torch(backend_name, rng, reduction):
    torch = torch_or_skip()
    p_np, t_np = rng.standard_normal((2, 5)).astype("float32"), rng.standard_normal((2, 5)).astype("float32")
    prediction = leaf(p_np)
    loss = F.mse_loss(prediction, leaf(t_np, requires_grad=False), reduction=reduction)
    reference = torch.tensor(p_np, requires_grad=True)
    expected = torch.nn.functional.mse_loss(reference, torch.from_numpy(t_np), reduction=reduction)
    numpy.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-7)
    loss.sum().backward()
    expected.sum().backward()
    numpy.testing.assert_allclose(backend.to_numpy(prediction.grad), reference.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_mse_loss_shape_mismatch(rng):
    with pytest.raises(ValueError, match=r"mse_loss: prediction has shape \(3, 4\) but target has shape \(4,\)"):
        F.mse_loss(normal(rng, 3, 4), normal(rng, 4))


# ---------------------------------------------------------------- linear


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,)], ids=str)
def test_linear(backend_name, rng, x_shape, bias):
    x, weight = normal(rng, *x_shape), normal(rng, 3, 4)
    inputs = [x, weight] + ([normal(rng, 3)] if bias else [])
    assert gradcheck(F.linear, inputs)
    expected = x.numpy() @ weight.numpy().T + (inputs[2].numpy() if bias else 0)
    close(F.linear(*inputs), expected)


def test_linear_matches_torch(backend_name, rng):
    torch = torch_or_skip()
    arrays = [rng.standard_normal(shape).astype("float32") for shape in [(2, 3, 4), (5, 4), (5,)]]
    out = F.linear(*(leaf(a) for a in arrays))
    expected = torch.nn.functional.linear(*(torch.from_numpy(a) for a in arrays))
    assert out.dtype == numpy.float32
    numpy.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_linear_shape_errors_are_explained(rng):
    with pytest.raises(ValueError, match=r"linear: input has shape \(2, 5\) .* expects 4 features"):
        F.linear(normal(rng, 2, 5), normal(rng, 3, 4))
    with pytest.raises(ValueError, match=r"linear: bias has shape \(4,\) .* 3 output features"):
        F.linear(normal(rng, 2, 4), normal(rng, 3, 4), normal(rng, 4))
    with pytest.raises(ValueError, match=r"linear: the weight must be \(out_features, in_features\)"):
        F.linear(normal(rng, 2, 4), normal(rng, 4))


# ---------------------------------------------------------------- float32 stays float32

FLOAT32_OPS = {
    "add": lambda x: x + x,
    "div": lambda x: x / (x * x + 1),
    "matmul": lambda x: x @ x.T,
    "exp/log/sqrt": lambda x: (x.exp() + 1).log().sqrt(),
    "pow": lambda x: (x * x + 1) ** 1.5,
    "reductions": lambda x: x.sum(axis=0) + x.mean(axis=0) + x.max(axis=0),
    "shape": lambda x: F.concat([x.reshape(-1), x.T.flatten(), x[::-1, 1]], axis=0),
    "activations": lambda x: F.relu(x) + F.sigmoid(x) + F.tanh(x) + F.softmax(x) + F.log_softmax(x, axis=0),
    "linear": lambda x: F.linear(x, x, x[0]),
    "mse": lambda x: F.mse_loss(x, x * 2),
    "cross_entropy": lambda x: F.cross_entropy(x, integer_targets([0, 2, 1])),
}


@pytest.mark.parametrize("name", FLOAT32_OPS)
def test_float32_stays_float32(backend_name, rng, name):
    x = leaf(rng.standard_normal((3, 3)).astype("float32"))
    out = FLOAT32_OPS[name](x)
    assert out.dtype == numpy.float32
    out.sum().backward()
    assert x.grad.dtype == numpy.float32
