"""The optimiser base class: parameter groups, per-parameter state, and saving both.

An optimiser holds the model's parameters in *groups* (each group a dict with its
own ``lr`` and other settings, e.g. no weight decay for biases) and, for every
parameter, a small *state* dict (a momentum buffer, Adam's moment estimates).
State is keyed by the parameter's position in the groups, counted from 0 across
all groups, which is also how PyTorch numbers it in ``state_dict()``.
Idea: d2l §12.4–12.10 (optimisation algorithms); layout after ``torch.optim.Optimizer``.
"""
from .. import backend
from ..autograd import Tensor


class Optimizer:
    """Base class: subclasses implement ``step()`` with their update rule (d2l §12.4).

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ...}``
    giving groups with their own settings; a setting missing from a group is taken
    from ``defaults``.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # parameter position -> {"momentum_buffer": array, ...}
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params should be an iterable of Tensors or of dicts, "
                "but got a single Tensor: pass [tensor] or model.parameters()"
            )
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{type(self).__name__} got an empty parameter list: did model.parameters() "
                "find no parameters, or was a generator used up earlier?"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group of parameters (a dict with ``"params"``) with its own settings."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__} can only optimise Tensors, but a parameter group "
                    f"holds a {type(p).__name__}"
                )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params) or len({id(p) for p in params}) != len(params):
            raise ValueError(
                f"{type(self).__name__}: a parameter appears more than once in the parameter "
                "groups; each parameter may belong to one group only"
            )
        self.param_groups.append({**self.defaults, **group, "params": params})

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (``grad = None``, or zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self):
        """Update every parameter that has a gradient; each optimiser defines its rule."""
        raise NotImplementedError(f"{type(self).__name__} does not define step()")

    def _params_with_grad(self):
        """Yield ``(group, parameter, state)`` for every parameter whose ``grad`` is set."""
        position = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield group, p, self.state.setdefault(position, {})
                position += 1

    def state_dict(self):
        """A snapshot of settings and state, PyTorch's layout, ready for ``serialization.save``.

        ``{"state": {position: {name: array or number}}, "param_groups": [{"lr": ...,
        "params": [positions]}]}``; arrays are copies, so later steps do not change it.
        """
        groups, position = [], 0
        for group in self.param_groups:
            positions = list(range(position, position + len(group["params"])))
            settings = {k: v for k, v in group.items() if k != "params"}
            groups.append({**settings, "params": positions})
            position += len(positions)
        state = {
            index: {name: _copy(value) for name, value in entries.items()}
            for index, entries in self.state.items()
            if entries
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore settings and state saved by ``state_dict()`` into this optimiser.

        The groups must hold as many parameters as when saved; state arrays are copied
        onto each parameter's backend and dtype.
        """
        saved_groups = state_dict["param_groups"]
        self._check_group_sizes(saved_groups)
        params = [p for group in self.param_groups for p in group["params"]]
        position_of = {
            index: position
            for position, index in enumerate(i for group in saved_groups for i in group["params"])
        }
        self.state = {}
        for index, entries in state_dict["state"].items():
            if index not in position_of:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: the saved state has an entry for "
                    f"parameter {index!r}, which none of the saved parameter groups lists"
                )
            position = position_of[index]
            self.state[position] = {
                name: _like(value, params[position]) for name, value in entries.items()
            }
        self.param_groups = [
            {**{k: v for k, v in saved.items() if k != "params"}, "params": current["params"]}
            for saved, current in zip(saved_groups, self.param_groups)
        ]

    def _check_group_sizes(self, saved_groups):
        """Raise a clear error when a saved state does not fit these parameter groups."""
        saved = [len(group["params"]) for group in saved_groups]
        current = [len(group["params"]) for group in self.param_groups]
        if saved != current:
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved state has parameter groups "
                f"of sizes {saved} but this optimiser has {current}: was it saved from a "
                "different model or with different parameter groups?"
            )

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _copy(value):
    """A copy of a state entry: arrays are copied, numbers are immutable already."""
    return value.copy() if hasattr(value, "shape") else value


def _like(value, param):
    """A state entry moved to ``param``'s backend; floating arrays take its dtype too."""
    if not hasattr(value, "shape"):
        return value
    if backend.backend_of(value) != backend.backend_of(param.data):
        value = backend.to_numpy(value)
    xp = backend.get_array_module(param.data)
    dtype = param.data.dtype if value.dtype.kind == "f" else value.dtype
    return xp.array(value, dtype=dtype)
