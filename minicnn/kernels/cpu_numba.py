"""The CPU face of the hot loops: Numba-compiled, multi-threaded, same answers as reference.py.

Every public function here has the signature of its twin in ``reference.py``. Set
``NUMBA_DISABLE_JIT=1`` to run these loops as plain Python and step through them.
Idea: the loops of reference.py written out element by element (minitorch's fast ops;
Lam, Pitrou & Seibert (2015), "Numba: a LLVM-based Python JIT compiler").

Three pieces of craft, each measured on a 2-core machine (docs/performance.md):

* Inner loops index a row *view* with the loop counter (``row[p]``, never ``x[n, c, a + p]``):
  Numba then knows the index is not negative, and LLVM turns the loop into SIMD loads instead
  of gathers.
* A convolution with few channels (LeNet's) runs as a direct loop over "wide" rows: the
  padded image is flattened, and output pixel p of tap (i, j) reads input p + i·Wp + j. Every
  tap is one long, contiguous multiply-add (eight taps per pass, so each load and store of
  the accumulator row serves eight of them), and the few columns that straddle two rows are
  computed and dropped. Wide channels use im2col + one BLAS matrix product instead, a batch
  slice at a time so the columns never take more than CHUNK_BYTES. Numba runs without
  fastmath, so no loop relies on reordering a floating-point sum.
* BLAS and Numba take turns on the same cores. Numba's OpenMP threads are told to sleep,
  not spin, between loops (``OMP_WAIT_POLICY=PASSIVE``, set in ``kernels/__init__.py``
  unless you set it yourself), so they never steal cycles from a matrix product.
"""
import numpy as np
from numba import njit, prange

from . import reference
from .reference import output_size

CHUNK_BYTES = 1 << 25  # columns of one batch slice: at most 32 MB, so memory stays bounded
DIRECT_MAX_CHANNEL_PAIRS = 128  # C_in·C_out up to this: direct loop beats im2col + GEMM
DIRECT_WEIGHT_MAX_CHANNEL_PAIRS = 16  # the same for the weight gradient (a reduction)


# ---------------------------------------------------------------- im2col and col2im

@njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, cols):
    n_img, channels, height, width = x.shape
    out_h, out_w = cols.shape[4], cols.shape[5]
    for r in prange(channels * kh * kw):
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        for n in range(n_img):
            for oh in range(out_h):
                h = oh * sh - ph + i * dh
                for ow in range(out_w):
                    w = ow * sw - pw + j * dw
                    if 0 <= h < height and 0 <= w < width:
                        cols[c, i, j, n, oh, ow] = x[n, c, h, w]
                    else:
                        cols[c, i, j, n, oh, ow] = pad_value


@njit(parallel=True, cache=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, out):
    n_img, channels, height, width = out.shape
    out_h, out_w = cols.shape[4], cols.shape[5]
    for t in prange(n_img * channels):
        n, c = t // channels, t % channels
        plane = out[n, c]
        plane[:] = 0
        for i in range(kh):
            for j in range(kw):
                for oh in range(out_h):
                    h = oh * sh - ph + i * dh
                    for ow in range(out_w):
                        w = ow * sw - pw + j * dw
                        if 0 <= h < height and 0 <= w < width:
                            plane[h, w] += cols[c, i, j, n, oh, ow]


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Unfold receptive fields into columns (C·kh·kw, N·OH·OW); see reference.im2col."""
    x = np.ascontiguousarray(x)
    n, c, h, w = x.shape
    out_hw = (output_size(h, kernel_size[0], stride[0], padding[0], dilation[0]),
              output_size(w, kernel_size[1], stride[1], padding[1], dilation[1]))
    cols = np.empty((c,) + tuple(kernel_size) + (n,) + out_hw, dtype=x.dtype)
    _im2col(x, *kernel_size, *stride, *padding, *dilation, x.dtype.type(pad_value), cols)
    return cols.reshape(c * kernel_size[0] * kernel_size[1], -1)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Fold columns back onto an image, adding overlaps; see reference.col2im."""
    n, c, h, w = x_shape
    out_hw = (output_size(h, kernel_size[0], stride[0], padding[0], dilation[0]),
              output_size(w, kernel_size[1], stride[1], padding[1], dilation[1]))
    cols = np.ascontiguousarray(cols).reshape((c,) + tuple(kernel_size) + (n,) + out_hw)
    out = np.empty(x_shape, dtype=cols.dtype)
    _col2im(cols, *kernel_size, *stride, *padding, *dilation, out)
    return out


# ---------------------------------------------------------------- direct convolution

@njit(parallel=True, cache=True)
def _conv2d_direct(wide_x, weight, channel, offset, span, wide_y):
    # wide_y[n, o, p] = Σ_t weight[o, t] · wide_x[n, channel[t], offset[t] + p]: taps t go
    # eight at a time, so each pass over a row does eight multiply-adds per load and store
    n_img = wide_x.shape[0]
    c_out, taps = weight.shape
    grouped = taps - taps % 8
    for n in prange(n_img):
        acc = wide_y[n]
        acc[:] = 0
        for t in range(0, grouped, 8):
            r0, r1 = wide_x[n, channel[t], offset[t]:], wide_x[n, channel[t + 1], offset[t + 1]:]
            r2, r3 = wide_x[n, channel[t + 2], offset[t + 2]:], wide_x[n, channel[t + 3], offset[t + 3]:]
            r4, r5 = wide_x[n, channel[t + 4], offset[t + 4]:], wide_x[n, channel[t + 5], offset[t + 5]:]
            r6, r7 = wide_x[n, channel[t + 6], offset[t + 6]:], wide_x[n, channel[t + 7], offset[t + 7]:]
            for o in range(c_out):
                w, dst = weight[o, t:t + 8], acc[o]
                for p in range(span):
                    dst[p] += (w[0] * r0[p] + w[1] * r1[p] + w[2] * r2[p] + w[3] * r3[p]
                               + w[4] * r4[p] + w[5] * r5[p] + w[6] * r6[p] + w[7] * r7[p])
        for t in range(grouped, taps):
            row = wide_x[n, channel[t], offset[t]:]
            for o in range(c_out):
                w, dst = weight[o, t], acc[o]
                for p in range(span):
                    dst[p] += w * row[p]


@njit(parallel=True, cache=True)
def _conv_transpose2d_direct(wide_x, weight, span, row_len, dh, dw, wide_out):
    # wide_out[n, o, i·dh·row_len + j·dw + p] += Σ_c weight[o, i, j, c] · wide_x[n, c, p]: each
    # input pixel spreads over its window; input channels go eight at a time, as in
    # _conv2d_direct, so one pass over an output row does eight multiply-adds per load and store
    n_img, c_in = wide_x.shape[0], wide_x.shape[1]
    c_out, kh, kw = weight.shape[0], weight.shape[1], weight.shape[2]
    grouped = c_in - c_in % 8
    for n in prange(n_img):
        acc = wide_out[n]
        acc[:] = 0
        src = wide_x[n]
        for o in range(c_out):
            for i in range(kh):
                for j in range(kw):
                    dst = acc[o, i * dh * row_len + j * dw:]
                    for c in range(0, grouped, 8):
                        w = weight[o, i, j, c:c + 8]
                        r0, r1, r2, r3 = src[c], src[c + 1], src[c + 2], src[c + 3]
                        r4, r5, r6, r7 = src[c + 4], src[c + 5], src[c + 6], src[c + 7]
                        for p in range(span):
                            dst[p] += (w[0] * r0[p] + w[1] * r1[p] + w[2] * r2[p] + w[3] * r3[p]
                                       + w[4] * r4[p] + w[5] * r5[p] + w[6] * r6[p] + w[7] * r7[p])
                    for c in range(grouped, c_in):
                        w, row = weight[o, i, j, c], src[c]
                        for p in range(span):
                            dst[p] += w * row[p]


@njit(parallel=True, cache=True)
def _conv2d_weight_direct(wide_x, wide_g, span, row_len, dh, dw, grad_w):
    # grad_w[o, c, i, j] = Σ_n Σ_p wide_g[n, o, p] · wide_x[n, c, i·dh·row_len + j·dw + p],
    # summed lane by lane into acc (SIMD without reordering a scalar sum), then acc.sum()
    n_img = wide_x.shape[0]
    c_out, c_in, kh, kw = grad_w.shape
    for t in prange(c_out * c_in):
        o, c = t // c_in, t % c_in
        acc = np.empty(span, dtype=grad_w.dtype)
        for i in range(kh):
            for j in range(kw):
                acc[:] = 0
                for n in range(n_img):
                    row, g = wide_x[n, c, i * dh * row_len + j * dw:], wide_g[n, o]
                    for p in range(span):
                        acc[p] += g[p] * row[p]
                grad_w[o, c, i, j] = acc.sum()


def _direct_pays_off(c_in, c_out, stride, limit=DIRECT_MAX_CHANNEL_PAIRS):
    return tuple(stride) == (1, 1) and c_in * c_out <= limit


def _wide_image(x, padding):
    """x zero-padded, each plane flattened to one row: (N, C, Hp·Wp), and the row length Wp."""
    n, c, h, w = x.shape
    ph, pw = padding
    padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    padded[:, :, ph:ph + h, pw:pw + w] = x
    return padded.reshape(n, c, -1), w + 2 * pw


def _wide_grad(grad_y, row_len):
    """grad_y with each row padded by zeros to row_len, planes flattened: (N, C, OH·row_len)."""
    n, c, oh, ow = grad_y.shape
    wide = np.zeros((n, c, oh, row_len), dtype=grad_y.dtype)
    wide[..., :ow] = grad_y
    return wide.reshape(n, c, -1)


def _span(out_hw, row_len):
    """Length of the wide row that holds out_hw pixels (the last row's tail is not needed)."""
    return (out_hw[0] - 1) * row_len + out_hw[1]


def _direct_conv(x, weight, padding, dilation):
    """Stride-1 conv2d by the wide-row loop."""
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    wide_x, row_len = _wide_image(x, padding)
    out_hw = (wide_x.shape[2] // row_len - dilation[0] * (kh - 1), row_len - dilation[1] * (kw - 1))
    taps = np.indices((c_in, kh, kw)).reshape(3, -1)
    offset = taps[1] * dilation[0] * row_len + taps[2] * dilation[1]
    wide_y = np.empty((n, c_out, out_hw[0] * row_len), dtype=x.dtype)
    _conv2d_direct(wide_x, np.ascontiguousarray(weight.reshape(c_out, -1)), taps[0], offset,
                   _span(out_hw, row_len), wide_y)
    return np.ascontiguousarray(wide_y.reshape(n, c_out, out_hw[0], row_len)[..., :out_hw[1]])


# ---------------------------------------------------------------- convolution products

def _batch_slices(n, bytes_per_image):
    step = max(1, CHUNK_BYTES // max(1, bytes_per_image))
    return [slice(start, start + step) for start in range(0, n, step)]


def _column_bytes(x, kernel_size, out_hw):
    return x.shape[1] * kernel_size[0] * kernel_size[1] * out_hw[0] * out_hw[1] * x.itemsize


def conv2d(x, weight, stride, padding, dilation):
    """y = conv2d(x, W): direct loop for few channels, else im2col + GEMM per batch slice."""
    n, c, h, w = x.shape
    kernel_size = weight.shape[2:]
    out_hw = (output_size(h, kernel_size[0], stride[0], padding[0], dilation[0]),
              output_size(w, kernel_size[1], stride[1], padding[1], dilation[1]))
    if _direct_pays_off(c, weight.shape[0], stride):
        return _direct_conv(x, weight, padding, dilation)
    y = np.empty((n, weight.shape[0]) + out_hw, dtype=x.dtype)
    for part in _batch_slices(n, _column_bytes(x, kernel_size, out_hw)):
        y[part] = reference.conv2d(x[part], weight, stride, padding, dilation, im2col=im2col)
    return y


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """y = col2im(Wᵀ · x), the input gradient of conv2d; see reference.conv_transpose2d."""
    n, c_in = x.shape[:2]
    c_out, kernel_size = weight.shape[1], weight.shape[2:]
    if _direct_pays_off(c_in, c_out, stride):
        row_len = out_hw[1] + 2 * padding[1]
        padded_h = out_hw[0] + 2 * padding[0]
        wide_out = np.empty((n, c_out, padded_h * row_len), dtype=x.dtype)
        _conv_transpose2d_direct(_wide_grad(x, row_len),
                                 np.ascontiguousarray(weight.transpose(1, 2, 3, 0)),
                                 _span(x.shape[2:], row_len), row_len, *dilation, wide_out)
        wide_out = wide_out.reshape(n, c_out, padded_h, row_len)
        return np.ascontiguousarray(wide_out[:, :, padding[0]:padding[0] + out_hw[0],
                                             padding[1]:padding[1] + out_hw[1]])
    out = np.empty((n, c_out) + tuple(out_hw), dtype=x.dtype)
    image_bytes = c_out * kernel_size[0] * kernel_size[1] * x.shape[2] * x.shape[3] * x.itemsize
    for part in _batch_slices(n, image_bytes):
        out[part] = reference.conv_transpose2d(x[part], weight, out_hw, stride, padding,
                                               dilation, col2im=col2im)
    return out


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """dW = dY · im2col(x)ᵀ, summed over batch slices; see reference.conv2d_weight."""
    n, c = x.shape[:2]
    c_out = grad_y.shape[1]
    if _direct_pays_off(c, c_out, stride, DIRECT_WEIGHT_MAX_CHANNEL_PAIRS):
        wide_x, row_len = _wide_image(x, padding)
        grad_w = np.empty((c_out, c) + tuple(kernel_size), dtype=x.dtype)
        _conv2d_weight_direct(wide_x, _wide_grad(grad_y, row_len),
                              _span(grad_y.shape[2:], row_len), row_len, *dilation, grad_w)
        return grad_w
    grad_w = None
    for part in _batch_slices(n, _column_bytes(x, kernel_size, grad_y.shape[2:])):
        piece = reference.conv2d_weight(x[part], grad_y[part], kernel_size, stride, padding,
                                        dilation, im2col=im2col)
        grad_w = piece if grad_w is None else grad_w + piece
    return grad_w


# ---------------------------------------------------------------- pooling

@njit(parallel=True, cache=True)
def _max_pool(x, kh, kw, sh, sw, ph, pw, y, argmax):
    n_img, channels, height, width = x.shape
    out_h, out_w = y.shape[2], y.shape[3]
    for t in prange(n_img * channels):
        n, c = t // channels, t % channels
        plane = x[n, c]
        for oh in range(out_h):
            top = max(oh * sh - ph, 0)
            bottom = min(oh * sh - ph + kh, height)
            for ow in range(out_w):
                left = max(ow * sw - pw, 0)
                right = min(ow * sw - pw + kw, width)
                best, where = plane[top, left], top * width + left
                for h in range(top, bottom):
                    for w in range(left, right):
                        # a larger value or a NaN wins, chosen without a branch (random data
                        # would mispredict most of them)
                        v = plane[h, w]
                        wins = (v > best) | (v != v)
                        best = v if wins else best
                        where = h * width + w if wins else where
                y[n, c, oh, ow] = best
                argmax[n, c, oh, ow] = where


@njit(parallel=True, cache=True)
def _max_pool_backward(grad_y, argmax, grad_x):
    n_img, channels = grad_y.shape[0], grad_y.shape[1]
    for t in prange(n_img * channels):
        n, c = t // channels, t % channels
        plane, g, where = grad_x[n, c].reshape(-1), grad_y[n, c].reshape(-1), argmax[n, c].reshape(-1)
        plane[:] = 0
        for k in range(g.shape[0]):
            plane[where[k]] += g[k]


@njit(parallel=True, cache=True)
def _avg_pool(x, kh, kw, sh, sw, ph, pw, taps, y):
    n_img, channels, height, width = x.shape
    out_h, out_w = y.shape[2], y.shape[3]
    for t in prange(n_img * channels):
        n, c = t // channels, t % channels
        plane = x[n, c]
        for oh in range(out_h):
            top = oh * sh - ph
            for ow in range(out_w):
                left = ow * sw - pw
                total = taps * 0
                for h in range(max(top, 0), min(top + kh, height)):
                    for w in range(max(left, 0), min(left + kw, width)):
                        total += plane[h, w]
                y[n, c, oh, ow] = total / taps


@njit(parallel=True, cache=True)
def _avg_pool_backward(grad_y, kh, kw, sh, sw, ph, pw, taps, grad_x):
    n_img, channels, height, width = grad_x.shape
    out_h, out_w = grad_y.shape[2], grad_y.shape[3]
    for t in prange(n_img * channels):
        n, c = t // channels, t % channels
        plane = grad_x[n, c]
        plane[:] = 0
        for oh in range(out_h):
            top = oh * sh - ph
            for ow in range(out_w):
                left = ow * sw - pw
                share = grad_y[n, c, oh, ow] / taps
                for h in range(max(top, 0), min(top + kh, height)):
                    for w in range(max(left, 0), min(left + kw, width)):
                        plane[h, w] += share


def max_pool2d(x, kernel_size, stride, padding):
    """Window maxima and their flat input indices; see reference.max_pool2d."""
    x = np.ascontiguousarray(x)
    shape = reference._pooled_shape(x.shape, kernel_size, stride, padding)
    y, argmax = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    _max_pool(x, *kernel_size, *stride, *padding, y, argmax)
    return y, argmax


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """Route each window's gradient to its winner; see reference.max_pool2d_backward."""
    grad_x = np.empty(x_shape, dtype=grad_y.dtype)
    _max_pool_backward(np.ascontiguousarray(grad_y), np.ascontiguousarray(argmax), grad_x)
    return grad_x


def avg_pool2d(x, kernel_size, stride, padding):
    """Window means, padding counted; see reference.avg_pool2d."""
    x = np.ascontiguousarray(x)
    shape = reference._pooled_shape(x.shape, kernel_size, stride, padding)
    y = np.empty(shape, dtype=x.dtype)
    taps = x.dtype.type(kernel_size[0] * kernel_size[1])
    _avg_pool(x, *kernel_size, *stride, *padding, taps, y)
    return y


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """Spread each window's gradient evenly; see reference.avg_pool2d_backward."""
    grad_x = np.empty(x_shape, dtype=grad_y.dtype)
    taps = grad_y.dtype.type(kernel_size[0] * kernel_size[1])
    _avg_pool_backward(np.ascontiguousarray(grad_y), *kernel_size, *stride, *padding, taps,
                       grad_x)
    return grad_x
