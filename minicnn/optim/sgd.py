"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

With gradient g, weight decay λ, momentum μ, dampening τ and learning rate η, one step is
    g ← g + λ·w                                   (L2 weight decay)
    b ← g on the first step, else b ← μ·b + (1 − τ)·g   (the momentum buffer)
    g ← g + μ·b with Nesterov, else g ← b
    w ← w − η·g
exactly PyTorch's rule (its buffer starts at the first gradient, not at zero).
Idea: d2l §12.4 (SGD) and §12.6 (momentum); Sutskever et al. 2013 for Nesterov.
"""
from .. import kernels
from .optimizer import Optimizer


class SGD(Optimizer):
    """SGD with momentum, dampening, Nesterov momentum and weight decay (d2l §12.4, §12.6)."""

    def __init__(self, params, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0:
            raise ValueError(f"SGD: invalid learning rate {lr}: it must be >= 0")
        if momentum < 0:
            raise ValueError(f"SGD: invalid momentum {momentum}: it must be >= 0")
        if weight_decay < 0:
            raise ValueError(f"SGD: invalid weight_decay {weight_decay}: it must be >= 0")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum and zero dampening "
                f"(got momentum={momentum}, dampening={dampening})"
            )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def step(self):
        """Apply one SGD update, in place, to every parameter that has a gradient."""
        fused = {}
        for group, p, state in self._params_with_grad():
            lr, momentum = float(group["lr"]), float(group["momentum"])
            weight_decay, dampening = float(group["weight_decay"]), float(group["dampening"])
            fast = _fused_step(fused, p.data, p.grad)
            if fast:
                buf = fast(p.data, p.grad, state.get("momentum_buffer"), lr, momentum, dampening,
                           weight_decay, group["nesterov"])
                if buf is not None:
                    state["momentum_buffer"] = buf
                continue
            grad = p.grad
            if weight_decay != 0:
                grad = grad + weight_decay * p.data
            if momentum != 0:
                grad = self._momentum(state, grad, momentum, dampening, group["nesterov"], p)
            p.data -= lr * grad

    @staticmethod
    def _momentum(state, grad, momentum, dampening, nesterov, p):
        """Update the momentum buffer and return the direction to step along."""
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = grad.astype(p.data.dtype, copy=True)
        else:
            buf *= momentum
            buf += (1 - dampening) * grad
        return grad + momentum * buf if nesterov else buf


def _fused_step(cache, weight, grad):
    """The face's one-pass update of this rule for these arrays (``kernels.fused``: one kernel per
    parameter on the GPU), or None; asked once per kind of array in a step, not per parameter."""
    kind = (type(weight), weight.dtype, type(grad), grad.dtype)
    if kind not in cache:
        cache[kind] = kernels.fused("sgd_step", weight, grad)
    return cache[kind]
