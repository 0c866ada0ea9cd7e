"""The CPU face of the hot loops: Numba-compiled, multi-threaded, same answers as reference.py.

Every public function here has the signature of its twin in ``reference.py``. This module
holds the convolutions; im2col and col2im live in ``_numba_unfold.py``, the pooling loops
in ``_numba_pooling.py``, BatchNorm's in ``_numba_norm.py`` and the dense layers' in
``_numba_dense.py``, and this module hands them on. Set ``NUMBA_DISABLE_JIT=1`` to run the
loops as plain Python and step through them.
Idea: the loops of reference.py written out element by element (minitorch's fast ops;
Lam, Pitrou & Seibert (2015), "Numba: a LLVM-based Python JIT compiler").

The pieces of craft, each measured on a 2-core machine (docs/performance.md):

* A convolution with very few channels (LeNet's first) runs as a direct loop over the image's
  column-shifted rows (``_numba_unfold``): tap (i, j) of output pixel p = oh·OW + ow reads
  shifted row (c, j) at i·OW + p, so every tap is one long, contiguous multiply-add over
  all OH·OW outputs (eight taps per pass, so each load and store of the output row serves
  eight of them). The shifted copy is small enough to stay in the core's L1/L2 cache. Its
  adjoint (the input gradient, a transposed convolution) runs the same loop backwards:
  each tap spreads dY's rows onto the shifted rows, and ``_fold_columns`` adds those back
  onto the image.
* The weight gradient of such a convolution, when its images are large (LeNet's conv1), is
  one dot product per (output channel, tap) over the same shifted rows, four output
  channels per pass.
* Wide channels, and the other weight gradients, use im2col + BLAS, fused: each task of one
  parallel loop unfolds a chunk of images into columns that fit the core's L2 cache
  (CHUNK_BYTES) and multiplies them at once, calling BLAS from inside Numba's thread. So
  the columns never travel to main memory, and Numba and BLAS never hand the cores to each
  other. (A weight gradient whose dY is small splits the rows of its result instead of
  the batch, so that no task sums a large partial result.) BLAS must then use one thread
  per call: minicnn's own OpenBLAS, started with one thread (``_blas.py``).
* 3×3 convolutions with stride 1 and enough channels skip im2col: Winograd's F(2×2, 3×3)
  (``_numba_winograd``) computes them, their input gradients and their weight gradients
  as 16 smaller GEMMs per chunk of images, with 2.25× fewer multiply-adds.
* Numba's OpenMP threads sleep, after a short spin, between loops
  (``OMP_WAIT_POLICY=PASSIVE`` and ``GOMP_SPINCOUNT=3000``, set by ``minicnn.tune_process()``
  unless you set them yourself): on a machine whose cores are busy,
  spinning threads took 4× the CPU time of a LeNet step.

Only the plain sums and dot products (``channel_sums``, ``_tap_dots``) let LLVM reorder a
floating-point sum (into SIMD lanes), and no result depends on the number of threads:
partial sums are grouped by the shapes alone.
"""
import numba
import numpy as np
from numba import njit, prange

from . import _numba_winograd as winograd
from ._blas import gemm
from ._numba_dense import matmul, sigmoid, sigmoid_backward  # noqa: F401  (this face's dense layers)
from ._numba_norm import batch_norm, batch_norm_backward, channel_moments  # noqa: F401  (BatchNorm)
from ._numba_pooling import (avg_pool2d, avg_pool2d_backward, max_pool2d,  # noqa: F401  (and pooling)
                            max_pool2d_backward)
from ._numba_unfold import (_fold, _fold_columns, _out_hw, _shift_columns,  # noqa: F401  (and
                            _tap_rows, _unfold, _unfold_rows, col2im, im2col)  # im2col, col2im)

CHUNK_BYTES = 1 << 20  # columns of one chunk of images: about one core's L2 cache
PARTIAL_BYTES = 1 << 23  # partial weight gradients kept at once: 8 MB, or MIN_PARTIALS of them
MIN_PARTIALS = 4  # ... so that a few cores always share the weight gradient
MIN_COLUMNS = 256  # a chunk's GEMM gets at least this many columns (OpenBLAS slows below)
DIRECT_MIN_PIXELS = 256  # the direct weight gradient's dot products need this many outputs
IMAGES_PER_PARTIAL = 8  # the direct weight gradient sums this many images per partial result
SMALL_GRAD_BYTES = 1 << 20  # a weight gradient whose dY is this small splits its rows, not the batch
DIRECT_MAX_CHANNEL_PAIRS = 32  # C_in·C_out up to this: direct loop beats im2col + GEMM (LeNet's
# conv1 has 6; its conv2, 96, took the direct loops until minicnn's own OpenBLAS made the GEMM faster)
WINOGRAD_MIN_CHANNELS = 32  # Winograd needs this many input and output channels ...
WINOGRAD_MIN_PIXELS = 36  # ... and output planes this large (3×3 planes waste 7 of 16 tile outputs)


# ---------------------------------------------------------------- direct convolution

@njit(parallel=True, cache=True)
def _conv2d_direct(x, weight, bias, kh, kw, ph, pw, dh, dw, y):
    # per image: y[n, o, p] = bias[o] + Σ_t weight[o, t] · shifted[row[t], offset[t] + p] over
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
        for o in range(c_out):
            acc[o] = bias[o]
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
    return tuple(stride) == (1, 1) and c_in * c_out <= DIRECT_MAX_CHANNEL_PAIRS


def _winograd_pays_off(c_in, c_out, kernel_size, stride, dilation, out_hw):
    return (tuple(kernel_size) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and min(c_in, c_out) >= WINOGRAD_MIN_CHANNELS
            and out_hw[0] * out_hw[1] >= WINOGRAD_MIN_PIXELS)


# ---------------------------------------------------------------- convolution by im2col + GEMM

@njit(parallel=True, cache=True)
def _conv2d_gemm(x, weight, bias, kh, kw, sh, sw, ph, pw, dh, dw, zero, chunk, y):
    # per chunk of images: unfold into columns, multiply by the (C_out, C·kh·kw) weights,
    # copy each image's rows of the product, plus the bias, into y
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
                y[n0 + k, o].reshape(plane)[:] = product[o, k * plane:(k + 1) * plane] + bias[o]


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
    channels, plane = a.shape[1], a.shape[2] * a.shape[3]
    out = np.empty((channels, m * plane), dtype=a.dtype)
    for k in range(m):
        out[:, k * plane:(k + 1) * plane] = a[n0 + k].reshape(channels, plane)
    return out


def _images_per_chunk(n, bytes_per_image, plane):
    """Images per chunk: their columns fit CHUNK_BYTES, yet give the GEMM MIN_COLUMNS columns."""
    wanted = max(CHUNK_BYTES // max(1, bytes_per_image), -(-MIN_COLUMNS // plane), 1)
    chunks = -(-n // min(n, wanted))
    return -(-n // chunks)  # the same number of chunks, evened out


def conv2d(x, weight, stride, padding, dilation, bias=None):
    """y = conv2d(x, W) + b: direct loop for very few channels, Winograd for wide 3×3 stride-1
    layers, else im2col + GEMM per chunk of images."""
    x = np.ascontiguousarray(x)
    c_out, c_in, kh, kw = weight.shape
    bias = np.zeros(c_out, dtype=x.dtype) if bias is None else np.ascontiguousarray(bias)
    out_hw = _out_hw(x.shape, (kh, kw), stride, padding, dilation)
    y = np.empty((x.shape[0], c_out) + out_hw, dtype=x.dtype)
    flat_weight = np.ascontiguousarray(weight.reshape(c_out, -1))
    if _direct_pays_off(c_in, c_out, stride):
        _conv2d_direct(x, flat_weight, bias, kh, kw, *padding, *dilation, y)
        return y
    if _winograd_pays_off(c_in, c_out, (kh, kw), stride, dilation, out_hw):
        _conv2d_winograd(x, weight, bias, padding, y)
        return y
    chunk = _images_per_chunk(x.shape[0], c_in * kh * kw * out_hw[0] * out_hw[1] * x.itemsize,
                              out_hw[0] * out_hw[1])
    _conv2d_gemm(x, flat_weight, bias, kh, kw, *stride, *padding, *dilation, x.dtype.type(0),
                 chunk, y)
    return y


def _conv2d_winograd(x, weight, bias, padding, y):
    # F(2×2, 3×3) in chunks of images whose transformed tiles fit CHUNK_BYTES (_numba_winograd)
    tiles = np.prod(winograd.tiles_of(*y.shape[2:]))
    chunk = _winograd_chunk(x.shape[0], x.shape[1] + y.shape[1], tiles, x.itemsize)
    winograd.conv2d_loop(x, winograd.weight_transform(weight), bias, *padding, chunk, y)


def _winograd_chunk(n, channels, tiles, itemsize):
    """Images per Winograd chunk: as _images_per_chunk for 16 transformed values per tile and
    channel (in and out), but at least MIN_PARTIALS chunks when the batch allows: a batch of
    small planes otherwise made one chunk, one thread. By the shapes alone, so that no result
    depends on the thread count."""
    chunk = _images_per_chunk(n, 16 * channels * tiles * itemsize, tiles)
    return min(chunk, -(-n // MIN_PARTIALS))


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
        _conv2d_winograd(x, flipped, np.zeros(c_out, x.dtype), (2 - padding[0], 2 - padding[1]), out)
        return out
    rows = c_out * kernel_size[0] * kernel_size[1]
    chunk = _images_per_chunk(n, rows * x.shape[2] * x.shape[3] * x.itemsize, x.shape[2] * x.shape[3])
    _conv_transpose2d_gemm(x, np.ascontiguousarray(weight.reshape(c_in, rows)), *kernel_size,
                           *stride, *padding, *dilation, chunk, out)
    return out


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
    """Σ over the batch and the pixels, one parallel task per channel; see reference.channel_sums."""
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
    if _direct_pays_off(c, c_out, stride) and grad_y.shape[2] * grad_y.shape[3] >= DIRECT_MIN_PIXELS:
        partial = np.empty((-(-n // IMAGES_PER_PARTIAL), c_out, rows), dtype=x.dtype)
        _conv2d_weight_direct(x, grad_y, *kernel_size, *padding, *dilation, IMAGES_PER_PARTIAL, partial)
        return partial.sum(axis=0).reshape((c_out, c) + tuple(kernel_size))
    if _winograd_pays_off(c, c_out, kernel_size, stride, dilation, grad_y.shape[2:]):
        return _conv2d_weight_winograd(x, grad_y, padding)
    settings = (*kernel_size, *stride, *padding, *dilation, x.dtype.type(0))
    if grad_y.nbytes <= SMALL_GRAD_BYTES:  # small dY: split the rows of the result, not the batch
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
    blocks = max(-(-rows // max(1, CHUNK_BYTES // max(1, bytes_per_row))),
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
    groups = min(n_chunks, max(MIN_PARTIALS, PARTIAL_BYTES // partial_bytes))
    group = -(-n_chunks // groups)
    return group, -(-n_chunks // group)
