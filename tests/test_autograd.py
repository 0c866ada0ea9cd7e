"""The autograd engine: graph walk, accumulation, graph release, no_grad, dtypes, backend mixing."""
import gc
import weakref

import numpy
import pytest

import minicnn.functional as F
from minicnn import Function, Tensor, backend, is_grad_enabled, no_grad


def leaf(values, dtype="float64"):
    """A leaf tensor on the backend under test."""
    return Tensor(backend.asarray(numpy.asarray(values, dtype=dtype)), requires_grad=True)


def grad_of(tensor):
    return backend.to_numpy(tensor.grad)


# ---------------------------------------------------------------- accumulation


def test_diamond_graph_sums_both_paths(backend_name):
    x = leaf([0.5, -1.0, 2.0])
    y = x * x  # y feeds two branches that meet again
    loss = (y * 3 + y.exp()).sum()
    loss.backward()
    x_np = numpy.array([0.5, -1.0, 2.0])
    expected = (3 + numpy.exp(x_np ** 2)) * 2 * x_np  # chain rule by hand
    numpy.testing.assert_allclose(grad_of(x), expected, rtol=1e-12)


def test_tensor_used_three_times(backend_name):
    x = leaf([1.5, -2.0])
    (x * x * x).sum().backward()
    numpy.testing.assert_allclose(grad_of(x), 3 * numpy.array([1.5, -2.0]) ** 2, rtol=1e-12)
    z = leaf([1.0, 2.0])
    (z + z + z).sum().backward()
    numpy.testing.assert_allclose(grad_of(z), [3.0, 3.0])


def test_grad_accumulates_across_two_backward_calls(backend_name):
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    (x * 5).sum().backward()
    numpy.testing.assert_allclose(grad_of(x), [7.0, 7.0])
    x.zero_grad()
    assert x.grad is None


def test_leaves_get_their_own_writable_gradient_arrays(backend_name):
    p, q = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (p + q).sum().backward()  # Add hands the same upstream array to both inputs
    assert p.grad is not q.grad
    p.grad *= 10  # an optimiser scaling one gradient in place must not touch the other
    numpy.testing.assert_allclose(grad_of(q), [1.0, 1.0])
    m = leaf([[1.0, 2.0], [3.0, 4.0]])
    m.mean().backward()  # the mean's gradient is a broadcast (read-only) view internally
    m.grad += 1
    numpy.testing.assert_allclose(grad_of(m), numpy.full((2, 2), 1.25))


def test_backward_on_a_leaf_sets_its_gradient(backend_name):
    x = leaf([2.0, 3.0])
    x.backward(backend.asarray(numpy.array([1.0, -1.0])))
    numpy.testing.assert_allclose(grad_of(x), [1.0, -1.0])


# ---------------------------------------------------------------- no_grad, detach


def test_no_grad_builds_no_graph(backend_name):
    x = leaf([1.0, 2.0])
    with no_grad():
        assert not is_grad_enabled()
        y = (x * 2).exp().sum()
    assert is_grad_enabled()
    assert y.creator is None
    assert not y.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_restores_the_previous_state_after_an_error():
    with pytest.raises(ZeroDivisionError):
        with no_grad():
            1 / 0
    assert is_grad_enabled()
    with no_grad():
        with no_grad():
            pass
        assert not is_grad_enabled()


def test_inputs_without_requires_grad_build_no_graph(backend_name):
    a = Tensor(backend.asarray(numpy.ones(3)))
    b = a * 2 + 1
    assert b.creator is None and not b.requires_grad


def test_detach_cuts_the_graph(backend_name):
    x = leaf([1.0, 2.0])
    w = leaf([3.0, 4.0])
    y = x * 2
    d = y.detach()
    assert d.creator is None and not d.requires_grad
    assert d.data is y.data  # same memory, no copy
    (d * w).sum().backward()
    assert x.grad is None  # nothing flowed through the detached tensor
    numpy.testing.assert_allclose(grad_of(w), [2.0, 4.0])


# ---------------------------------------------------------------- deep graphs


def test_chain_of_10000_ops_backward_without_recursion_error(backend_name):
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    numpy.testing.assert_allclose(grad_of(x), [1.0001 ** 10_000], rtol=1e-9)


# ---------------------------------------------------------------- errors from backward


def test_backward_on_non_scalar_without_grad_is_a_clear_error(backend_name):
    y = leaf([[1.0, 2.0], [3.0, 4.0]]) * 2
    with pytest.raises(RuntimeError, match=r"one-element.*\(2, 2\).*sum\(\)"):
        y.backward()


def test_backward_with_a_wrong_shape_grad_is_a_clear_error(backend_name):
    y = leaf([[1.0, 2.0], [3.0, 4.0]]) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        y.backward(backend.asarray(numpy.ones(3)))


def test_backward_twice_through_a_released_graph_is_an_error(backend_name):
    x = leaf([1.0, 2.0])
    hidden = x * 3
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="already released"):
        (hidden * 2).sum().backward()  # would silently give x no gradient otherwise
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="already released"):
        loss.backward()


class _TwoGradientsForOneInput(Function):
    def forward(self, a):
        return a * 2

    def backward(self, grad):
        return grad * 2, grad


class _WrongShapeGradient(Function):
    def forward(self, a):
        return a.sum()

    def backward(self, grad):
        return (grad,)


def test_a_buggy_function_is_named_in_the_error(backend_name):
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="_TwoGradientsForOneInput.*2 gradients for 1 inputs"):
        _TwoGradientsForOneInput()(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"_WrongShapeGradient.*shape \(\).*shape \(2,\)"):
        _WrongShapeGradient()(x).backward()


# ---------------------------------------------------------------- memory


def _build_loss(x):
    """A small graph whose intermediates only the graph itself holds."""
    hidden = (x * 2).exp()
    return hidden.sum(), weakref.ref(hidden), weakref.ref(hidden.creator), weakref.ref(hidden.data)


def test_graph_references_are_dropped_after_backward(backend_name):
    x = leaf([0.1, 0.2, 0.3])
    loss, hidden_ref, exp_ref, saved_ref = _build_loss(x)
    gc.collect()
    assert hidden_ref() is not None and exp_ref() is not None  # alive: the graph holds them
    sum_fn = loss.creator
    loss.backward()
    assert loss.creator is None
    assert sum_fn.inputs == () and sum_fn.saved == ()
    del sum_fn
    gc.collect()
    assert hidden_ref() is None
    assert exp_ref() is None
    assert saved_ref() is None  # the array Exp saved for its backward is freed too


# ---------------------------------------------------------------- Tensor basics


def test_numpy_returns_a_copy(backend_name):
    t = Tensor(backend.asarray(numpy.array([1.0, 2.0])))
    copy = t.numpy()
    assert type(copy) is numpy.ndarray
    copy[0] = 99.0
    assert backend.to_numpy(t.data)[0] == 1.0


def test_data_is_live(backend_name):
    t = Tensor(backend.asarray(numpy.array([1.0, 2.0])))
    t.data[1] = 5.0
    assert t.numpy()[1] == 5.0


def test_item():
    assert Tensor([[2.5]]).item() == 2.5
    assert isinstance(Tensor([[2.5]]).item(), float)
    with pytest.raises(ValueError, match=r"one-element.*\(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_reductions_hold_arrays_not_numpy_scalars(xp):
    total = Tensor(xp.ones(3, dtype=xp.float32)).sum()
    assert isinstance(total.data, xp.ndarray) and total.shape == ()
    total.data[...] = 7.0
    assert total.item() == 7.0


# ---------------------------------------------------------------- dtypes


def test_lists_and_python_floats_become_float32(xp):
    assert Tensor([1.0, 2.5]).dtype == numpy.float32
    assert Tensor(3.0).dtype == numpy.float32
    assert isinstance(Tensor([1.0]).data, xp.ndarray)


def test_arrays_keep_their_dtype(xp):
    assert Tensor(xp.ones(2, dtype=xp.float64)).dtype == numpy.float64
    assert Tensor(xp.ones(2, dtype=xp.float32)).dtype == numpy.float32
    assert Tensor([1, 2]).dtype.kind == "i"


SCALAR_EXPRESSIONS = {
    "x + 2": lambda x: x + 2,
    "2 + x": lambda x: 2 + x,
    "x - 2.5": lambda x: x - 2.5,
    "2 - x": lambda x: 2 - x,
    "x * 3": lambda x: x * 3,
    "0.5 * x": lambda x: 0.5 * x,
    "x / 2": lambda x: x / 2,
    "2 / x": lambda x: 2 / x,
    "x ** 2": lambda x: x ** 2,
    "x ** 0.5": lambda x: x ** 0.5,
    "2 ** x": lambda x: 2 ** x,
    "-x": lambda x: -x,
}


@pytest.mark.parametrize("name", SCALAR_EXPRESSIONS)
def test_python_scalars_keep_float32(backend_name, name):
    x = leaf([0.5, 1.0, 2.0], dtype="float32")
    y = SCALAR_EXPRESSIONS[name](x)
    assert y.dtype == numpy.float32, name
    y.sum().backward()
    assert x.grad.dtype == numpy.float32, name


def test_integer_tensor_times_a_float_is_not_truncated():
    y = Tensor([1, 2, 3]) * 0.5
    numpy.testing.assert_allclose(y.numpy(), [0.5, 1.0, 1.5])


def test_ndarray_on_the_left_defers_to_tensor(xp):
    x = leaf([1.0, 2.0])
    y = xp.asarray([3.0, 4.0]) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    numpy.testing.assert_allclose(grad_of(x), [3.0, 4.0])


# ---------------------------------------------------------------- backend mixing


class FakeCupyArray:
    """Looks like a CuPy array to minicnn.backend (its class lives in module 'cupy')."""

    __module__ = "cupy"
    shape = (2,)
    ndim = 1
    dtype = numpy.dtype("float32")


def test_get_array_module_rejects_a_numpy_cupy_mix():
    with pytest.raises(backend.BackendError, match="numpy and cupy") as info:
        backend.get_array_module(numpy.ones(2, dtype=numpy.float32), FakeCupyArray())
    assert "asarray" in str(info.value) or "to(" in str(info.value)  # it says how to fix it


def test_an_op_on_mixed_backends_names_both():
    x = Tensor(numpy.ones(2, dtype=numpy.float32), requires_grad=True)
    fake = Tensor(FakeCupyArray())
    with pytest.raises(backend.BackendError, match="numpy and cupy"):
        x + fake
    with pytest.raises(backend.BackendError, match="numpy and cupy"):
        F.mul(fake, x)
