"""Convolutions in the Numba face: the direct loop, Winograd, and im2col + GEMM, fused per chunk.

Each public function has the signature of its twin in ``reference.py`` and picks one of
three loops by the layer's shape (the thresholds are in ``tuning.py``):

* **Direct**, for very few channels (LeNet's first layer): tap (i, j) of output pixel
  p = oh·OW + ow reads shifted row (c, j) at i·OW + p (``unfold._shift_columns``), so every tap
  is one long, contiguous multiply-add over all OH·OW outputs, eight taps per pass, so that
  each load and store of the output row serves eight of them. The input gradient runs the
  same loop backwards, and the weight gradient is one dot product per (output channel, tap)
  over the same shifted rows, four output channels per pass.
* **Winograd** F(2×2, 3×3) for 3×3 stride-1 layers with many channels (``winograd.py``):
  2.25× fewer multiply-adds, for the convolution, its input gradient and its weight gradient.
* **im2col + GEMM** otherwise: each task of one parallel loop unfolds a chunk of images into
  columns that fit the core's L2 cache and multiplies them at once, calling BLAS from inside
  Numba's thread (``blas.py``, one thread per call). The columns never travel to main
  memory, and Numba and BLAS never hand the cores to each other. A weight gradient whose dY
  is small splits the rows of its result instead of the batch.

Only the plain sums and dot products (``channel_sums``, ``_tap_dots``) let LLVM reorder a
floating-point sum (into SIMD lanes), and no result depends on the number of threads:
partial sums are grouped by the shapes alone.
Idea: the loops of reference.py written out element by element (minitorch's fast ops;
Lam, Pitrou & Seibert (2015), "Numba: a LLVM-based Python JIT compiler").
"""
import numba
import numpy as np
from numba import njit, prange

from . import tuning
from . import winograd
from .blas import gemm
from .unfold import _fold, _fold_columns, _out_hw, _shift_columns, _tap_rows, _unfold, _unfold_rows


# ---------------------------------------------------------------- direct convolution

@njit(parallel=True, cache=True)
def _conv2d_direct(x, weight, kh, kw, ph, pw, dh, dw, y):
    # per image: y[n, o, p] = Σ_t weight[o, t] · shifted[row[t], offset[t] + p] over
    # the taps t, eight at a time, so each pass over y's row does eight multiply-adds per load
    # and store
    n_img, c_in, height = x.shape[0], x.shape[1], x.shape[2]
    c_out, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    taps, span = weight.shape[1], out_h * out_w
    grouped = taps - taps % 8
    row, offset = _tap_rows(c_in, kh, kw, dh, out_w)
    for n in prange(n_img):
        shifted = np.empty((c_in * kw, (height + 2 * ph) * out_w), dtype=x.dtype)
        _shift_columns(x[n], kw, ph, pw, dw, 0, out_w, shifted)
        acc = y[n].reshape(c_out, span)
        acc[:] = 0
        for t in range(0, grouped, 8):
            r0, r1 = shifted[row[t], offset[t]:], shifted[row[t + 1], offset[t + 1]:]
            r2, r3 = shifted[row[t + 2], offset[t + 2]:], shifted[row[t + 3], offset[t + 3]:]
            r4, r5 = shifted[row[t + 4], offset[t + 4]:], shifted[row[t + 5], offset[t + 5]:]
            r6, r7 = shifted[row[t + 6], offset[t + 6]:], shifted[row[t + 7], offset[t + 7]:]
            for o in range(c_out):
                w, dst = weight[o, t:t + 8], acc[o]
                for p in range(span):
                    dst[p] += (w[0] * r0[p] + w[1] * r1[p] + w[2] * r2[p] + w[3] * r3[p]
                               + w[4] * r4[p] + w[5] * r5[p] + w[6] * r6[p] + w[7] * r7[p])
        for t in range(grouped, taps):
            src = shifted[row[t], offset[t]:]
            for o in range(c_out):
                w, dst = weight[o, t], acc[o]
                for p in range(span):
                    dst[p] += w * src[p]


@njit(cache=True, fastmath={"reassoc"})
def _tap_dots(shifted, row, offset, grad, out):
    # out[o, t] += Σ_p grad[o, p] · shifted[row[t], offset[t] + p], four outputs o per pass
    # over the row; "reassoc" lets LLVM keep each sum in several SIMD lanes
    c_out, taps = out.shape
    span = grad.shape[1]
    grouped = c_out - c_out % 4
    for t in range(taps):
        src = shifted[row[t], offset[t]:offset[t] + span]
        for o in range(0, grouped, 4):
            g0, g1, g2, g3 = grad[o], grad[o + 1], grad[o + 2], grad[o + 3]
            s0 = s1 = s2 = s3 = src[0] * 0
            for p in range(span):
                s0 += g0[p] * src[p]
                s1 += g1[p] * src[p]
                s2 += g2[p] * src[p]
                s3 += g3[p] * src[p]
            out[o, t] += s0
            out[o + 1, t] += s1
            out[o + 2, t] += s2
            out[o + 3, t] += s3
        for o in range(grouped, c_out):
            total = src[0] * 0
            for p in range(span):
                total += grad[o, p] * src[p]
            out[o, t] += total


@njit(parallel=True, cache=True)
def _conv2d_weight_direct(x, grad_y, kh, kw, ph, pw, dh, dw, group, partial):
    # partial[g] = Σ over the images of group g of the dot products of dY's rows with the
    # shifted image's tap rows (the forward's loop, read backwards); groups depend on the
    # shapes only, so the sum's order never changes
    n_img, c_in, height = x.shape[0], x.shape[1], x.shape[2]
    c_out, out_h, out_w = grad_y.shape[1], grad_y.shape[2], grad_y.shape[3]
    row, offset = _tap_rows(c_in, kh, kw, dh, out_w)
    for g in prange(partial.shape[0]):
        partial[g] = 0
        shifted = np.empty((c_in * kw, (height + 2 * ph) * out_w), dtype=x.dtype)
        for n in range(g * group, min(n_img, (g + 1) * group)):
            _shift_columns(x[n], kw, ph, pw, dw, 0, out_w, shifted)
            _tap_dots(shifted, row, offset, grad_y[n].reshape(c_out, out_h * out_w), partial[g])


@njit(parallel=True, cache=True)
def _conv_transpose2d_direct(x, weight, kh, kw, ph, pw, dh, dw, out):
    # the adjoint of _conv2d_direct, per image: each tap (c, i, j) of channel o spreads x's row o
    # onto the shifted row (o, j) from offset i·dh·W on (eight input channels c per pass), and
    # _fold_columns adds the shifted rows back onto the image; weight is (C_out, kh, kw, C_in)
    n_img, c_in, in_h, in_w = x.shape
    c_out, out_h = out.shape[1], out.shape[2]
    span = in_h * in_w
    grouped = c_in - c_in % 8
    for n in prange(n_img):
        shifted = np.zeros((c_out * kw, (out_h + 2 * ph) * in_w), dtype=x.dtype)
        src = x[n].reshape(c_in, span)
        for o in range(c_out):
            for i in range(kh):
                for j in range(kw):
                    dst = shifted[o * kw + j, i * dh * in_w:]
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
        _fold_columns(shifted, kw, ph, pw, dw, in_w, out[n])


def _direct_pays_off(c_in, c_out, stride):
    return tuple(stride) == (1, 1) and c_in * c_out <= tuning.DIRECT_MAX_CHANNEL_PAIRS


def _winograd_pays_off(c_in, c_out, kernel_size, stride, dilation, out_hw):
    return (tuple(kernel_size) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and min(c_in, c_out) >= tuning.WINOGRAD_MIN_CHANNELS
            and out_hw[0] * out_hw[1] >= tuning.WINOGRAD_MIN_PIXELS)


# ---------------------------------------------------------------- convolution by im2col + GEMM

@njit(parallel=True, cache=True)
def _conv2d_gemm(x, weight, kh, kw, sh, sw, ph, pw, dh, dw, zero, chunk, y):
    # per chunk of images: unfold into columns, multiply by the (C_out, C·kh·kw) weights,
    # copy each image's rows of the product into y
    n_img = x.shape[0]
    c_out, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    rows, plane = weight.shape[1], out_h * out_w
    for b in prange((n_img + chunk - 1) // chunk):
        n0, m = b * chunk, min(chunk, n_img - b * chunk)
        cols = np.empty((rows, m * plane), dtype=x.dtype)
        _unfold(x[n0:n0 + m], kh, kw, sh, sw, ph, pw, dh, dw, zero, out_h, out_w, cols)
        product = np.empty((c_out, m * plane), dtype=x.dtype)
        gemm(weight, cols, product)
        for k in range(m):
            for o in range(c_out):
                src, dst = product[o, k * plane:], y[n0 + k, o].reshape(plane)
                for p in range(plane):
                    dst[p] = src[p]


@njit(parallel=True, cache=True)
def _conv_transpose2d_gemm(x, weight, kh, kw, sh, sw, ph, pw, dh, dw, chunk, out):
    # per chunk: the images' channels side by side as rows, columns = Wᵀ · rows, folded onto out
    n_img, in_h, in_w = x.shape[0], x.shape[2], x.shape[3]
    for b in prange((n_img + chunk - 1) // chunk):
        n0, m = b * chunk, min(chunk, n_img - b * chunk)
        cols = np.empty((weight.shape[1], m * in_h * in_w), dtype=x.dtype)
        gemm(weight.T, _side_by_side(x, n0, m), cols)
        _fold(cols, kh, kw, sh, sw, ph, pw, dh, dw, in_h, in_w, out[n0:n0 + m])


@njit(parallel=True, cache=True)
def _conv2d_weight_gemm(x, grad_y, kh, kw, sh, sw, ph, pw, dh, dw, zero, chunk, group, partial):
    # partial[g] = Σ over the chunks of group g of columns_chunk · dY_chunkᵀ (K × C_out, the
    # orientation OpenBLAS runs faster); the grouping depends on the shapes only, so the sum's
    # order (and its rounding) never changes
    n_img, c_out, out_h, out_w = grad_y.shape
    rows, plane = partial.shape[1], out_h * out_w
    n_chunks = (n_img + chunk - 1) // chunk
    for g in prange(partial.shape[0]):
        partial[g] = 0
        for b in range(g * group, min(n_chunks, (g + 1) * group)):
            n0, m = b * chunk, min(chunk, n_img - b * chunk)
            cols = np.empty((rows, m * plane), dtype=x.dtype)
            _unfold(x[n0:n0 + m], kh, kw, sh, sw, ph, pw, dh, dw, zero, out_h, out_w, cols)
            gemm(cols, _side_by_side(grad_y, n0, m).T, partial[g], True)


@njit(parallel=True, cache=True)
def _conv2d_weight_rows(x, grad_y, kh, kw, sh, sw, ph, pw, dh, dw, zero, block, grad_w):
    # grad_w[:, r] = dY · columns[r]ᵀ over the whole batch, a block of rows r = (c, i, j) per
    # task: for small images, where dY is small and the (C_out × K) result is not
    n_img, c_out, out_h, out_w = grad_y.shape
    rows = grad_w.shape[1]
    dy = _side_by_side(grad_y, 0, n_img)
    for b in prange((rows + block - 1) // block):
        r0, r1 = b * block, min(rows, (b + 1) * block)
        cols = np.empty((r1 - r0, n_img * out_h * out_w), dtype=x.dtype)
        _unfold_rows(x, kh, kw, sh, sw, ph, pw, dh, dw, zero, out_h, out_w, r0, cols)
        gemm(dy, cols.T, grad_w[:, r0:r1])


@njit(cache=True)
def _side_by_side(a, n0, m):
    # images n0 .. n0+m-1 of a (N, C, H, W) as one (C, m·H·W) matrix: channel rows, images side by side
    # (element by element: a slice assignment would compile a shape check with its error message)
    channels, plane = a.shape[1], a.shape[2] * a.shape[3]
    out = np.empty((channels, m * plane), dtype=a.dtype)
    for k in range(m):
        image = a[n0 + k].reshape(channels, plane)
        for c in range(channels):
            src, dst = image[c], out[c, k * plane:]
            for p in range(plane):
                dst[p] = src[p]
    return out


def _images_per_chunk(n, bytes_per_image, plane):
    """Images per chunk: their columns fit CHUNK_BYTES, yet give the GEMM MIN_COLUMNS columns."""
    wanted = max(tuning.CHUNK_BYTES // max(1, bytes_per_image), -(-tuning.MIN_COLUMNS // plane), 1)
    chunks = -(-n // min(n, wanted))
    return -(-n // chunks)  # the same number of chunks, evened out


def conv2d(x, weight, stride, padding, dilation):
    """y = conv2d(x, W): direct loop for very few channels, Winograd for wide 3×3 stride-1
    layers, else im2col + GEMM per chunk of images; see reference.conv2d."""
    x = np.ascontiguousarray(x)
    c_out, c_in, kh, kw = weight.shape
    out_hw = _out_hw(x.shape, (kh, kw), stride, padding, dilation)
    y = np.empty((x.shape[0], c_out) + out_hw, dtype=x.dtype)
    flat_weight = np.ascontiguousarray(weight.reshape(c_out, -1))
    if _direct_pays_off(c_in, c_out, stride):
        _conv2d_direct(x, flat_weight, kh, kw, *padding, *dilation, y)
        return y
    if _winograd_pays_off(c_in, c_out, (kh, kw), stride, dilation, out_hw):
        _conv2d_winograd(x, weight, padding, y)
        return y
    chunk = _images_per_chunk(x.shape[0], c_in * kh * kw * out_hw[0] * out_hw[1] * x.itemsize,
                              out_hw[0] * out_hw[1])
    _conv2d_gemm(x, flat_weight, kh, kw, *stride, *padding, *dilation, x.dtype.type(0), chunk, y)
    return y


def _conv2d_winograd(x, weight, padding, y):
    # F(2×2, 3×3) in chunks of images whose transformed tiles fit CHUNK_BYTES (winograd.py)
    tiles = np.prod(winograd.tiles_of(*y.shape[2:]))
    chunk = _winograd_chunk(x.shape[0], x.shape[1] + y.shape[1], tiles, x.itemsize)
    winograd.conv2d_loop(x, winograd.weight_transform(weight), *padding, chunk, y)


def _winograd_chunk(n, channels, tiles, itemsize):
    """Images per Winograd chunk: as _images_per_chunk for 16 transformed values per tile and
    channel (in and out), but at least MIN_PARTIALS chunks when the batch allows: a batch of
    small planes otherwise made one chunk, one thread. By the shapes alone, so that no result
    depends on the thread count."""
    chunk = _images_per_chunk(n, 16 * channels * tiles * itemsize, tiles)
    return min(chunk, -(-n // tuning.MIN_PARTIALS))


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """y = col2im(Wᵀ · x), the input gradient of conv2d (by the direct loop's adjoint or by
    Winograd where conv2d takes them); see reference.conv_transpose2d."""
    x = np.ascontiguousarray(x)
    n, c_in = x.shape[:2]
    c_out, kernel_size = weight.shape[1], weight.shape[2:]
    out = np.empty((n, c_out) + tuple(out_hw), dtype=x.dtype)
    if _direct_pays_off(c_in, c_out, stride):
        _conv_transpose2d_direct(x, np.ascontiguousarray(weight.transpose(1, 2, 3, 0)),
                                 *kernel_size, *padding, *dilation, out)
        return out
    if _winograd_pays_off(c_in, c_out, kernel_size, stride, dilation, out_hw) and max(padding) <= 2:
        # stride 1: the convolution of x with the flipped kernel, channel axes swapped, padded 2 − p
        flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        _conv2d_winograd(x, flipped, (2 - padding[0], 2 - padding[1]), out)
        return out
    rows = c_out * kernel_size[0] * kernel_size[1]
    chunk = _images_per_chunk(n, rows * x.shape[2] * x.shape[3] * x.itemsize, x.shape[2] * x.shape[3])
    _conv_transpose2d_gemm(x, np.ascontiguousarray(weight.reshape(c_in, rows)), *kernel_size,
                           *stride, *padding, *dilation, chunk, out)
    return out


@njit(parallel=True, cache=True)
def _add_channel_bias(y, bias):
    # y[n, c, p] += bias[c], one plane per task
    channels = y.shape[1]
    for t in prange(y.shape[0] * channels):
        plane, b = y[t // channels, t % channels], bias[t % channels]
        for p in range(plane.shape[0]):
            plane[p] += b


def add_channel_bias(y, bias):
    """y += b, one number per channel of y (N, C, H, W), in place, one parallel pass; the
    adjoint of ``channel_sums`` (``functional.conv``)."""
    if not y.flags.c_contiguous:
        y += bias.reshape(1, -1, 1, 1)
        return y
    _add_channel_bias(y.reshape(y.shape[0], y.shape[1], -1), np.ascontiguousarray(bias))
    return y


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def _channel_sums(a, sums):
    # sums[c] = Σ_n Σ_p a[n, c, p]; "reassoc" lets LLVM keep several partial sums in SIMD lanes
    for c in prange(a.shape[1]):
        total = sums[c] * 0
        for n in range(a.shape[0]):
            plane = a[n, c]
            for p in range(plane.shape[0]):
                total += plane[p]
        sums[c] = total


def channel_sums(a):
    """Σ over the batch and the pixels, one parallel task per channel; a bias's gradient (``functional.conv``)."""
    a = np.ascontiguousarray(a)
    sums = np.zeros(a.shape[1], dtype=a.dtype)
    _channel_sums(a.reshape(a.shape[0], a.shape[1], -1), sums)
    return sums


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """dW = dY · im2col(x)ᵀ: for very few channels and large images, dot products over the
    shifted rows of the direct loop; for wide 3×3 stride-1 layers, Winograd's adjoint; else
    im2col + GEMM summed over chunks. See reference.conv2d_weight."""
    x, grad_y = np.ascontiguousarray(x), np.ascontiguousarray(grad_y)
    n, c = x.shape[:2]
    c_out = grad_y.shape[1]
    rows = c * kernel_size[0] * kernel_size[1]
    pixels = grad_y.shape[2] * grad_y.shape[3]
    if _direct_pays_off(c, c_out, stride) and pixels >= tuning.DIRECT_MIN_PIXELS:
        group = tuning.IMAGES_PER_PARTIAL
        partial = np.empty((-(-n // group), c_out, rows), dtype=x.dtype)
        _conv2d_weight_direct(x, grad_y, *kernel_size, *padding, *dilation, group, partial)
        return partial.sum(axis=0).reshape((c_out, c) + tuple(kernel_size))
    if _winograd_pays_off(c, c_out, kernel_size, stride, dilation, grad_y.shape[2:]):
        return _conv2d_weight_winograd(x, grad_y, padding)
    settings = (*kernel_size, *stride, *padding, *dilation, x.dtype.type(0))
    if grad_y.nbytes <= tuning.SMALL_GRAD_BYTES:  # small dY: split the rows of the result, not the batch
        grad_w = np.empty((c_out, rows), dtype=x.dtype)
        _conv2d_weight_rows(x, grad_y, *settings, _rows_per_block(rows, grad_y.nbytes // c_out), grad_w)
        return grad_w.reshape((c_out, c) + tuple(kernel_size))
    plane = grad_y.shape[2] * grad_y.shape[3]
    chunk = _images_per_chunk(n, rows * plane * x.itemsize, plane)
    group, groups = _partial_groups(n, chunk, c_out * rows * x.itemsize)
    partial = np.empty((groups, rows, c_out), dtype=x.dtype)
    _conv2d_weight_gemm(x, grad_y, *settings, chunk, group, partial)
    return np.ascontiguousarray(partial.sum(axis=0).T).reshape((c_out, c) + tuple(kernel_size))


def _rows_per_block(rows, bytes_per_row):
    """Rows of the weight gradient per task: their columns fit CHUNK_BYTES, and every thread
    gets a block; evened out (336 rows in blocks of 327 left one thread 9). Each block is a
    separate part of the result, so the split cannot change it."""
    blocks = max(-(-rows // max(1, tuning.CHUNK_BYTES // max(1, bytes_per_row))),
                 min(rows, numba.get_num_threads()))
    return -(-rows // blocks)


def _conv2d_weight_winograd(x, grad_y, padding):
    # F(2×2, 3×3)'s weight gradient: 16 sums over the tiles, per group of chunks of images
    n, c_in, c_out = x.shape[0], x.shape[1], grad_y.shape[1]
    tiles = np.prod(winograd.tiles_of(*grad_y.shape[2:]))
    chunk = _winograd_chunk(n, c_in + c_out, tiles, x.itemsize)
    group, groups = _partial_groups(n, chunk, 16 * c_out * c_in * x.itemsize)
    partial = np.empty((groups, 16, c_out, c_in), dtype=x.dtype)
    winograd.weight_sums_loop(x, grad_y, *padding, chunk, group, partial)
    return winograd.weight_from_sums(partial.sum(axis=0))


def _partial_groups(n, chunk, partial_bytes):
    """(chunks per group, groups): partial results of PARTIAL_BYTES in all, at least MIN_PARTIALS."""
    n_chunks = -(-n // chunk)
    groups = min(n_chunks, max(tuning.MIN_PARTIALS, tuning.PARTIAL_BYTES // partial_bytes))
    group = -(-n_chunks // groups)
    return group, -(-n_chunks // group)
