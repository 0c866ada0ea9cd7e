"""The readable face of every hot loop: im2col/col2im, convolution as one GEMM, its transpose
and weight gradient, and pooling.

Plain array code on ``xp`` (NumPy or CuPy), so it runs on either backend. This is the
file to read to learn how the kernels work; ``numba/`` and ``gpu_cupy.py`` compute
the same things faster and the tests hold them to this one.
Idea: d2l §7.2–7.5; im2col after Chellapilla, Puri & Simard (2006), "High performance
convolutional neural networks for document processing".

Shapes: images are NCHW. ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are
(height, width) pairs. Columns are laid out as (C·kh·kw, N·OH·OW): one column per output
pixel of every image, so a convolution is one matrix product with the (C_out, C·kh·kw) weights.
"""
import math

from ..backend import get_array_module, scatter_add


def output_hw(in_hw, kernel_size, stride, padding, dilation=(1, 1)):
    """(OH, OW): how many positions a window of kh×kw taps, ``dilation`` apart, takes on an
    (H, W) input padded by ``padding`` on each side, moving ``stride`` at a time (d2l §7.3)."""
    return tuple((size + 2 * p - d * (k - 1) - 1) // s + 1
                 for size, k, s, p, d in zip(in_hw, kernel_size, stride, padding, dilation))


def _taps(kernel_size, stride, dilation, out_hw):
    """For each tap (i, j) of the window: the slices it visits in the padded image."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, out_hw
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            yield i, j, rows, cols


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Unfold every receptive field of x (N, C, H, W) into a column of (C·kh·kw, N·OH·OW)."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (ph, pw) = kernel_size, padding
    out_hw = output_hw((h, w), kernel_size, stride, padding, dilation)
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    cols = xp.empty((c, kh, kw, n) + out_hw, dtype=x.dtype)
    for i, j, rows, columns in _taps(kernel_size, stride, dilation, out_hw):
        # tap (i, j) of every window at once: a strided slice of the padded image
        cols[:, i, j] = padded[:, :, rows, columns].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * out_hw[0] * out_hw[1])


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Fold columns back onto an image of ``x_shape``, adding where windows overlap.

    This is the adjoint (transpose) of im2col: the gradient of im2col, and the heart of
    the transposed convolution.
    """
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (ph, pw) = kernel_size, padding
    out_hw = output_hw((h, w), kernel_size, stride, padding, dilation)
    cols = cols.reshape((c, kh, kw, n) + out_hw)
    padded = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, columns in _taps(kernel_size, stride, dilation, out_hw):
        padded[:, :, rows, columns] += cols[:, i, j].transpose(1, 0, 2, 3)
    return xp.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


def conv2d(x, weight, stride, padding, dilation, im2col=im2col):
    """Cross-correlation as one matrix product: y = W · im2col(x) (d2l §7.2); the bias is added
    by ``functional.conv2d``."""
    xp = get_array_module(x)
    c_out, _, kh, kw = weight.shape
    oh, ow = output_hw(x.shape[2:], (kh, kw), stride, padding, dilation)
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    y = weight.reshape(c_out, -1) @ cols
    return xp.ascontiguousarray(y.reshape(c_out, x.shape[0], oh, ow).transpose(1, 0, 2, 3))


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation, col2im=col2im):
    """The adjoint of conv2d, y = col2im(Wᵀ · x): each input pixel spreads over a window.

    ``weight`` is (C_in, C_out, kh, kw) as in PyTorch; ``out_hw`` the output height and width.
    The input gradient of conv2d is exactly this with conv2d's weight (d2l §14.10).
    """
    n, c_in, h, w = x.shape
    _, c_out, kh, kw = weight.shape
    rows = x.transpose(1, 0, 2, 3).reshape(c_in, n * h * w)
    cols = weight.reshape(c_in, -1).T @ rows
    return col2im(cols, (n, c_out) + tuple(out_hw), (kh, kw), stride, padding, dilation)


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation, im2col=im2col):
    """Gradient of conv2d with respect to its weight: dW = dY · im2col(x)ᵀ."""
    c_out = grad_y.shape[1]
    cols = im2col(x, kernel_size, stride, padding, dilation)
    rows = grad_y.transpose(1, 0, 2, 3).reshape(c_out, -1)
    grad_w = (cols @ rows.T).T  # = rows · colsᵀ; BLAS runs this orientation faster
    return grad_w.reshape((c_out, x.shape[1]) + tuple(kernel_size))


def _pool_columns(x, kernel_size, stride, padding, pad_value):
    """Each channel on its own: columns of shape (kh·kw, N·C·OH·OW), one per pooling window."""
    n, c, h, w = x.shape
    return im2col(x.reshape(n * c, 1, h, w), kernel_size, stride, padding, (1, 1), pad_value)


def pooled_shape(x_shape, kernel_size, stride, padding):
    """(N, C, OH, OW): the shape pooling gives an input of ``x_shape``."""
    return tuple(x_shape[:2]) + output_hw(x_shape[2:], kernel_size, stride, padding)


def max_pool2d(x, kernel_size, stride, padding):
    """Maximum of each window, and where it was as a flat index h·W + w into the input plane.

    Padding is −∞, so it never wins (d2l §7.5). Ties go to the first tap in the window; a
    NaN wins its window, as in PyTorch.
    """
    xp = get_array_module(x)
    shape = pooled_shape(x.shape, kernel_size, stride, padding)
    cols = _pool_columns(x, kernel_size, stride, padding, -math.inf)
    tap = cols.argmax(axis=0)
    y = cols[tap, xp.arange(cols.shape[1])]
    # turn (window, tap) into the row and column of the input pixel that won
    window = xp.arange(cols.shape[1]).reshape(shape)
    out_row, out_col = (window // shape[3]) % shape[2], window % shape[3]
    tap = tap.reshape(shape)
    row = out_row * stride[0] - padding[0] + tap // kernel_size[1]
    col = out_col * stride[1] - padding[1] + tap % kernel_size[1]
    return y.reshape(shape), row * x.shape[3] + col


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """Each window's gradient goes to the input pixel that won it; overlapping wins add up.

    The window geometry is not needed here (argmax says where every gradient goes); the
    CUDA face uses it to gather instead of scatter.
    """
    xp = get_array_module(grad_y)
    n, c, h, w = x_shape
    grad_x = xp.zeros((n * c, h * w), dtype=grad_y.dtype)
    plane = xp.arange(n * c).reshape(n * c, 1)
    scatter_add(grad_x, (plane, argmax.reshape(n * c, -1)), grad_y.reshape(n * c, -1))
    return grad_x.reshape(x_shape)


def avg_pool2d(x, kernel_size, stride, padding):
    """Mean of each window; zero padding counts in the mean (PyTorch's count_include_pad)."""
    shape = pooled_shape(x.shape, kernel_size, stride, padding)
    cols = _pool_columns(x, kernel_size, stride, padding, 0.0)
    return cols.mean(axis=0).reshape(shape)


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """Each window hands 1/(kh·kw) of its gradient to every pixel it covers."""
    xp = get_array_module(grad_y)
    n, c, h, w = x_shape
    taps = kernel_size[0] * kernel_size[1]
    share = grad_y.reshape(1, -1) / taps
    cols = xp.broadcast_to(share, (taps, share.shape[1]))
    grad_x = col2im(cols, (n * c, 1, h, w), kernel_size, stride, padding, (1, 1))
    return grad_x.reshape(x_shape)
