"""Optimisers: updates equal hand-computed ones and PyTorch's; dtype, state and groups behave."""
import math

import numpy
import pytest

from minicnn import backend, serialization
from minicnn.autograd import Tensor
from minicnn.optim import SGD, Adam, AdamW


def make_param(values, dtype=numpy.float64):
    return Tensor(numpy.array(values, dtype=dtype), requires_grad=True)


def run_steps(optimizer, param, grads):
    """Feed ``grads`` one at a time and return the parameter's value after each step."""
    history = []
    for grad in grads:
        param.grad = numpy.array(grad, dtype=param.dtype)
        optimizer.step()
        history.append(param.data.copy())
    return history


GRADS = [[0.5, -1.0], [0.25, 2.0], [-1.5, 0.5]]


# -- SGD against the formulas, worked by hand --------------------------------------------------

def test_sgd_plain_step_is_w_minus_lr_times_grad():
    p = make_param([1.0, 2.0])
    history = run_steps(SGD([p], lr=0.1), p, GRADS[:2])
    numpy.testing.assert_allclose(history[0], [1.0 - 0.05, 2.0 + 0.1], rtol=1e-15)
    numpy.testing.assert_allclose(history[1], [0.95 - 0.025, 2.1 - 0.2], rtol=1e-15)


def test_sgd_momentum_with_dampening_starts_buffer_at_first_grad():
    p = make_param([1.0, 2.0])
    history = run_steps(SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, GRADS)
    g1, g2, g3 = (numpy.array(g) for g in GRADS)
    b1 = g1                       # first step: the buffer is the gradient itself, undampened
    b2 = 0.9 * b1 + 0.5 * g2
    b3 = 0.9 * b2 + 0.5 * g3
    w0 = numpy.array([1.0, 2.0])
    numpy.testing.assert_allclose(history[0], w0 - 0.1 * b1, rtol=1e-14)
    numpy.testing.assert_allclose(history[1], w0 - 0.1 * b1 - 0.1 * b2, rtol=1e-14)
    numpy.testing.assert_allclose(history[2], w0 - 0.1 * (b1 + b2 + b3), rtol=1e-14)


def test_sgd_nesterov_looks_ahead_along_the_buffer():
    p = make_param([1.0, 2.0])
    history = run_steps(SGD([p], lr=0.1, momentum=0.9, nesterov=True), p, GRADS[:2])
    g1, g2 = (numpy.array(g) for g in GRADS[:2])
    b2 = 0.9 * g1 + g2
    w1 = numpy.array([1.0, 2.0]) - 0.1 * (g1 + 0.9 * g1)
    numpy.testing.assert_allclose(history[0], w1, rtol=1e-14)
    numpy.testing.assert_allclose(history[1], w1 - 0.1 * (g2 + 0.9 * b2), rtol=1e-14)


def test_sgd_weight_decay_adds_lambda_w_to_the_gradient():
    p = make_param([1.0, -2.0])
    history = run_steps(SGD([p], lr=0.1, weight_decay=0.01), p, [[0.0, 0.0], [1.0, 1.0]])
    w1 = numpy.array([1.0, -2.0]) * (1 - 0.1 * 0.01)
    numpy.testing.assert_allclose(history[0], w1, rtol=1e-15)
    numpy.testing.assert_allclose(history[1], w1 - 0.1 * (1.0 + 0.01 * w1), rtol=1e-15)


@pytest.mark.parametrize("kwargs", [dict(momentum=0, nesterov=True),
                                    dict(momentum=0.9, dampening=0.1, nesterov=True)])
def test_sgd_nesterov_without_momentum_or_with_dampening_is_refused(kwargs):
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        SGD([make_param([1.0])], lr=0.1, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(lr=-1.0), dict(lr=0.1, momentum=-0.5),
                                    dict(lr=0.1, weight_decay=-1e-4)])
def test_sgd_negative_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="SGD: invalid"):
        SGD([make_param([1.0])], **kwargs)


# -- Adam and AdamW against the paper's formulas ------------------------------------------------

def adam_reference(w, grads, lr, betas, eps, weight_decay=0.0, decoupled=False, amsgrad=False):
    """Kingma & Ba's Algorithm 1, with L2 or decoupled decay and AMSGrad, written plainly."""
    w = numpy.array(w, dtype=numpy.float64)
    m, v, v_max, history = 0 * w, 0 * w, 0 * w, []
    for t, g in enumerate(grads, start=1):
        g = numpy.array(g, dtype=numpy.float64)
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = betas[0] * m + (1 - betas[0]) * g
        v = betas[1] * v + (1 - betas[1]) * g * g
        v_max = numpy.maximum(v_max, v)
        m_hat = m / (1 - betas[0] ** t)
        v_hat = (v_max if amsgrad else v) / (1 - betas[1] ** t)
        w = w - lr * m_hat / (numpy.sqrt(v_hat) + eps)
        history.append(w)
    return history


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(weight_decay=0.1),
    dict(amsgrad=True),
    dict(betas=(0.5, 0.9), eps=1e-3, weight_decay=0.05, amsgrad=True),
])
def test_adam_matches_the_paper_formulas(kwargs):
    grads = GRADS + [[0.01, -0.02]]  # a small last gradient makes AMSGrad's max matter
    p = make_param([1.0, 2.0])
    history = run_steps(Adam([p], lr=0.1, **kwargs), p, grads)
    ref = adam_reference([1.0, 2.0], grads, 0.1, kwargs.get("betas", (0.9, 0.999)),
                         kwargs.get("eps", 1e-8), kwargs.get("weight_decay", 0.0),
                         amsgrad=kwargs.get("amsgrad", False))
    numpy.testing.assert_allclose(history, ref, rtol=1e-12)


def test_adam_first_step_has_size_lr_whatever_the_gradient_scale():
    # bias correction: m̂ = g and v̂ = g² after one step, so the step is lr·g/|g| = lr·sign(g)
    p = make_param([0.0, 0.0, 0.0])
    p.grad = numpy.array([1e-3, -50.0, 7.0])
    Adam([p], lr=0.01).step()
    numpy.testing.assert_allclose(p.data, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_adamw_decays_the_weights_not_the_gradient():
    # with a zero gradient Adam's moments stay 0, so AdamW's step is exactly w·(1 − lr·λ)
    w0 = [1.0, -3.0]
    p, q = make_param(w0), make_param(w0)
    run_steps(AdamW([p], lr=0.1, weight_decay=0.5), p, [[0.0, 0.0]])
    run_steps(Adam([q], lr=0.1, weight_decay=0.5), q, [[0.0, 0.0]])
    numpy.testing.assert_allclose(p.data, numpy.array(w0) * (1 - 0.1 * 0.5), rtol=1e-15)
    # plain Adam puts λ·w into the gradient instead: a full-size first step against sign(w)
    numpy.testing.assert_allclose(q.data, numpy.array(w0) - 0.1 * numpy.sign(w0), rtol=1e-6)


def test_adamw_matches_the_decoupled_formulas():
    p = make_param([1.0, 2.0])
    history = run_steps(AdamW([p], lr=0.1, weight_decay=0.2, amsgrad=True), p, GRADS)
    ref = adam_reference([1.0, 2.0], GRADS, 0.1, (0.9, 0.999), 1e-8, 0.2, decoupled=True, amsgrad=True)
    numpy.testing.assert_allclose(history, ref, rtol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(lr=-0.1), dict(eps=-1.0), dict(betas=(1.0, 0.999)),
                                    dict(betas=(0.9, -0.1)), dict(weight_decay=-0.1)])
def test_adam_invalid_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="Adam: invalid"):
        Adam([make_param([1.0])], **kwargs)


# -- PyTorch as the oracle ------------------------------------------------------------------

TORCH_CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
]


def run_both(name, kwargs, dtype, steps=6):
    """Run minicnn's and torch's optimiser side by side on two parameters; return both values."""
    torch = pytest.importorskip("torch")
    rng = numpy.random.default_rng(7)
    starts = [rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal(5).astype(dtype)]
    ours = [Tensor(w.copy(), requires_grad=True) for w in starts]
    theirs = [torch.tensor(w.copy(), requires_grad=True) for w in starts]
    our_opt = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}[name](ours, **kwargs)
    their_opt = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(steps):
        for p, t in zip(ours, theirs):
            grad = rng.standard_normal(p.shape).astype(dtype)
            p.grad, t.grad = grad, torch.tensor(grad.copy())
        our_opt.step()
        their_opt.step()
    return [p.data for p in ours], [t.detach().numpy() for t in theirs]


@pytest.mark.parametrize("name, kwargs", TORCH_CASES)
def test_updates_equal_torch_in_float64(name, kwargs):
    ours, theirs = run_both(name, kwargs, numpy.float64)
    for a, b in zip(ours, theirs):
        numpy.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name, kwargs", TORCH_CASES)
def test_updates_equal_torch_in_float32(name, kwargs):
    ours, theirs = run_both(name, kwargs, numpy.float32)
    for a, b in zip(ours, theirs):
        assert a.dtype == numpy.float32
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# -- dtype, in-place updates, state, groups ----------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True),
    lambda ps: Adam(ps, lr=0.1, weight_decay=1e-3, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.1),
])
def test_float32_stays_float32_and_arrays_are_updated_in_place(make, xp):
    p = Tensor(xp.ones((2, 3), dtype=xp.float32), requires_grad=True)
    array = p.data
    optimizer = make([p])
    for _ in range(3):
        p.grad = xp.full((2, 3), 0.5, dtype=xp.float32)
        optimizer.step()
    assert p.data is array
    assert p.data.dtype == xp.float32
    assert float(p.data[0, 0]) < 1.0
    for value in optimizer.state[0].values():
        assert not hasattr(value, "dtype") or value.dtype == xp.float32


def test_parameters_without_grad_are_skipped_and_get_no_state():
    used, unused = make_param([1.0]), make_param([5.0])
    optimizer = Adam([used, unused], lr=0.1)
    used.grad = numpy.array([1.0])
    optimizer.step()
    assert unused.data[0] == 5.0
    assert list(optimizer.state_dict()["state"]) == [0]


def test_zero_grad_sets_every_grad_to_none():
    a, b = make_param([1.0]), make_param([2.0])
    a.grad, b.grad = numpy.array([1.0]), numpy.array([2.0])
    optimizer = SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    optimizer.zero_grad()
    assert a.grad is None and b.grad is None


def test_param_groups_take_their_own_lr_and_inherit_the_rest():
    fast, slow = make_param([0.0]), make_param([0.0])
    optimizer = SGD([{"params": [fast]}, {"params": [slow], "lr": 0.01}], lr=1.0, momentum=0.5)
    assert [g["lr"] for g in optimizer.param_groups] == [1.0, 0.01]
    assert [g["momentum"] for g in optimizer.param_groups] == [0.5, 0.5]
    fast.grad, slow.grad = numpy.array([1.0]), numpy.array([1.0])
    optimizer.step()
    assert fast.data[0] == -1.0 and slow.data[0] == -0.01


def test_param_groups_equal_torch():
    torch = pytest.importorskip("torch")
    values = [numpy.array([1.0, -1.0]), numpy.array([2.0, 3.0])]
    ours = [Tensor(v.copy(), requires_grad=True) for v in values]
    theirs = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.3, "weight_decay": 0.1}]
    our_opt, their_opt = Adam(groups(ours), lr=0.05), torch.optim.Adam(groups(theirs), lr=0.05)
    for step in range(4):
        for p, t in zip(ours, theirs):
            grad = numpy.array([math.sin(step + 1.0), math.cos(step + 2.0)])
            p.grad, t.grad = grad, torch.tensor(grad)
        our_opt.step()
        their_opt.step()
    for p, t in zip(ours, theirs):
        numpy.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
    lambda ps: Adam([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.01}], lr=0.1, amsgrad=True),
    lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1),
])
def test_state_dict_saved_to_npz_resumes_identically(make, tmp_path):
    rng = numpy.random.default_rng(3)
    grads = [[rng.standard_normal(3), rng.standard_normal(2)] for _ in range(6)]
    straight = [make_param([1.0, 2.0, 3.0]), make_param([-1.0, 0.5])]
    opt = make(straight)
    for step_grads in grads:
        for p, g in zip(straight, step_grads):
            p.grad = g
        opt.step()

    first = [make_param([1.0, 2.0, 3.0]), make_param([-1.0, 0.5])]
    opt = make(first)
    for step_grads in grads[:3]:
        for p, g in zip(first, step_grads):
            p.grad = g
        opt.step()
    serialization.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt.npz")

    resumed = [make_param(p.data.copy()) for p in first]
    opt = make(resumed)
    opt.load_state_dict(serialization.load(tmp_path / "ckpt.npz")["optimizer"])
    for step_grads in grads[3:]:
        for p, g in zip(resumed, step_grads):
            p.grad = g
        opt.step()
    for a, b in zip(resumed, straight):
        numpy.testing.assert_array_equal(a.data, b.data)


def test_state_dict_is_a_snapshot_in_torch_layout():
    p = make_param([1.0, 2.0])
    optimizer = SGD([p], lr=0.1, momentum=0.9)
    p.grad = numpy.array([1.0, 1.0])
    optimizer.step()
    saved = optimizer.state_dict()
    optimizer.step()
    numpy.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], [1.0, 1.0])
    assert saved["param_groups"][0]["params"] == [0]
    assert saved["param_groups"][0]["lr"] == 0.1


def test_loaded_state_takes_the_parameters_dtype_and_backend(xp):
    source = make_param([1.0, 2.0])
    optimizer = Adam([source], lr=0.1)
    source.grad = numpy.array([0.5, 0.5])
    optimizer.step()
    target = Tensor(xp.ones(2, dtype=xp.float32), requires_grad=True)
    resumed = Adam([target], lr=0.1)
    resumed.load_state_dict(optimizer.state_dict())
    exp_avg = resumed.state[0]["exp_avg"]
    assert backend.backend_of(exp_avg) == backend.backend_of(target.data)
    assert exp_avg.dtype == xp.float32 and resumed.state[0]["step"] == 1


def test_load_state_dict_with_other_group_sizes_is_refused():
    optimizer = SGD([make_param([1.0]), make_param([2.0])], lr=0.1)
    other = SGD([make_param([1.0])], lr=0.1)
    with pytest.raises(ValueError, match=r"sizes \[2\] but this optimiser has \[1\]"):
        other.load_state_dict(optimizer.state_dict())


def test_bad_parameter_lists_are_refused_clearly():
    p = make_param([1.0])
    with pytest.raises(TypeError, match="single Tensor"):
        SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="only optimise Tensors"):
        SGD([numpy.zeros(2)], lr=0.1)
