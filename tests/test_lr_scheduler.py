"""Learning-rate schedules: values equal hand-worked ones and PyTorch's, and resume exactly."""
import math
import warnings

import numpy
import pytest

from minicnn import serialization
from minicnn.autograd import Tensor
from minicnn.optim import SGD, lr_scheduler


def make_optimizer(lrs=(1.0,)):
    """An SGD optimiser with one parameter group per learning rate."""
    groups = [{"params": [Tensor(numpy.zeros(1), requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def schedule(scheduler, epochs):
    """Learning rates of every group for epochs 0..epochs-1 (epoch 0 is set on construction)."""
    values = [scheduler.get_last_lr()]
    for _ in range(epochs - 1):
        scheduler.optimizer.step()
        scheduler.step()
        values.append(scheduler.get_last_lr())
    return values


def first_group(values):
    return [lrs[0] for lrs in values]


# -- against values worked out by hand ------------------------------------------------------------

def test_step_lr_halves_every_two_epochs():
    optimizer = make_optimizer()
    values = first_group(schedule(lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5), 7))
    assert values == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    assert optimizer.param_groups[0]["lr"] == 0.125


def test_multistep_lr_decays_at_each_milestone_and_twice_at_a_repeated_one():
    sched = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[4, 2, 4], gamma=0.1)
    values = first_group(schedule(sched, 6))
    assert values == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.001, 0.001], rel=1e-12)


def test_cosine_follows_the_closed_form_down_and_back_up():
    sched = lr_scheduler.CosineAnnealingLR(make_optimizer([0.5]), T_max=4, eta_min=0.1)
    values = first_group(schedule(sched, 11))
    expected = [0.1 + 0.4 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(11)]
    assert values == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert values[4] == pytest.approx(0.1) and values[8] == pytest.approx(0.5)


def test_linear_lr_warms_up_then_holds():
    sched = lr_scheduler.LinearLR(make_optimizer([0.4]), start_factor=0.25, total_iters=3)
    values = first_group(schedule(sched, 6))
    assert values == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4], rel=1e-12)


def test_warm_up_then_cosine_with_sequential_lr():
    optimizer = make_optimizer([0.8])
    warm = lr_scheduler.LinearLR(optimizer, start_factor=0.25, total_iters=3)
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    sched = lr_scheduler.SequentialLR(optimizer, [warm, cosine], milestones=[3])
    values = first_group(schedule(sched, 8))
    expected = [0.2, 0.4, 0.6] + [0.8 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)]
    assert values == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_each_group_is_scheduled_from_its_own_rate():
    sched = lr_scheduler.StepLR(make_optimizer([1.0, 0.1]), step_size=1, gamma=0.5)
    numpy.testing.assert_allclose(schedule(sched, 3), [[1.0, 0.1], [0.5, 0.05], [0.25, 0.025]], rtol=1e-15)
    assert sched.base_lrs == [1.0, 0.1]


# -- PyTorch as the oracle ------------------------------------------------------------------

def build(lib, optimizer, name):
    """The same schedule from minicnn's or torch's lr_scheduler module."""
    builders = {
        "step": lambda: lib.StepLR(optimizer, step_size=3, gamma=0.3),
        "multistep": lambda: lib.MultiStepLR(optimizer, milestones=[2, 5, 5, 9], gamma=0.5),
        "cosine": lambda: lib.CosineAnnealingLR(optimizer, T_max=7, eta_min=1e-3),
        "linear": lambda: lib.LinearLR(optimizer, start_factor=0.1, end_factor=0.9, total_iters=6),
        "warmup_cosine": lambda: lib.SequentialLR(
            optimizer,
            [lib.LinearLR(optimizer, start_factor=0.01, total_iters=4),
             lib.CosineAnnealingLR(optimizer, T_max=10, eta_min=1e-4)],
            milestones=[4]),
        "three_phases": lambda: lib.SequentialLR(
            optimizer,
            [lib.LinearLR(optimizer, total_iters=3), lib.StepLR(optimizer, step_size=2),
             lib.CosineAnnealingLR(optimizer, T_max=5)],
            milestones=[3, 8]),
    }
    return builders[name]()


@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "linear", "warmup_cosine", "three_phases"])
def test_schedules_equal_torch(name):
    torch = pytest.importorskip("torch")
    lrs = (0.1, 0.03)
    ours = build(lr_scheduler, make_optimizer(lrs), name)
    params = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    their_optimizer = torch.optim.SGD(params, lr=lrs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "step order" warnings do not matter here
        theirs = build(torch.optim.lr_scheduler, their_optimizer, name)
        assert schedule(ours, 25) == schedule(theirs, 25)


# -- state_dict ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "linear", "warmup_cosine", "three_phases"])
def test_state_dict_saved_to_npz_resumes_identically(name, tmp_path):
    straight = schedule(build(lr_scheduler, make_optimizer([0.1, 0.02]), name), 20)

    optimizer = make_optimizer([0.1, 0.02])
    sched = build(lr_scheduler, optimizer, name)
    before = schedule(sched, 8)
    serialization.save({"optimizer": optimizer.state_dict(), "scheduler": sched.state_dict()},
                       tmp_path / "ckpt.npz")

    checkpoint = serialization.load(tmp_path / "ckpt.npz")
    optimizer = make_optimizer([0.1, 0.02])
    sched = build(lr_scheduler, optimizer, name)
    optimizer.load_state_dict(checkpoint["optimizer"])
    sched.load_state_dict(checkpoint["scheduler"])
    after = schedule(sched, 13)  # its first entry repeats epoch 7, the last one saved
    assert before + after[1:] == straight


def test_state_dict_holds_plain_values_and_no_optimizer():
    sched = lr_scheduler.MultiStepLR(make_optimizer(), milestones=[3, 1])
    state = sched.state_dict()
    assert "optimizer" not in state
    assert state["milestones"] == [1, 3] and state["last_epoch"] == 0 and state["base_lrs"] == [1.0]


# -- errors ---------------------------------------------------------------------------------------

def test_sequential_lr_needs_one_milestone_less_than_schedulers():
    optimizer = make_optimizer()
    first, second = lr_scheduler.LinearLR(optimizer), lr_scheduler.StepLR(optimizer, 2)
    with pytest.raises(ValueError, match="2 schedulers need 1 milestones"):
        lr_scheduler.SequentialLR(optimizer, [first, second], milestones=[2, 4])


def test_sequential_lr_refuses_a_schedule_of_another_optimizer():
    optimizer = make_optimizer()
    other = lr_scheduler.StepLR(make_optimizer(), 2)
    with pytest.raises(ValueError, match="different optimiser"):
        lr_scheduler.SequentialLR(optimizer, [lr_scheduler.LinearLR(optimizer), other], milestones=[2])


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(make_optimizer(), step_size=2, last_epoch=4)


def test_scheduler_needs_a_minicnn_optimizer():
    with pytest.raises(TypeError, match="needs a minicnn Optimizer"):
        lr_scheduler.StepLR(object(), step_size=2)
