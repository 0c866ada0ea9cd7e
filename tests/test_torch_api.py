"""PyTorch's tensor surface on minicnn.Tensor: the names d2l's code calls, checked against PyTorch in float64.

Every differentiable method also passes a float64 gradient check; the rest (comparisons,
conversions, creation) are compared with PyTorch's results or with plain NumPy.
"""
import numpy
import pytest

import minicnn
import minicnn.functional as F
from minicnn import Tensor, backend, gradcheck
from minicnn.live_array import LiveArray

torch = pytest.importorskip("torch")


def leaf(values, requires_grad=True):
    return Tensor(backend.asarray(numpy.asarray(values, dtype="float64")), requires_grad=requires_grad)


def twin(rng, *shape):
    """The same float64 values as a minicnn leaf and a torch leaf."""
    values = rng.standard_normal(shape)
    return leaf(values), torch.tensor(values, requires_grad=True)


def close(tensor, expected, rtol=1e-10, atol=1e-12):
    expected = expected.detach().numpy() if hasattr(expected, "detach") else expected
    numpy.testing.assert_allclose(backend.to_numpy(tensor.data), expected, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return numpy.random.default_rng(7)


# ---------------------------------------------------------------- reductions with dim/keepdim

REDUCTIONS = [
    ("sum", dict(dim=1), dict(dim=1)),
    ("sum", dict(dim=(0, 2), keepdim=True), dict(dim=(0, 2), keepdim=True)),
    ("mean", dict(dim=0), dict(dim=0)),
    ("mean", dict(dim=(0, 2, 3), keepdim=True), dict(dim=(0, 2, 3), keepdim=True)),
    ("amax", dict(dim=-1), dict(dim=-1)),
    ("var", dict(dim=1), dict(dim=1)),
    ("var", dict(dim=(0, 1), unbiased=False, keepdim=True), dict(dim=(0, 1), unbiased=False, keepdim=True)),
    ("std", dict(), dict()),
    ("std", dict(dim=2, correction=0), dict(dim=2, correction=0)),
]


@pytest.mark.parametrize("name, ours, theirs", REDUCTIONS, ids=lambda v: str(v))
def test_reductions_take_dim_and_keepdim_as_torch(backend_name, rng, name, ours, theirs):
    x, tx = twin(rng, 2, 3, 4, 5)
    method = "max" if name == "amax" else name
    out = getattr(x, method)(**ours)
    expected = getattr(tx, name)(**theirs)
    close(out, expected)
    expected.backward(torch.ones_like(expected))
    out.backward(backend.asarray(numpy.ones(out.shape)))
    close(Tensor(x.grad), tx.grad)
    assert gradcheck(lambda t: getattr(t, method)(**ours), [leaf(x.numpy())])


def test_numpy_names_are_aliases(backend_name, rng):
    x, _ = twin(rng, 2, 3)
    close(x.sum(axis=1, keepdims=True), x.sum(dim=1, keepdim=True).numpy())
    close(F.softmax(x, axis=0), F.softmax(x, dim=0).numpy())
    with pytest.raises(TypeError, match="not both"):
        x.sum(dim=0, axis=1)


def test_argmax_and_argmin_match_torch(backend_name, rng):
    x, tx = twin(rng, 3, 4, 5)
    for dim in (None, 0, 2):
        for keepdim in (False, True):
            assert x.argmax(dim=dim, keepdim=keepdim).tolist() == tx.argmax(dim=dim, keepdim=keepdim).tolist()
            assert x.argmin(dim=dim, keepdim=keepdim).tolist() == tx.argmin(dim=dim, keepdim=keepdim).tolist()
    assert x.argmax().dtype == numpy.int64


def test_softmax_dim_matches_torch(backend_name, rng):
    x, tx = twin(rng, 2, 3, 4)
    for dim in (0, 1, -1):
        close(F.softmax(x, dim=dim), torch.softmax(tx, dim=dim))
        close(F.log_softmax(x, dim), torch.log_softmax(tx, dim))
        assert gradcheck(lambda t: F.softmax(t, dim=dim) * leaf(numpy.arange(24.0).reshape(2, 3, 4)), [x])


# ---------------------------------------------------------------- new differentiable ops


def test_abs_and_clamp_match_torch(backend_name, rng):
    values = rng.standard_normal((3, 4))
    values[numpy.abs(values) < 0.1] = 0.5  # kinks out of the finite differences
    values[numpy.abs(numpy.abs(values) - 0.3) < 0.05] = 0.7
    x, tx = leaf(values), torch.tensor(values, requires_grad=True)
    for ours, theirs in ((lambda t: t.abs(), torch.abs), (lambda t: t.clamp(-0.3, 0.3), lambda t: t.clamp(-0.3, 0.3)),
                         (lambda t: t.clamp(min=0.3), lambda t: t.clamp(min=0.3)),
                         (lambda t: minicnn.abs(t) * 2, lambda t: torch.abs(t) * 2)):
        out, expected = ours(x), theirs(tx)
        close(out, expected)
        x.grad, tx.grad = None, None
        out.sum().backward()
        expected.sum().backward()
        close(Tensor(x.grad), tx.grad)
        assert gradcheck(ours, [leaf(values)])


def test_leaky_relu_matches_torch(backend_name, rng):
    x, tx = twin(rng, 4, 5)
    close(F.leaky_relu(x, 0.2), torch.nn.functional.leaky_relu(tx, 0.2))
    close(minicnn.nn.LeakyReLU()(x), torch.nn.LeakyReLU()(tx))
    assert gradcheck(lambda t: F.leaky_relu(t, 0.2), [x])


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack_match_torch(backend_name, rng, dim):
    (a, ta), (b, tb) = twin(rng, 2, 3), twin(rng, 2, 3)
    close(minicnn.cat((a, b), dim=dim), torch.cat((ta, tb), dim=dim))
    close(minicnn.stack([a, b], dim), torch.stack([ta, tb], dim))
    weights = leaf(rng.standard_normal(torch.stack([ta, tb], dim).shape))
    assert gradcheck(lambda p, q: minicnn.stack([p, q], dim) * weights, [a, b])
    assert gradcheck(lambda p, q: minicnn.cat([p, q], dim=dim).sum(), [a, b])


def test_shape_methods_match_torch(backend_name, rng):
    x, tx = twin(rng, 2, 1, 3)
    assert x.view(3, 2).shape == tuple(tx.view(3, 2).shape)
    assert x.unsqueeze(0).shape == tuple(tx.unsqueeze(0).shape)
    assert x.unsqueeze(-1).shape == tuple(tx.unsqueeze(-1).shape)
    assert x.squeeze().shape == tuple(tx.squeeze().shape)
    assert x.squeeze(0).shape == tuple(tx.squeeze(0).shape)
    assert x.permute(2, 0, 1).shape == tuple(tx.permute(2, 0, 1).shape)
    assert x.flatten().shape == tuple(tx.flatten().shape)
    assert x.size() == tuple(tx.size()) and x.size(2) == tx.size(2) and x.size == tx.numel()
    assert x.numel() == tx.numel() and x.dim() == tx.dim()
    assert x.tolist() == tx.tolist()
    assert gradcheck(lambda t: t.unsqueeze(1).squeeze(2).view(-1) * leaf(numpy.arange(6.0)), [x])


def test_clone_stays_in_the_graph_and_copies(backend_name, rng):
    x, _ = twin(rng, 2, 3)
    y = x.clone()
    y.data[0, 0] = 100.0
    assert x.data[0, 0] != 100.0
    assert gradcheck(lambda t: t.clone() * 3, [x])


# ---------------------------------------------------------------- item assignment and .data


def test_item_assignment_without_a_graph_writes_in_place(backend_name):
    X = minicnn.ones((6, 8))
    array = X.data
    X[:, 2:6] = 0
    assert X.data is array
    expected = torch.ones((6, 8))
    expected[:, 2:6] = 0
    numpy.testing.assert_array_equal(X.numpy(), expected.numpy())
    W = minicnn.zeros((3, 3, 4, 4))
    W[range(3), range(3), :, :] = minicnn.ones((4, 4)) * 2
    TW = torch.zeros((3, 3, 4, 4))
    TW[range(3), range(3), :, :] = torch.ones((4, 4)) * 2
    numpy.testing.assert_array_equal(W.numpy(), TW.numpy())


def test_item_assignment_in_a_graph_matches_torch(backend_name, rng):
    x, tx = twin(rng, 3, 4)
    v, tv = twin(rng, 4)

    def assign(a, b):
        y = a * 2
        y[1] = b * b
        y[0, 1:3] = 7.0
        return y * leaf(numpy.arange(12.0).reshape(3, 4))

    ty = tx * 2
    ty[1] = tv * tv
    ty[0, 1:3] = 7.0
    (ty * torch.arange(12.0, dtype=torch.float64).reshape(3, 4)).sum().backward()
    assign(x, v).sum().backward()
    close(Tensor(x.grad), tx.grad)
    close(Tensor(v.grad), tv.grad)
    assert gradcheck(assign, [leaf(x.numpy()), leaf(v.numpy())])


def test_item_assignment_into_a_leaf_that_requires_grad_is_refused(backend_name, rng):
    x, _ = twin(rng, 2, 2)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x[0] = 1.0
    with minicnn.no_grad():
        x[0] = 1.0
    assert x.numpy()[0].tolist() == [1.0, 1.0]


def test_data_is_live_and_answers_pytorch_in_place_calls(backend_name):
    w = minicnn.nn.Parameter(backend.asarray(numpy.ones((2, 2), dtype="float32")))
    w.grad = backend.asarray(numpy.full((2, 2), 2.0, dtype="float32"))
    array = w.data
    w.data[:] -= 0.5 * w.grad
    assert w.data is array and w.numpy().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    if backend.backend_of(w.data) == "numpy":
        w.data.copy_(minicnn.tensor([[1.0, 2.0], [3.0, 4.0]]))
        assert w.numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]
        assert isinstance(w.data, LiveArray) and w.data.data is w.data
        assert repr(w.data).startswith("array(")
    w.data = minicnn.tensor([5.0, 6.0])
    assert w.numpy().tolist() == [5.0, 6.0] and not isinstance(w.data, Tensor)


# ---------------------------------------------------------------- comparisons and conversions


@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_comparisons_give_bool_tensors_as_torch(backend_name, op):
    values = numpy.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    x, tx = leaf(values, requires_grad=False), torch.tensor(values)
    for other, t_other in ((2.0, 2.0), (leaf([1.0, 2.0, 1.0], False), torch.tensor([1.0, 2.0, 1.0]))):
        out = getattr(x, op)(other)
        assert out.dtype == numpy.bool_ and not out.requires_grad
        assert out.tolist() == getattr(tx, op)(t_other).tolist()
    assert (x == None) is False  # noqa: E711 (PyTorch's answer)


def test_bool_of_a_multi_element_tensor_raises_as_torch(backend_name):
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(minicnn.ones(2))
    with pytest.raises(RuntimeError):
        bool(torch.ones(2))
    assert bool(minicnn.ones(1)) and not bool(minicnn.zeros(()))


def test_one_element_tensors_convert_to_python_numbers(backend_name):
    t = minicnn.tensor([[2.5]])
    assert float(t) == 2.5 and int(t) == 2 and format(t, ".3f") == "2.500" == format(torch.tensor(2.5), ".3f")
    assert [0, 1, 2, 3][minicnn.tensor(2)] == 2
    with pytest.raises(TypeError, match="one-element"):
        format(minicnn.ones(2), ".3f")
    assert numpy.asarray(minicnn.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert numpy.asarray(minicnn.ones(2), dtype="float64").dtype == numpy.float64


def test_iteration_goes_over_the_first_axis(backend_name, rng):
    x, _ = twin(rng, 3, 2)
    rows = list(x)
    assert len(rows) == 3 and all(row.shape == (2,) for row in rows)
    close(rows[1], x.numpy()[1])
    assert gradcheck(lambda t: sum(row * (i + 1) for i, row in enumerate(t)), [x])


def test_dtype_conversions_match_torch(backend_name):
    x = minicnn.tensor([1.7, -2.2])
    assert x.long().dtype == numpy.int64 and x.long().tolist() == torch.tensor([1.7, -2.2]).long().tolist()
    assert x.double().dtype == numpy.float64 and x.float() is x
    assert x.type(minicnn.float64).dtype == numpy.float64 and x.int().dtype == numpy.int32
    assert x.to(minicnn.float64).dtype == numpy.float64 and x.to(x.device) is x
    y = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y.double().sum().backward()
    assert y.grad.dtype == numpy.float32 and y.grad.tolist() == [1.0, 1.0]


def test_requires_grad_and_detach(backend_name):
    x = minicnn.ones(3).requires_grad_()
    assert x.requires_grad and not x.detach().requires_grad
    with pytest.raises(RuntimeError, match="floating-point"):
        minicnn.arange(3).requires_grad_()


# ---------------------------------------------------------------- creation, devices, seeds


def test_creation_functions_follow_torch_defaults():
    for ours, theirs in ((minicnn.zeros(2, 3), torch.zeros(2, 3)), (minicnn.ones((2, 3)), torch.ones((2, 3))),
                         (minicnn.rand(size=(2, 3)), torch.rand(size=(2, 3))), (minicnn.randn(4), torch.randn(4)),
                         (minicnn.tensor([[1.0, 2.0]]), torch.tensor([[1.0, 2.0]])),
                         (minicnn.tensor([1, 2]), torch.tensor([1, 2])), (minicnn.arange(5), torch.arange(5)),
                         (minicnn.arange(9.0), torch.arange(9.0)), (minicnn.full((2,), 3.0), torch.full((2,), 3.0))):
        assert ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    assert minicnn.arange(16, dtype=minicnn.float32).tolist() == list(range(16))
    assert minicnn.arange(1, 7, 2).tolist() == torch.arange(1, 7, 2).tolist()
    r = minicnn.rand(1000)
    assert 0 <= float(r.min()) and float(r.max()) < 1
    n = minicnn.normal(3.0, 0.5, (4000,))
    assert abs(float(n.mean()) - 3.0) < 0.05 and abs(float(n.std()) - 0.5) < 0.05


def test_manual_seed_repeats_the_stream():
    minicnn.manual_seed(3)
    first = minicnn.randn(5).tolist()
    minicnn.manual_seed(3)
    assert minicnn.randn(5).tolist() == first


def test_devices_compare_with_their_names():
    cpu = minicnn.device("cpu")
    assert cpu == "cpu" and str(cpu) == "cpu" and cpu != "cuda"
    assert minicnn.device("cuda:1") == minicnn.device("cuda", 1) and str(minicnn.device("cuda:1")) == "cuda:1"
    assert minicnn.ones(2).device == cpu and minicnn.ones(2).device == numpy.ones(2).device
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        minicnn.device("tpu")


def test_small_matrix_products_sum_in_order():
    rng = numpy.random.default_rng(0)
    for _ in range(200):
        k = rng.standard_normal((2, 3), dtype=numpy.float32)
        x = rng.standard_normal((3, 9), dtype=numpy.float32)
        by_hand = ((k[:, 0:1] * x[0]) + k[:, 1:2] * x[1]) + k[:, 2:3] * x[2]
        numpy.testing.assert_array_equal((Tensor(k) @ Tensor(x)).numpy(), by_hand)
