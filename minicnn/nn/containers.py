"""Containers: Sequential (a chain), Concat (parallel branches joined on channels) and Identity (d2l §6.1, §8.4)."""
from ..functional.shape import concat
from .module import Module


class _ModuleList(Module):
    """Children named "0", "1", ...; indexable (slices too), sized and iterable."""

    def __init__(self, *modules):
        super().__init__()
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
            return type(self)(dict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"{type(self).__name__} index {index} is out of range (it has {len(items)} modules)")
        return items[index][1]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Sequential(_ModuleList):
    """Modules applied one after another, the output of each the input of the next (d2l §6.1.2)."""

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class Concat(_ModuleList):
    """Parallel branches on the same input, outputs joined along channels: the Inception pattern (d2l §8.4)."""

    def __init__(self, *branches, axis=1):
        super().__init__(*branches)
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
