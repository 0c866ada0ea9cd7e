"""Learning-rate schedules: step decay, cosine annealing, linear warm-up, and chaining them.

A scheduler rewrites ``group["lr"]`` of its optimiser each time ``step()`` is called
(once per epoch, or once per batch, after ``optimizer.step()``). Like PyTorch, most
rules are *chainable*: they compute the next rate from the current one, so the numbers
here equal ``torch.optim.lr_scheduler``'s for the same sequence of calls. When
SequentialLR hands over to the next schedule it restarts it with the closed form.
Idea: d2l §12.11 (learning-rate scheduling); Loshchilov & Hutter 2017 (SGDR) for cosine.
"""
import bisect
import math

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses give ``get_lr()`` and ``_closed_form_lr()`` (d2l §12.11).

    On construction each group's starting rate is remembered as ``initial_lr`` (kept in
    ``base_lrs``) and the schedule takes its first step, setting the epoch-0 rate.
    ``last_epoch`` other than -1 resumes a schedule whose groups already hold ``initial_lr``.
    """

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__} needs a minicnn Optimizer, got {type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(
                    f"{type(self).__name__}(last_epoch={last_epoch}): param_groups[{i}] has no "
                    "'initial_lr'; resuming needs the optimiser's state loaded first "
                    "(or use last_epoch=-1 for a fresh schedule)"
                )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Take the construction-time step (epoch 0), during which chainable rules keep the rate."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self):
        """Advance one epoch (or batch) and write the new rates into the optimiser's groups."""
        self._step_count += 1
        self.last_epoch += 1
        self._set_lrs(self.get_lr())

    def _restart(self):
        """Jump to epoch 0 with the closed form (how SequentialLR switches to this schedule)."""
        self.last_epoch = 0
        self._set_lrs(self._closed_form_lr())

    def _set_lrs(self, lrs):
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self):
        """The rates for epoch ``last_epoch``, one per parameter group."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def _closed_form_lr(self):
        raise NotImplementedError(f"{type(self).__name__} has no closed form")

    def get_last_lr(self):
        """The rates set by the latest ``step()``, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self):
        """Everything but the optimiser, as plain numbers and lists (saves to ``.npz``)."""
        skip = ("optimizer", "_is_initial")
        return {k: _plain(v) for k, v in vars(self).items() if k not in skip}

    def load_state_dict(self, state_dict):
        """Restore a state saved by ``state_dict()``."""
        self.__dict__.update({k: _plain(v) for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` epochs (d2l §12.11.2)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive epoch count, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _closed_form_lr(self):
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each epoch listed in ``milestones`` (d2l §12.11.3)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = sorted(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        hits = self.milestones.count(self.last_epoch)  # a milestone listed twice decays twice
        if hits == 0:
            return self._current_lrs()
        return [lr * self.gamma ** hits for lr in self._current_lrs()]

    def _closed_form_lr(self):
        passed = bisect.bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine decay to ``eta_min`` over ``T_max`` epochs (Loshchilov & Hutter 2017; d2l §12.11.4).

    Closed form: ``eta_min + (base - eta_min)·(1 + cos(π·t/T_max))/2``; each step applies
    the ratio of two consecutive values to the current rate, as PyTorch does.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if T_max <= 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive epoch count, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if (t - 1 - t_max) % (2 * t_max) == 0:  # past the minimum the cosine rises: add a step back
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                    for lr, base in zip(self._current_lrs(), self.base_lrs)]
        ratio = (1 + math.cos(math.pi * t / t_max)) / (1 + math.cos(math.pi * (t - 1) / t_max))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _closed_form_lr(self):
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up: scale the rate from ``start_factor`` to ``end_factor`` (Goyal et al. 2017).

    The factor grows over ``total_iters`` steps and then stays; d2l §12.11.5.
    """

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        # factor(t) / factor(t - 1), with factor(t) = start + (end - start)·t / total_iters
        growth = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * growth for lr in self._current_lrs()]

    def _closed_form_lr(self):
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base * factor for base in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run ``schedulers`` in turn, switching at ``milestones``: warm-up then cosine (d2l §12.11.5)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        self._check(optimizer, schedulers, milestones)
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.optimizer = optimizer
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:  # undo the step each took when it was built
            scheduler.last_epoch -= 1
        first = self._schedulers[bisect.bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @staticmethod
    def _check(optimizer, schedulers, milestones):
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler")
        for i, scheduler in enumerate(schedulers):
            if not isinstance(scheduler, LRScheduler) or isinstance(scheduler, SequentialLR):
                raise TypeError(
                    f"SequentialLR: schedulers[{i}] is a {type(scheduler).__name__}, "
                    "not one of the plain schedules"
                )
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR: schedulers[{i}] drives a different optimiser")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"SequentialLR: {len(schedulers)} schedulers need {len(schedulers) - 1} milestones "
                f"(the epochs where the next one takes over), got {len(milestones)}"
            )

    def step(self):
        """Advance one epoch; a schedule that takes over at a milestone starts at its epoch 0."""
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self):
        """Own counters plus every inner schedule's state, under ``"_schedulers"``."""
        own = {k: _plain(v) for k, v in vars(self).items() if k not in ("optimizer", "_schedulers")}
        return {**own, "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict):
        """Restore own counters and every inner schedule's state."""
        inner = state_dict["_schedulers"]
        self.__dict__.update({k: _plain(v) for k, v in state_dict.items() if k != "_schedulers"})
        for scheduler, state in zip(self._schedulers, inner):
            scheduler.load_state_dict(state)


def _plain(value):
    """Lists are copied, so a saved state and the live schedule never share one."""
    return list(value) if isinstance(value, (list, tuple)) else value
