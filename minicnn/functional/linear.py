"""The fully connected layer's operation: y = x Wᵀ + b, with PyTorch's (out, in) weight (d2l §3.4)."""
from .. import kernels
from ..autograd import Function


class Linear(Function):
    """y = x Wᵀ + b with W of shape (out_features, in_features)."""

    def forward(self, x, weight, bias=None):
        _check_shapes(x, weight, bias)
        self.save_for_backward(x, weight)
        y = _matmul(_rows(x), weight.T).reshape(x.shape[:-1] + (weight.shape[0],))
        if bias is not None:
            y += bias
        return y

    # dL/dx = g W, dL/dW = gᵀ x, dL/db = Σ g over the batch
    def backward(self, grad):
        x, weight = self.saved
        flat_grad = _rows(grad)
        grad_x = _matmul(flat_grad, weight).reshape(x.shape) if self.needs_input_grad[0] else None
        grad_w = _matmul(flat_grad.T, _rows(x)) if self.needs_input_grad[1] else None
        grad_b = _column_sums(flat_grad) if self.needs_input_grad[2] else None
        return grad_x, grad_w, grad_b


def _matmul(a, b):
    """a · b of two matrices, by the face's fused GEMM where it has one."""
    fast = kernels.fused("matmul", a, b)
    return fast(a, b) if fast else a @ b


def _column_sums(a):
    """Σ over the rows of a matrix (the bias's gradient), by the face's fused loop where it has one."""
    fast = kernels.fused("column_sums", a)
    return fast(a) if fast else a.sum(axis=0)


def _rows(a):
    """``a`` as a matrix: every axis but the last folded into rows (a 1-D ``a`` is one row)."""
    return a.reshape(-1, a.shape[-1])


def _check_shapes(x, weight, bias):
    if weight.ndim != 2:
        raise ValueError(f"linear: the weight must be (out_features, in_features), got shape {weight.shape}")
    if tuple(x.shape[-1:]) != (weight.shape[1],):
        raise ValueError(
            f"linear: input has shape {x.shape} but the weight {weight.shape} expects "
            f"{weight.shape[1]} features in the last axis; flatten the input or fix in_features"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"linear: bias has shape {bias.shape} but the weight {weight.shape} has "
            f"{weight.shape[0]} output features"
        )


def linear(x, weight, bias=None):
    """x @ weight.T + bias, weight of shape (out_features, in_features) (d2l §3.4)."""
    return Linear()(x, weight, bias)
