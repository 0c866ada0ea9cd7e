"""Parameter: a Tensor that a Module registers as learnable (d2l §6.2)."""
from ..autograd import ArraySlot, Tensor
from ..live_array import as_live


class _LiveArraySlot(ArraySlot):
    """A Parameter's array is a LiveArray, so d2l's ``weight.data.copy_(kernel)`` works (d2l §13.10)."""

    def prepare(self, array):
        return as_live(array)


class Parameter(Tensor):
    """A Tensor with ``requires_grad=True`` that a Module lists in ``parameters()`` (d2l §6.2).

    The array's dtype is kept: a float64 array gives a float64 parameter. ``data`` is a
    LiveArray on NumPy (``weight.data.copy_(kernel)`` works as in PyTorch).
    """

    data = _LiveArraySlot()

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
