"""Parameter: a Tensor that a Module registers as learnable (d2l §6.2)."""
from ..autograd import Tensor


class Parameter(Tensor):
    """A Tensor with ``requires_grad=True`` that a Module lists in ``parameters()`` (d2l §6.2).

    The array's dtype is kept: a float64 array gives a float64 parameter.
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
