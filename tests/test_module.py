"""Module: registration, traversal order and names, modes, state dicts, backends, repr."""
import copy

import numpy
import pytest

from minicnn import Tensor, backend, nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.bn = nn.BatchNorm1d(5)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 3))

    def forward(self, x):
        return self.head(self.bn(self.fc1(x)))


def _x(rng, n=6):
    return Tensor(backend.asarray(rng.standard_normal((n, 4)), dtype="float32"))


def test_parameter_keeps_dtype_and_requires_grad():
    p = nn.Parameter(backend.xp().zeros(3, dtype="float64"))
    assert p.requires_grad and p.dtype == numpy.float64
    assert isinstance(p, Tensor)
    assert repr(p).startswith("Parameter containing:")


def test_named_parameters_in_definition_order_with_dotted_names():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "head.2.weight", "head.2.bias"]
    net = Net()
    assert [id(p) for p in net.parameters()] == [id(p) for _, p in net.named_parameters()]


def test_state_dict_has_parameters_and_buffers_with_torch_keys():
    keys = list(Net().state_dict())
    assert keys == ["fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                    "bn.num_batches_tracked", "head.2.weight", "head.2.bias"]
    assert [name for name, _ in Net().named_buffers()] == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"]


def _torch_net(torch):
    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(4, 5)
            self.bn = torch.nn.BatchNorm1d(5)
            self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(5, 3))
    return TorchNet()


def test_names_and_shapes_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = Net(), _torch_net(torch)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_own_parameters_come_before_children_as_in_torch():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(2, 2)
            self.scale = nn.Parameter(backend.xp().ones(1, dtype="float32"))

    assert [n for n, _ in Scaled().named_parameters()] == ["scale", "inner.weight", "inner.bias"]
    assert list(Scaled().state_dict()) == ["scale", "inner.weight", "inner.bias"]
    torch = pytest.importorskip("torch")

    class TorchScaled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = torch.nn.Linear(2, 2)
            self.scale = torch.nn.Parameter(torch.ones(1))

    assert [n for n, _ in TorchScaled().named_parameters()] == ["scale", "inner.weight", "inner.bias"]


def test_shared_parameters_listed_once():
    shared = nn.Linear(3, 3)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]


def test_children_and_modules():
    net = Net()
    assert [n for n, _ in net.named_children()] == ["fc1", "bn", "head"]
    assert list(net.children()) == [net.fc1, net.bn, net.head]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "bn", "head", "head.0", "head.1", "head.2"]
    assert list(net.modules())[0] is net and len(list(net.modules())) == 7


def test_train_and_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError):
        net.train("no")


def test_zero_grad_sets_none(rng):
    net = Net()
    net(_x(rng)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_state_dict_round_trip_gives_identical_outputs(rng):
    net = Net()
    for _ in range(3):
        net(_x(rng))  # move BatchNorm's running statistics
    net.eval()
    state = {k: backend.to_numpy(v).copy() for k, v in net.state_dict().items()}
    fresh = Net()
    result = fresh.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    fresh.eval()
    x = _x(rng)
    numpy.testing.assert_array_equal(fresh(x).numpy(), net(x).numpy())
    assert int(fresh.bn.num_batches_tracked.item()) == 3
    state["fc1.weight"][...] = 0  # the fresh model holds copies
    assert (fresh.fc1.weight.numpy() != 0).any()


def test_load_converts_dtype_and_keeps_parameter_objects():
    net = nn.Linear(2, 2)
    weight = net.weight
    net.load_state_dict({"weight": numpy.ones((2, 2)), "bias": Tensor(numpy.zeros(2))})
    assert net.weight is weight and net.weight.dtype == numpy.float32
    numpy.testing.assert_array_equal(net.weight.numpy(), numpy.ones((2, 2)))


def test_strict_loading_lists_every_problem_and_copies_nothing():
    net = Net()
    state = {k: backend.to_numpy(v).copy() for k, v in Net().state_dict().items()}
    del state["bn.running_var"], state["head.2.bias"]
    state["extra.weight"] = numpy.zeros(3)
    state["fc1.weight"] = numpy.zeros((5, 7))
    before = net.fc1.bias.numpy()
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    for piece in ('"bn.running_var"', '"head.2.bias"', '"extra.weight"', "size mismatch for fc1.weight",
                  "(5, 7)", "(5, 4)", "Net"):
        assert piece in message
    numpy.testing.assert_array_equal(net.fc1.bias.numpy(), before)


def test_non_strict_loading_reports_keys_but_not_shapes():
    net = Net()
    state = {"fc1.bias": numpy.arange(5.0), "unknown": numpy.zeros(1)}
    result = net.load_state_dict(state, strict=False)
    assert result.unexpected_keys == ["unknown"]
    assert "bn.running_mean" in result.missing_keys and "fc1.bias" not in result.missing_keys
    numpy.testing.assert_array_equal(net.fc1.bias.numpy(), numpy.arange(5.0))
    with pytest.raises(RuntimeError, match="size mismatch"):
        net.load_state_dict({"fc1.bias": numpy.zeros(4)}, strict=False)


def test_to_keeps_parameter_objects_and_returns_self():
    net = Net()
    params = list(net.parameters())
    assert net.to("numpy") is net and net.to("cpu") is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    with pytest.raises(ValueError, match="numpy"):
        net.to("tpu")


def test_to_cupy_and_back(rng):
    try:
        backend.use("cupy")
    except backend.BackendError as error:
        pytest.skip(str(error))
    backend.use("numpy")
    net = Net()
    params = list(net.parameters())
    x = _x(rng)
    expected = net.eval()(x).numpy()
    net.to("cupy")
    assert all(backend.backend_of(v) == "cupy" for v in net.state_dict().values())
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    backend.use("cupy")
    try:
        numpy.testing.assert_allclose(net(Tensor(backend.asarray(x.numpy()))).numpy(), expected, rtol=1e-5, atol=1e-6)
    finally:
        backend.use("numpy")
    net.to("numpy")
    assert all(backend.backend_of(v) == "numpy" for v in net.state_dict().values())


def test_double_converts_floats_only():
    net = Net().double()
    assert all(p.dtype == numpy.float64 for p in net.parameters())
    assert net.bn.running_mean.dtype == numpy.float64 and net.bn.num_batches_tracked.dtype == numpy.int64
    assert all(p.dtype == numpy.float32 for p in net.float().parameters())


def test_assignment_rules():
    net = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="Parameter"):
        net.weight = numpy.zeros((2, 2))
    net.bias = None
    assert [n for n, _ in net.named_parameters()] == ["weight"]

    class Early(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Early()
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        net.nothing


def test_deepcopy_is_independent():
    net = Net()
    twin = copy.deepcopy(net)
    twin.fc1.weight.data[...] = 0
    assert (net.fc1.weight.numpy() != 0).any()
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_apply_visits_every_module():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear", "Sequential", "Net"]


def test_sequential_indexing_slicing_and_append(rng):
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert len(net) == 3 and isinstance(net[1], nn.ReLU) and net[-1] is net[2]
    assert [type(m).__name__ for m in net] == ["Linear", "ReLU", "Linear"]
    head = net[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is net[2]
    x = _x(rng)
    numpy.testing.assert_allclose(net(x).numpy(), head(net[0](x)).numpy())
    net.append(nn.Sigmoid())
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"] and len(net) == 4
    with pytest.raises(IndexError, match="out of range"):
        net[4]


def test_concat_joins_branches_on_channels(rng):
    block = nn.Concat(nn.Linear(4, 2), nn.Identity(), nn.Linear(4, 3))
    x = _x(rng)
    out = block(x).numpy()
    assert out.shape == (6, 9)
    numpy.testing.assert_allclose(out[:, :2], block[0](x).numpy())
    numpy.testing.assert_array_equal(out[:, 2:6], x.numpy())
    assert list(block.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_repr_tree_by_hand():
    net = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.ReLU()))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=4, out_features=3, bias=True)\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "  )\n"
        ")"
    )


def test_repr_matches_torch():
    torch = pytest.importorskip("torch")
    assert repr(Net()).replace("Net", "TorchNet") == repr(_torch_net(torch)).replace("Dropout(p=0.5, inplace=False)",
                                                                                   "Dropout(p=0.5)")
