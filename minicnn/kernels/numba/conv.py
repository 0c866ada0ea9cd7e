"""Convolutions in the Numba face: 1×1 convolutions without unfolding, pixel pairs on small
maps, Winograd, and im2col + GEMM fused per chunk of images.

Each public function has the signature of its twin in ``reference.py`` and takes the first
of four ways that suits the layer's shape (the tuned thresholds are in ``tuning.py``):

* **1×1 convolutions** (stride 1, no padding): each image's channels already are its
  columns, so one GEMM per image, nothing unfolded or copied (for the weight gradient,
  summed in groups of images).
* **Pixel pairs** on small output planes (and batches large enough): one GEMM per pair of
  pixels that a tap joins, images × C_in times C_in × C_out. Only the products that meet the
  image are computed; im2col spends 30–55 % of its work on padding at these sizes and
  unfolds planes of a few pixels one by one.
* **Winograd** F(2×2, 3×3) for 3×3 stride-1 layers with many channels (``winograd.py``):
  2.25× fewer multiply-adds, for the convolution, its input gradient and its weight gradient.
* **im2col + GEMM** otherwise: each parallel task (``parallel.py``) unfolds a chunk of images into
  columns that fit the core's L2 cache and multiplies them, calling BLAS from inside
  Numba's thread (``blas.py``, one thread per call). The columns never travel to main
  memory, and Numba and BLAS never hand the cores to each other. The forward pass unfolds
  and multiplies one image at a time, straight into the output, unless its planes are too
  small for a GEMM each (then a chunk at once, copied out). A weight gradient whose dY is
  small splits the rows of its result instead of the batch.

No result depends on the number of threads: partial sums are grouped by the shapes alone.
A convolution's bias and its gradient are left to ``functional.conv``'s NumPy code, which
is as fast and compiles nothing.
Idea: the loops of reference.py written out element by element (minitorch's fast ops;
Lam, Pitrou & Seibert (2015), "Numba: a LLVM-based Python JIT compiler"); the convolution as
a sum over taps of shifted products, d2l §7.2.
"""
import numpy as np
from numba import njit

from . import tuning
from . import winograd
from .blas import gemm
from .parallel import parallel_for
from .unfold import _fold, _out_hw, _unfold_rows


def _winograd_pays_off(c_in, c_out, kernel_size, stride, dilation, out_hw):
    return (tuple(kernel_size) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and min(c_in, c_out) >= tuning.WINOGRAD_MIN_CHANNELS
            and (out_hw[0] * out_hw[1] >= tuning.WINOGRAD_MIN_PIXELS
                 or min(out_hw) >= tuning.WINOGRAD_MIN_EVEN_SIDE and out_hw[0] % 2 == out_hw[1] % 2 == 0))


# ---------------------------------------------------------------- 1×1 convolution: no unfolding

def _is_pointwise(kernel_size, stride, padding):
    return tuple(kernel_size) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


@njit(cache=True)
def _pointwise_image(n, x, matrix, y):
    # image n's channels are already its im2col columns, (C_in, H·W): y[n] = matrix · x[n]
    gemm(matrix, x[n].reshape(x.shape[1], x.shape[2] * x.shape[3]),
         y[n].reshape(y.shape[1], y.shape[2] * y.shape[3]))


@njit(cache=True)
def _pointwise_weight_group(g, x, grad_y, group, partial):
    # partial[g] = Σ over the images n of group g of dY[n] · x[n]ᵀ, (C_out, H·W) · (H·W, C_in)
    c_in, c_out, plane = x.shape[1], grad_y.shape[1], x.shape[2] * x.shape[3]
    partial[g] = 0
    for n in range(g * group, min(x.shape[0], (g + 1) * group)):
        gemm(grad_y[n].reshape(c_out, plane), x[n].reshape(c_in, plane).T, partial[g], True)


def _pointwise(x, matrix):
    """y[n] = matrix · x[n] for every image: a 1×1 convolution with stride 1 and no padding (a
    dense layer at every pixel, d2l §8.3), or its transpose."""
    y = np.empty((x.shape[0], matrix.shape[0]) + x.shape[2:], dtype=x.dtype)
    parallel_for(_pointwise_image, x.shape[0], x, matrix, y)
    return y


def _pointwise_weight(x, grad_y):
    """dW = Σ_n dY[n] · x[n]ᵀ of a 1×1 convolution, summed in groups of images (by the shapes
    alone, so that no result depends on the thread count)."""
    c_out, c_in = grad_y.shape[1], x.shape[1]
    group, groups = _partial_groups(x.shape[0], 1, c_out * c_in * x.itemsize)
    partial = np.empty((groups, c_out, c_in), dtype=x.dtype)
    parallel_for(_pointwise_weight_group, groups, x, grad_y, group, partial)
    return partial.sum(axis=0).reshape(c_out, c_in, 1, 1)


# ---------------------------------------------------------------- small maps: pixel pairs

def _by_pairs_pays_off(n, out_hw):
    return out_hw[0] * out_hw[1] <= tuning.PAIRS_MAX_PIXELS and n >= tuning.PAIRS_MIN_BATCH


def _tap_pairs(in_hw, out_hw, kernel_size, stride, padding, dilation):
    """(tap, input pixel, output pixel) index arrays of every product that meets the image:
    output pixel (oh, ow) reads input pixel (oh·s − p + i·d, ow·s − p + j·d) through tap (i, j)."""
    i, j, oh, ow = np.indices(tuple(kernel_size) + tuple(out_hw)).reshape(4, -1)
    h = oh * stride[0] - padding[0] + i * dilation[0]
    w = ow * stride[1] - padding[1] + j * dilation[1]
    inside = (0 <= h) & (h < in_hw[0]) & (0 <= w) & (w < in_hw[1])
    return (i * kernel_size[1] + j)[inside], (h * in_hw[1] + w)[inside], (oh * out_hw[1] + ow)[inside]


def _pixels_last(a):
    # (N, C, H, W) as (N, H·W, C): each pixel's channels side by side
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.reshape(n, c, h * w).transpose(0, 2, 1))


def _pixels_first(a, shape):
    # the inverse of _pixels_last: (N, H·W, C) as an (N, C, H, W) array of the given shape
    return np.ascontiguousarray(a.transpose(0, 2, 1)).reshape(shape)


def _grouped_by(key, count, *arrays):
    # the arrays sorted by key (stably), and where each key's run starts: runs[k] … runs[k + 1]
    order = np.argsort(key, kind="stable")
    return [a[order] for a in arrays] + [np.searchsorted(key[order], np.arange(count + 1))]


@njit(cache=True, inline='always')
def _item_and_block(t, blocks, size):
    # task t = (item, block): the item, and the block's share [lo, hi) of 0 … size − 1
    width = -(-size // blocks)
    block = t % blocks
    return t // blocks, block * width, min(size, (block + 1) * width)


@njit(cache=True)
def _pixel_products(t, inp, matrices, tap, source, runs, blocks, out):
    # task t = (pixel p of out, block of rows): out[rows, p] = Σ over p's pairs k, in their
    # order, of inp[rows, source[k]] · matrices[tap[k]]
    p, n0, n1 = _item_and_block(t, blocks, inp.shape[0])
    for k in range(runs[p], runs[p + 1]):
        gemm(inp[n0:n1, source[k]], matrices[tap[k]], out[n0:n1, p], True)


@njit(cache=True)
def _tap_sums(t, x, grad_y, pixel_in, pixel_out, runs, blocks, grad_taps):
    # task t = (tap, block of output channels): dW at the tap = Σ over its pairs k, in their
    # order, of x[:, pixel_in[k]]ᵀ · dY[:, pixel_out[k]]
    tap, o0, o1 = _item_and_block(t, blocks, grad_y.shape[2])
    for k in range(runs[tap], runs[tap + 1]):
        gemm(x[:, pixel_in[k]].T, grad_y[:, pixel_out[k], o0:o1], grad_taps[tap, :, o0:o1], True)


def _by_pixel_pairs(inp, matrices, tap, source, target, target_shape):
    """out[:, q] = Σ over the pairs (tap t, pixel p → q) of inp[:, p] · matrices[t], on
    pixels-last images: a convolution (matrices = Wᵀ per tap) or its transpose (W per tap,
    the pairs reversed) as one small GEMM per pair of pixels that a tap joins. Idea: kn2row,
    one 1×1 GEMM per tap shifted onto the output (Vasudevan, Anderson & Gregg 2017), cut
    further to the pixels where the shifted tap meets the image."""
    n, channels, pixels = target_shape[0], target_shape[1], target_shape[2] * target_shape[3]
    tap, source, runs = _grouped_by(target, pixels, tap, source)
    blocks = max(1, min(n, -(-tuning.MIN_PARTIALS // max(1, pixels))))  # rows split for few pixels
    out = np.zeros((n, pixels, channels), dtype=inp.dtype)
    parallel_for(_pixel_products, pixels * blocks, inp, matrices, tap, source, runs, blocks, out)
    return _pixels_first(out, target_shape)


# ---------------------------------------------------------------- convolution by im2col + GEMM

@njit(cache=True)
def _conv2d_gemm_images(b, x, weight, kh, kw, sh, sw, ph, pw, dh, dw, chunk, y):
    # the images of chunk b one by one: unfold into columns (C·kh·kw, OH·OW), multiply by the
    # (C_out, C·kh·kw) weights straight into y[n]
    c_out, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    cols = np.empty((weight.shape[1], out_h * out_w), dtype=x.dtype)
    for n in range(b * chunk, min(x.shape[0], (b + 1) * chunk)):
        _unfold_rows(x[n:n + 1], kh, kw, sh, sw, ph, pw, dh, dw, x.dtype.type(0), out_h, out_w, 0, cols)
        gemm(weight, cols, y[n].reshape(c_out, out_h * out_w))


@njit(cache=True)
def _conv2d_gemm_chunk(b, x, weight, kh, kw, sh, sw, ph, pw, dh, dw, chunk, y):
    # chunk b of the images at once: unfold into columns, multiply by the weights, copy each
    # image's rows of the product into y (for small planes, too narrow a GEMM each)
    n0, n1 = b * chunk, min(x.shape[0], (b + 1) * chunk)
    c_out, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    plane = out_h * out_w
    cols = np.empty((weight.shape[1], (n1 - n0) * plane), dtype=x.dtype)
    _unfold_rows(x[n0:n1], kh, kw, sh, sw, ph, pw, dh, dw, x.dtype.type(0), out_h, out_w, 0, cols)
    product = np.empty((c_out, (n1 - n0) * plane), dtype=x.dtype)
    gemm(weight, cols, product)
    for k in range(n1 - n0):
        for o in range(c_out):
            src, dst = product[o, k * plane:], y[n0 + k, o].reshape(plane)
            for p in range(plane):
                dst[p] = src[p]


@njit(cache=True)
def _conv_transpose2d_gemm_chunk(b, x, weight, kh, kw, sh, sw, ph, pw, dh, dw, chunk, out):
    # chunk b: the images' channels side by side as rows, columns = Wᵀ · rows, folded onto out
    n0, n1 = b * chunk, min(x.shape[0], (b + 1) * chunk)
    in_h, in_w = x.shape[2], x.shape[3]
    cols = np.empty((weight.shape[1], (n1 - n0) * in_h * in_w), dtype=x.dtype)
    gemm(weight.T, _side_by_side(x[n0:n1]), cols)
    _fold(cols, kh, kw, sh, sw, ph, pw, dh, dw, in_h, in_w, out[n0:n1])


@njit(cache=True)
def _conv2d_weight_gemm_group(g, x, grad_y, kh, kw, sh, sw, ph, pw, dh, dw, chunk, group, partial):
    # partial[g] = Σ over the chunks of group g of columns_chunk · dY_chunkᵀ (K × C_out, the
    # orientation OpenBLAS runs faster); the grouping depends on the shapes only, so the sum's
    # order (and its rounding) never changes
    n_img, out_h, out_w = x.shape[0], grad_y.shape[2], grad_y.shape[3]
    partial[g] = 0
    for n0 in range(g * group * chunk, min(n_img, (g + 1) * group * chunk), chunk):
        n1 = min(n_img, n0 + chunk)
        cols = np.empty((partial.shape[1], (n1 - n0) * out_h * out_w), dtype=x.dtype)
        _unfold_rows(x[n0:n1], kh, kw, sh, sw, ph, pw, dh, dw, x.dtype.type(0), out_h, out_w, 0, cols)
        gemm(cols, _side_by_side(grad_y[n0:n1]).T, partial[g], True)


@njit(cache=True)
def _conv2d_weight_rows_block(b, x, dy, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, block, grad_w):
    # grad_w[:, r] = dY · columns[r]ᵀ over the whole batch for the block b of rows r = (c, i, j):
    # for small images, where dY (C_out × N·OH·OW, side by side) is small and the (C_out × K)
    # result is not
    r0, r1 = b * block, min(grad_w.shape[1], (b + 1) * block)
    cols = np.empty((r1 - r0, dy.shape[1]), dtype=x.dtype)
    _unfold_rows(x, kh, kw, sh, sw, ph, pw, dh, dw, x.dtype.type(0), out_h, out_w, r0, cols)
    gemm(dy, cols.T, grad_w[:, r0:r1])


@njit(cache=True)
def _side_by_side(a):
    # the images of a (N, C, H, W) as one (C, N·H·W) matrix: channel rows, images side by side
    # (element by element: a slice assignment would compile a shape check with its error message)
    m, channels, plane = a.shape[0], a.shape[1], a.shape[2] * a.shape[3]
    out = np.empty((channels, m * plane), dtype=a.dtype)
    for k in range(m):
        image = a[k].reshape(channels, plane)
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
    """y = conv2d(x, W): a GEMM per image for 1×1 layers, pixel pairs on small maps, Winograd
    for wide 3×3 stride-1 layers, else im2col + GEMM per chunk of images; see reference.conv2d."""
    x = np.ascontiguousarray(x)
    c_out, c_in, kh, kw = weight.shape
    out_hw = _out_hw(x.shape, (kh, kw), stride, padding, dilation)
    flat_weight = np.ascontiguousarray(weight.reshape(c_out, -1))
    if _is_pointwise((kh, kw), stride, padding):
        return _pointwise(x, flat_weight)
    y_shape = (x.shape[0], c_out) + out_hw
    if _by_pairs_pays_off(x.shape[0], out_hw):
        taps = np.ascontiguousarray(weight.reshape(c_out, c_in, kh * kw).transpose(2, 1, 0))  # Wᵀ per tap
        pairs = _tap_pairs(x.shape[2:], out_hw, (kh, kw), stride, padding, dilation)
        return _by_pixel_pairs(_pixels_last(x), taps, *pairs, y_shape)
    y = np.empty(y_shape, dtype=x.dtype)
    if _winograd_pays_off(c_in, c_out, (kh, kw), stride, dilation, out_hw):
        _conv2d_winograd(x, weight, padding, y)
        return y
    plane = out_hw[0] * out_hw[1]
    chunk = _images_per_chunk(x.shape[0], c_in * kh * kw * plane * x.itemsize, plane)
    task = _conv2d_gemm_images if plane >= tuning.MIN_IMAGE_COLUMNS else _conv2d_gemm_chunk
    parallel_for(task, -(-x.shape[0] // chunk), x, flat_weight, kh, kw, *stride,
                 *padding, *dilation, chunk, y)
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
    """y = col2im(Wᵀ · x), the input gradient of conv2d, the same ways as conv2d; see
    reference.conv_transpose2d."""
    x = np.ascontiguousarray(x)
    n, c_in = x.shape[:2]
    c_out, kernel_size = weight.shape[1], weight.shape[2:]
    if _is_pointwise(kernel_size, stride, padding):  # dX[n] = Wᵀ · dY[n]
        return _pointwise(x, np.ascontiguousarray(weight.reshape(c_in, c_out).T))
    out_shape = (n, c_out) + tuple(out_hw)
    if _by_pairs_pays_off(n, x.shape[2:]):  # conv2d's pairs reversed, W per tap
        taps = np.ascontiguousarray(weight.reshape(c_in, c_out, -1).transpose(2, 0, 1))
        tap, pixel_in, pixel_out = _tap_pairs(out_hw, x.shape[2:], kernel_size, stride, padding, dilation)
        return _by_pixel_pairs(_pixels_last(x), taps, tap, pixel_out, pixel_in, out_shape)
    out = np.empty(out_shape, dtype=x.dtype)
    if _winograd_pays_off(c_in, c_out, kernel_size, stride, dilation, out_hw) and max(padding) <= 2:
        # stride 1: the convolution of x with the flipped kernel, channel axes swapped, padded 2 − p
        flipped = np.ascontiguousarray(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        _conv2d_winograd(x, flipped, (2 - padding[0], 2 - padding[1]), out)
        return out
    rows = c_out * kernel_size[0] * kernel_size[1]
    chunk = _images_per_chunk(n, rows * x.shape[2] * x.shape[3] * x.itemsize, x.shape[2] * x.shape[3])
    parallel_for(_conv_transpose2d_gemm_chunk, -(-n // chunk), x,
                 np.ascontiguousarray(weight.reshape(c_in, rows)), *kernel_size, *stride, *padding,
                 *dilation, chunk, out)
    return out


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """dW = dY · im2col(x)ᵀ, the same ways as conv2d: for 1×1 layers Σ_n dY[n] · x[n]ᵀ, on
    small maps sums over pixel pairs per tap, for wide 3×3 stride-1 layers Winograd's adjoint,
    else im2col + GEMM summed over chunks. See reference.conv2d_weight."""
    x, grad_y = np.ascontiguousarray(x), np.ascontiguousarray(grad_y)
    n, c = x.shape[:2]
    c_out = grad_y.shape[1]
    rows = c * kernel_size[0] * kernel_size[1]
    if _is_pointwise(kernel_size, stride, padding) and x.shape[2] * x.shape[3] > 1:  # (one pixel: pairs)
        return _pointwise_weight(x, grad_y)
    if _by_pairs_pays_off(n, grad_y.shape[2:]):
        return _conv2d_weight_by_pixel_pairs(x, grad_y, kernel_size, stride, padding, dilation)
    if _winograd_pays_off(c, c_out, kernel_size, stride, dilation, grad_y.shape[2:]):
        return _conv2d_weight_winograd(x, grad_y, padding)
    settings = (*kernel_size, *stride, *padding, *dilation)
    if grad_y.nbytes <= tuning.SMALL_GRAD_BYTES:  # small dY: split the rows of the result, not the batch
        grad_w = np.empty((c_out, rows), dtype=x.dtype)
        block = _rows_per_block(rows, grad_y.nbytes // c_out)
        parallel_for(_conv2d_weight_rows_block, -(-rows // block), x, _side_by_side(grad_y), *settings,
                     *grad_y.shape[2:], block, grad_w)
        return grad_w.reshape((c_out, c) + tuple(kernel_size))
    plane = grad_y.shape[2] * grad_y.shape[3]
    chunk = _images_per_chunk(n, rows * plane * x.itemsize, plane)
    group, groups = _partial_groups(n, chunk, c_out * rows * x.itemsize)
    partial = np.empty((groups, rows, c_out), dtype=x.dtype)
    parallel_for(_conv2d_weight_gemm_group, groups, x, grad_y, *settings, chunk, group, partial)
    return np.ascontiguousarray(partial.sum(axis=0).T).reshape((c_out, c) + tuple(kernel_size))


def _conv2d_weight_by_pixel_pairs(x, grad_y, kernel_size, stride, padding, dilation):
    # dW at tap t = Σ over the pairs of pixels t joins of xᵀ · dY there, on pixels-last images
    c_in, c_out, n_taps = x.shape[1], grad_y.shape[1], kernel_size[0] * kernel_size[1]
    tap, pixel_in, pixel_out = _tap_pairs(x.shape[2:], grad_y.shape[2:], kernel_size, stride, padding, dilation)
    pixel_in, pixel_out, runs = _grouped_by(tap, n_taps, pixel_in, pixel_out)
    blocks = max(1, min(c_out, -(-tuning.MIN_PARTIALS // n_taps)))  # output channels split for few taps
    grad_taps = np.zeros((n_taps, c_in, c_out), dtype=x.dtype)
    parallel_for(_tap_sums, n_taps * blocks, _pixels_last(x), _pixels_last(grad_y), pixel_in, pixel_out,
                 runs, blocks, grad_taps)
    return np.ascontiguousarray(grad_taps.transpose(2, 1, 0)).reshape((c_out, c_in) + tuple(kernel_size))


def _rows_per_block(rows, bytes_per_row):
    """Rows of the weight gradient per task: their columns fit CHUNK_BYTES, in at least
    MIN_PARTIALS blocks, evened out (336 rows in blocks of 327 left one task 9). By the shapes
    alone: OpenBLAS may round a product's entries differently for another number of columns."""
    blocks = max(-(-rows // max(1, tuning.CHUNK_BYTES // max(1, bytes_per_row))),
                 min(rows, tuning.MIN_PARTIALS))
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
