"""Adam and AdamW: steps scaled by running estimates of the gradient's first two moments.

With gradient g, step count t, learning rate η and weight decay λ, one step is
    g ← g + λ·w                   (Adam: L2 decay added to the gradient)
    w ← w·(1 − η·λ)               (AdamW instead: decay applied to the weights, decoupled)
    m ← β1·m + (1 − β1)·g         (first moment; computed as m + (1 − β1)(g − m), torch's lerp)
    v ← β2·v + (1 − β2)·g²        (second moment; AMSGrad keeps v̂ = max(v̂, v) and uses v̂)
    w ← w − η/(1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + ε)   (bias-corrected, in PyTorch's order)
Idea: Kingma & Ba 2015 (Adam); Loshchilov & Hutter 2019 (AdamW); Reddi et al. 2018 (AMSGrad);
d2l §12.10.
"""
import math

from .. import backend
from .optimizer import Optimizer


class Adam(Optimizer):
    """Adam with bias correction, L2 weight decay and AMSGrad (Kingma & Ba 2015; d2l §12.10)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, decoupled_weight_decay=False):
        name = type(self).__name__
        if lr < 0:
            raise ValueError(f"{name}: invalid learning rate {lr}: it must be >= 0")
        if eps < 0:
            raise ValueError(f"{name}: invalid eps {eps}: it must be >= 0")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: invalid betas[{i}] = {beta}: it must be in [0, 1)")
        if weight_decay < 0:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay}: it must be >= 0")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self):
        """Apply one Adam update, in place, to every parameter that has a gradient."""
        for group, p, state in self._params_with_grad():
            if not state:
                self._init_state(state, p, group["amsgrad"])
            state["step"] += 1
            self._update(p, self._decayed_grad(p, group), state, group)

    @staticmethod
    def _decayed_grad(p, group):
        """The gradient with L2 decay added (Adam), or the weights shrunk in place (AdamW)."""
        lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
        if weight_decay == 0:
            return p.grad
        if group["decoupled_weight_decay"]:
            p.data *= 1 - lr * weight_decay
            return p.grad
        return p.grad + weight_decay * p.data

    @staticmethod
    def _update(p, grad, state, group):
        """Update the moment estimates and take the bias-corrected step."""
        xp = backend.get_array_module(p.data)
        beta1, beta2 = (float(b) for b in group["betas"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg += (1 - beta1) * (grad - exp_avg)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        step_size = float(group["lr"]) / (1 - beta1 ** state["step"])
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** state["step"])
        denom = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt + float(group["eps"])
        p.data -= step_size * exp_avg / denom

    @staticmethod
    def _init_state(state, p, amsgrad):
        """Zero moment estimates in the parameter's dtype, and a step count of 0."""
        xp = backend.get_array_module(p.data)
        state["step"] = 0
        state["exp_avg"] = xp.zeros_like(p.data)
        state["exp_avg_sq"] = xp.zeros_like(p.data)
        if amsgrad:
            state["max_exp_avg_sq"] = xp.zeros_like(p.data)


class AdamW(Adam):
    """Adam with decoupled weight decay ``w ← w·(1 − η·λ)`` (Loshchilov & Hutter 2019)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True)

