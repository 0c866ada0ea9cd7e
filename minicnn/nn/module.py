"""Module: the base class of every layer and network (d2l §6.1 layers and modules, §6.2, §6.6).

A Module notices what is assigned to it: a Parameter becomes one of its parameters, a
Module one of its children, and ``register_buffer`` adds state that is saved but not
learned (BatchNorm's running statistics). Everything else — listing parameters, train/eval,
state dicts, moving to the GPU — is a walk over that tree, in the order the attributes
were assigned, with PyTorch's names and dotted keys.
"""
from collections import namedtuple

from .. import backend
from ..autograd import Tensor
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_BACKEND_ALIASES = {"cpu": "numpy", "cuda": "cupy", "gpu": "cupy"}


class Module:
    """Base class for layers and networks: subclass it, assign layers in ``__init__``, write ``forward`` (d2l §6.1)."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_modules", {})

    def forward(self, *args, **kwargs):
        """The computation of this module; ``module(x)`` calls it. Every subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(...)")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- registration -------------------------------------------------------------

    def __setattr__(self, name, value):
        if isinstance(value, (Parameter, Module)) and "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: cannot assign {name!r} before Module.__init__() "
                "has run: call super().__init__() first in your __init__"
            )
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
        elif name in self.__dict__.get("_parameters", ()):
            self._check_none(name, value, "a Parameter")
            self._parameters[name] = None
        elif name in self.__dict__.get("_modules", ()):
            self._check_none(name, value, "a Module")
            self._modules[name] = None
        elif name in self.__dict__.get("_buffers", ()):
            self._buffers[name] = _as_buffer(name, value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for store in ("_parameters", "_buffers", "_modules"):
            members = self.__dict__.get(store)
            if members is not None and name in members:
                return members[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def _forget(self, name):
        for store in (self.__dict__, self._parameters, self._buffers, self._modules):
            store.pop(name, None)

    def _check_none(self, name, value, expected):
        if value is not None:
            raise TypeError(
                f"{type(self).__name__}.{name} is registered as {expected}; cannot assign a "
                f"{type(value).__name__} to it ({expected} or None expected)"
            )

    def register_parameter(self, name, param):
        """Add ``param`` (a Parameter, or None for "no such parameter", e.g. bias=False)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got {type(param).__name__}")
        self._forget(name)
        self._parameters[name] = param

    def register_buffer(self, name, tensor):
        """Add state that is saved in ``state_dict`` but not learned (e.g. BatchNorm's running mean)."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot register a buffer before Module.__init__() has run")
        self._forget(name)
        self._buffers[name] = _as_buffer(name, tensor)

    def add_module(self, name, module):
        """Add a child module under ``name`` (the same as assigning ``self.name = module``)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        self._forget(name)
        self._modules[name] = module

    # --- walking the tree ---------------------------------------------------------

    def named_modules(self, memo=None, prefix=""):
        """(dotted name, module) for this module and every descendant, depth first; each module once."""
        memo = set() if memo is None else memo
        if self in memo:
            return
        memo.add(self)
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, _join(prefix, name))

    def modules(self):
        """This module and every descendant, depth first."""
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        """(name, module) for the direct children, in the order they were assigned."""
        seen = set()
        for name, child in self._modules.items():
            if child is not None and child not in seen:
                seen.add(child)
                yield name, child

    def children(self):
        """The direct children, in the order they were assigned."""
        for _, child in self.named_children():
            yield child

    def _named_members(self, store, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, member in getattr(module, store).items():
                if member is not None and id(member) not in seen:
                    seen.add(id(member))
                    yield _join(module_prefix, name), member

    def named_parameters(self, prefix="", recurse=True):
        """(dotted name, Parameter) pairs, e.g. ``("0.weight", ...)``, a shared parameter only once."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        """Every Parameter, in definition order: what an optimiser is given."""
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(self, prefix="", recurse=True):
        """(dotted name, Tensor) for every buffer, e.g. ``("1.running_mean", ...)``."""
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        """Every buffer (saved, not learned)."""
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def apply(self, fn):
        """Call ``fn`` on every descendant and then on this module (e.g. to initialise weights)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # --- modes and gradients ------------------------------------------------------

    def train(self, mode=True):
        """Switch this module and all descendants to training (or, with False, evaluation) mode."""
        if not isinstance(mode, bool):
            raise TypeError(f"train(mode): mode must be True or False, got {mode!r}")
        self.training = mode
        for child in self.children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode: dropout off, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient: ``grad = None``, or zeros with ``set_to_none=False``."""
        for param in self.parameters():
            if set_to_none or param.grad is None:
                param.grad = None
            else:
                param.grad[...] = 0

    # --- state dicts --------------------------------------------------------------

    def state_dict(self, *, destination=None, prefix=""):
        """{dotted name: array} for every parameter and buffer, PyTorch's keys; the arrays are the live ones."""
        state = {} if destination is None else destination
        for store in (self._parameters, self._buffers):
            for name, tensor in store.items():
                if tensor is not None:
                    state[prefix + name] = tensor.data
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination=state, prefix=prefix + name + ".")
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy the arrays of ``state_dict`` into this module's parameters and buffers, in place.

        Values may be arrays of either backend or Tensors; they are converted to each
        parameter's backend and dtype. Any shape mismatch is an error; with ``strict`` a
        missing or unexpected key is too. One error lists every problem, and nothing is
        copied unless all is well. Returns (missing_keys, unexpected_keys).
        """
        own = self.state_dict()
        missing = [key for key in own if key not in state_dict]
        unexpected = [key for key in state_dict if key not in own]
        problems = _describe_mismatches(own, state_dict)
        if strict:
            problems = _describe_keys(missing, unexpected) + problems
        if problems:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(problems)
            )
        for key, target in own.items():
            if key in state_dict:
                target[...] = _move_array(_as_array(state_dict[key]), backend.backend_of(target))
        return IncompatibleKeys(missing, unexpected)

    # --- backends and dtypes ------------------------------------------------------

    def to(self, where):
        """Move every parameter and buffer to ``where``, in place; returns self.

        ``where`` is a backend ("numpy"/"cupy"), a device string ("cpu", "cuda", "cuda:0") or a
        ``minicnn.device``, as d2l's ``net.to(device)`` passes. The Parameter objects stay
        the same, so an optimiser built earlier keeps working.
        """
        name = _BACKEND_ALIASES.get(str(where).split(":")[0], str(where))
        if name not in ("numpy", "cupy"):
            raise ValueError(f"to({where!r}): choose 'numpy' or 'cupy' (or 'cpu'/'cuda', or a minicnn.device)")
        return self._convert(lambda array: _move_array(array, name))

    def cuda(self, device=None):
        """Move every parameter and buffer to the GPU (the CuPy backend), in place."""
        return self.to("cupy")

    def cpu(self):
        """Move every parameter and buffer to the CPU (the NumPy backend), in place."""
        return self.to("numpy")

    def double(self):
        """Make every floating parameter and buffer float64, in place (for gradient checks)."""
        return self._convert(lambda array: _cast_float(array, "float64"))

    def float(self):
        """Make every floating parameter and buffer float32, in place."""
        return self._convert(lambda array: _cast_float(array, "float32"))

    def _convert(self, fn):
        for tensor in list(self.parameters()) + list(self.buffers()):
            tensor.data = fn(tensor.data)
            if tensor.grad is not None:
                tensor.grad = fn(tensor.grad)
        return self

    # --- printing -----------------------------------------------------------------

    def extra_repr(self):
        """The settings shown between the parentheses of this module's repr (override it)."""
        return ""

    def __repr__(self):
        extra_lines = self.extra_repr().split("\n") if self.extra_repr() else []
        child_lines = [
            f"({name}): " + repr(child).replace("\n", "\n  ")
            for name, child in self._modules.items()
        ]
        lines = extra_lines + child_lines
        text = type(self).__name__ + "("
        if len(extra_lines) == 1 and not child_lines:
            text += extra_lines[0]
        elif lines:
            text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


def _join(prefix, name):
    return f"{prefix}.{name}" if prefix else name


def _as_buffer(name, value):
    if value is None or isinstance(value, Tensor):
        return value
    if hasattr(value, "shape"):
        return Tensor(value)
    raise TypeError(f"buffer {name!r} must be a Tensor, an array or None, got {type(value).__name__}")


def _as_array(value):
    if isinstance(value, Tensor):
        return value.data
    return value if hasattr(value, "shape") else backend.to_numpy(value)


def _move_array(array, name):
    """``array`` on backend ``name``; unchanged when it is already there."""
    if backend.backend_of(array) == name:
        return array
    if name == "numpy":
        return backend.to_numpy(array)
    return backend._import_cupy().asarray(array)


def _cast_float(array, dtype):
    return array.astype(dtype, copy=False) if array.dtype.kind == "f" else array


def _describe_keys(missing, unexpected):
    problems = []
    if missing:
        problems.append(
            f"Missing key(s) in state_dict: {_first_keys(missing)}"
            + " (was the checkpoint saved from a different model?)"
        )
    if unexpected:
        problems.append(
            f"Unexpected key(s) in state_dict: {_first_keys(unexpected)}"
            + " (pass strict=False to ignore keys this model does not have)"
        )
    return problems


def _first_keys(keys, shown=5):
    """The count and the first ``shown`` keys: a whole network's worth of names would bury the point."""
    listed = ", ".join(f'"{k}"' for k in keys[:shown])
    more = f", … and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} key(s): {listed}{more}"


def _describe_mismatches(own, state_dict):
    problems = []
    for key, target in own.items():
        if key in state_dict:
            shape = tuple(_as_array(state_dict[key]).shape)
            if shape != tuple(target.shape):
                problems.append(
                    f"size mismatch for {key}: copying an array of shape {shape} from the "
                    f"checkpoint, the shape in the current model is {tuple(target.shape)}"
                )
    if len(problems) > 5:  # the first few say what is wrong; the count says how much
        problems = problems[:5] + [f"… and {len(problems) - 5} more size mismatches ({len(problems)} in all)"]
    return problems
