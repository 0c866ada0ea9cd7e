"""im2col and col2im in the Numba face, and the unfolding the convolutions (``conv.py``) share.

Two ways to unfold. With stride 1 (most layers), each image is copied, padded, once per
column tap j and cut to the output width (OW): row (c, j) of the *shifted* image holds
x[c, h, ow + j] for every padded row h (``_shift_columns``). Then the column entries of tap
(i, j) for output pixel p = oh·OW + ow sit at i·OW + p of that row: every row of im2col
is one contiguous copy. col2im runs it backwards: contiguous additions onto the shifted rows, then
``_fold_columns``, the adjoint of ``_shift_columns``. Strided windows keep one guarded copy
(or addition) per element. Inner loops index a row *view* with the loop counter
(``row[p]``, never ``x[n, c, a + p]``): Numba then knows the index is not negative, and
LLVM turns the loop into SIMD loads instead of gathers. The helpers are ``inline='always'``:
Numba writes them into each task that calls them (``conv.py``), so they are compiled once per
caller, not once on their own and then again, linked, inside every caller.
Idea: Chellapilla, Puri & Simard (2006); d2l §7.2. The readable version is in ``reference.py``.
"""
import numpy as np
from numba import njit

from ..reference import output_hw
from .parallel import parallel_for


@njit(cache=True, inline='always')
def _shift_columns(x, kw, ph, pw, dw, pad_value, out_w, shifted):
    # shifted[c·kw + j, h·OW + ow] = x[c, h − ph, ow + j·dw − pw], pad_value outside the image:
    # the padded image's rows cut to the output width, once for each column tap j
    channels, height, width = x.shape
    for c in range(channels):
        for j in range(kw):
            row = shifted[c * kw + j]
            row[:] = pad_value
            first, last = max(0, pw - j * dw), min(out_w, width + pw - j * dw)  # ow inside the image
            for h in range(height):
                src = x[c, h, first + j * dw - pw:]
                dst = row[(h + ph) * out_w + first:]
                for k in range(last - first):
                    dst[k] = src[k]


@njit(cache=True, inline='always')
def _fold_columns(shifted, kw, ph, pw, dw, out_w, x):
    # the adjoint of _shift_columns: x[c, h − ph, ow + j·dw − pw] = Σ_j shifted[c·kw + j, h·OW + ow]
    channels, height, width = x.shape
    x[:] = 0
    for c in range(channels):
        for j in range(kw):
            row = shifted[c * kw + j]
            first, last = max(0, pw - j * dw), min(out_w, width + pw - j * dw)  # ow inside the image
            for h in range(height):
                src = row[(h + ph) * out_w + first:]
                dst = x[c, h, first + j * dw - pw:]
                for k in range(last - first):
                    dst[k] += src[k]


@njit(cache=True, inline='always')
def _tap_rows(channels, kh, kw, dh, out_w):
    # tap t = (c, i, j) reads row c·kw + j of the shifted image, from offset i·dh·OW on
    taps = channels * kh * kw
    row, offset = np.empty(taps, dtype=np.int64), np.empty(taps, dtype=np.int64)
    for t in range(taps):
        row[t] = (t // (kh * kw)) * kw + t % kw
        offset[t] = (t // kw) % kh * dh * out_w
    return row, offset


@njit(cache=True, inline='always')
def _unfold_rows(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, out_h, out_w, first, cols):
    # cols[r − first, (n, oh, ow)] = x[n, c, oh·sh − ph + i·dh, ow·sw − pw + j·dw] for the rows
    # r = (c, i, j) from first on, or pad_value outside the image
    if sh == 1 and sw == 1:
        _unfold_rows_shifted(x, kh, kw, ph, pw, dh, dw, pad_value, out_h, out_w, first, cols)
    else:
        _unfold_rows_guarded(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, out_h, out_w, first, cols)


@njit(cache=True, inline='always')
def _unfold_rows_shifted(x, kh, kw, ph, pw, dh, dw, pad_value, out_h, out_w, first, cols):
    # stride 1: each image's channels shifted once per column tap (_shift_columns), then every
    # row of cols is a contiguous copy of a shifted row
    height, span = x.shape[2], out_h * out_w
    c0, c1 = first // (kh * kw), (first + cols.shape[0] - 1) // (kh * kw) + 1  # channels used
    row, offset = _tap_rows(c1 - c0, kh, kw, dh, out_w)
    skip = first - c0 * kh * kw  # the first row's tap number in channel c0
    shifted = np.empty(((c1 - c0) * kw, (height + 2 * ph) * out_w), dtype=x.dtype)
    for n in range(x.shape[0]):
        _shift_columns(x[n, c0:c1], kw, ph, pw, dw, pad_value, out_w, shifted)
        for r in range(cols.shape[0]):
            src, dst = shifted[row[skip + r], offset[skip + r]:], cols[r, n * span:]
            for p in range(span):
                dst[p] = src[p]


@njit(cache=True, inline='always')
def _unfold_rows_guarded(x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, out_h, out_w, first, cols):
    # any stride: one guarded copy per element
    n_img, channels, height, width = x.shape
    for r in range(first, first + cols.shape[0]):
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        row = cols[r - first]
        for n in range(n_img):
            for oh in range(out_h):
                h = oh * sh - ph + i * dh
                dst = row[(n * out_h + oh) * out_w:]
                for ow in range(out_w):
                    w = ow * sw - pw + j * dw
                    dst[ow] = x[n, c, h, w] if 0 <= h < height and 0 <= w < width else pad_value


@njit(cache=True, inline='always')
def _fold(cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, out):
    # the adjoint of _unfold_rows: out[n, c, h, w] = the sum of the column entries taken from (h, w)
    if sh == 1 and sw == 1:
        _fold_shifted(cols, kh, kw, ph, pw, dh, dw, out_h, out_w, out)
    else:
        _fold_guarded(cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, out)


@njit(cache=True, inline='always')
def _fold_shifted(cols, kh, kw, ph, pw, dh, dw, out_h, out_w, out):
    # stride 1, the adjoint of _unfold_rows_shifted: each row of cols is added onto its shifted
    # row in one contiguous loop, then _fold_columns adds the shifted rows onto the image
    channels, height, span = out.shape[1], out.shape[2], out_h * out_w
    row, offset = _tap_rows(channels, kh, kw, dh, out_w)
    shifted = np.empty((channels * kw, (height + 2 * ph) * out_w), dtype=cols.dtype)
    for n in range(out.shape[0]):
        shifted[:] = 0
        for r in range(cols.shape[0]):
            src, dst = cols[r, n * span:], shifted[row[r], offset[r]:]
            for p in range(span):
                dst[p] += src[p]
        _fold_columns(shifted, kw, ph, pw, dw, out_w, out[n])


@njit(cache=True, inline='always')
def _fold_guarded(cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, out):
    # any stride: one guarded addition per element
    n_img, channels, height, width = out.shape
    out[:] = 0
    for r in range(channels * kh * kw):
        c, i, j = r // (kh * kw), (r // kw) % kh, r % kw
        row = cols[r]
        for n in range(n_img):
            plane = out[n, c]
            for oh in range(out_h):
                h = oh * sh - ph + i * dh
                if 0 <= h < height:
                    src = row[(n * out_h + oh) * out_w:]
                    for ow in range(out_w):
                        w = ow * sw - pw + j * dw
                        if 0 <= w < width:
                            plane[h, w] += src[ow]


@njit(cache=True)
def _im2col_image(n, x, kh, kw, sh, sw, ph, pw, dh, dw, pad_value, out_h, out_w, cols):
    # image n fills the columns n·OH·OW … (n+1)·OH·OW − 1
    plane = out_h * out_w
    _unfold_rows(x[n:n + 1], kh, kw, sh, sw, ph, pw, dh, dw, pad_value, out_h, out_w, 0,
                 cols[:, n * plane:(n + 1) * plane])


@njit(cache=True)
def _col2im_image(n, cols, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, out):
    # image n from the columns n·OH·OW … (n+1)·OH·OW − 1
    plane = out_h * out_w
    _fold(cols[:, n * plane:(n + 1) * plane], kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w,
          out[n:n + 1])


def _out_hw(shape, kernel_size, stride, padding, dilation):
    # output_hw of an NCHW shape
    return output_hw(shape[2:], kernel_size, stride, padding, dilation)


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Unfold receptive fields into columns (C·kh·kw, N·OH·OW); see reference.im2col."""
    x = np.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, stride, padding, dilation)
    rows = x.shape[1] * kernel_size[0] * kernel_size[1]
    cols = np.empty((rows, x.shape[0] * out_hw[0] * out_hw[1]), dtype=x.dtype)
    parallel_for(_im2col_image, x.shape[0], x, *kernel_size, *stride, *padding, *dilation,
                 x.dtype.type(pad_value), *out_hw, cols)
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Fold columns back onto an image, adding overlaps; see reference.col2im."""
    out = np.empty(x_shape, dtype=cols.dtype)
    parallel_for(_col2im_image, x_shape[0], np.ascontiguousarray(cols), *kernel_size, *stride, *padding,
                 *dilation, *_out_hw(x_shape, kernel_size, stride, padding, dilation), out)
    return out
