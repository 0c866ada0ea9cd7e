"""Containers: Sequential (a chain), ModuleList (a list), Concat (parallel branches joined on channels), Identity (d2l §6.1, §8.4)."""
import copy

from ..functional.shape import concat
from .module import Module


class _IndexedModules(Module):
    """Children named "0", "1", ...: indexable (slices too), sized and iterable, as in PyTorch."""

    def _add_all(self, modules):
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for module in modules:
                self.append(module)

    def append(self, module):
        """Add ``module`` at the end, under the next free index."""
        self.add_module(str(len(self)), module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.items())
        if isinstance(index, slice):
            return self._with_children(dict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"{type(self).__name__} index {index} is out of range (it has {len(items)} modules)")
        return items[index][1]

    def _with_children(self, children):
        """A copy of this container that holds ``children``: the same class and settings, ``__init__`` not run again.

        So a slice of a subclass with its own constructor (GoogLeNet's Inception) works,
        and a Concat slice keeps its axis.
        """
        piece = copy.copy(self)
        for store in ("_parameters", "_buffers"):
            object.__setattr__(piece, store, dict(getattr(self, store)))
        object.__setattr__(piece, "_modules", children)
        return piece

    def __setitem__(self, index, module):
        name = list(self._modules)[index]
        self.add_module(name, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_IndexedModules):
    """Modules applied one after another, the output of each the input of the next (d2l §6.1.2).

    ``Sequential(a, b, c)`` or ``Sequential({"name": a, ...})``; ``net[i]``, ``net[1:]`` and
    ``for layer in net`` work as in PyTorch.
    """

    def __init__(self, *modules):
        super().__init__()
        self._add_all(modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleList(_IndexedModules):
    """A list of modules whose parameters the parent sees, as torch.nn.ModuleList; it has no forward of its own."""

    def __init__(self, modules=None):
        super().__init__()
        self.extend(modules or ())

    def extend(self, modules):
        """Append every module of ``modules``."""
        for module in modules:
            self.append(module)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call its modules")


class Concat(_IndexedModules):
    """Parallel branches on the same input, outputs joined along channels: the Inception pattern (d2l §8.4)."""

    def __init__(self, *branches, axis=1):
        super().__init__()
        self._add_all(branches)
        self.axis = axis

    def forward(self, x):
        return concat([branch(x) for branch in self], axis=self.axis)

    def extra_repr(self):
        return "" if self.axis == 1 else f"axis={self.axis}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. a shortcut without projection)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
