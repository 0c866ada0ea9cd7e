"""Convolutions in the Numba face: small maps as one dense layer, 1×1 convolutions without
unfolding, Winograd, and im2col + GEMM fused per chunk of images.

Each public function has the signature of its twin in ``reference.py`` and picks one of
four ways by the layer's shape (the tuned thresholds are in ``tuning.py``):

* **Small maps** (fewer pixels than the kernel has taps, or one pixel): the convolution is
  one matrix product with the *unrolled* weight, a (H·W·C_in, OH·OW·C_out) matrix holding
  only the products that meet the image. im2col would multiply as many columns again by
  padding (5 of 9 taps on a 2×2 map), and unfold planes of a few pixels one by one.
* **1×1 convolutions** (stride 1, no padding): each image's channels already are its
  columns, so one GEMM per image, nothing unfolded or copied.
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
a matrix with tied weights, d2l §7.2.
"""
import numpy as np
from numba import njit

from . import tuning
from . import winograd
from .blas import gemm
from .dense import matmul
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


def _pointwise(x, matrix):
    """y[n] = matrix · x[n] for every image: a 1×1 convolution with stride 1 and no padding (a
    dense layer at every pixel, d2l §8.3), or its transpose."""
    y = np.empty((x.shape[0], matrix.shape[0]) + x.shape[2:], dtype=x.dtype)
    parallel_for(_pointwise_image, x.shape[0], x, matrix, y)
    return y


# ---------------------------------------------------------------- small maps: one dense layer

def _map_is_small(in_hw, kernel_size):
    # fewer input pixels than kernel taps (the unrolled weight costs fewer products than im2col),
    # or a single pixel (the unrolled weight is the centre tap's matrix: as many products)
    pixels = in_hw[0] * in_hw[1]
    return pixels == 1 or pixels < kernel_size[0] * kernel_size[1]


def _pixels_last(a):
    # (N, C, H, W) as (N, H·W·C): each pixel's channels side by side
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.reshape(n, c, h * w).transpose(0, 2, 1)).reshape(n, h * w * c)


def _pixels_first(a, shape):
    # the inverse of _pixels_last: (N, H·W·C) as an (N, C, H, W) array of the given shape
    n, c, h, w = shape
    return np.ascontiguousarray(a.reshape(n, h * w, c).transpose(0, 2, 1)).reshape(shape)


def _tap_pairs(in_hw, out_hw, kernel_size, stride, padding, dilation):
    """(tap, input pixel, output pixel) index arrays of every product that meets the image,
    sorted by tap: output pixel (oh, ow) reads input pixel (oh·s − p + i·d, ow·s − p + j·d)
    through tap (i, j)."""
    i, j, oh, ow = np.indices(tuple(kernel_size) + tuple(out_hw)).reshape(4, -1)
    h = oh * stride[0] - padding[0] + i * dilation[0]
    w = ow * stride[1] - padding[1] + j * dilation[1]
    inside = (0 <= h) & (h < in_hw[0]) & (0 <= w) & (w < in_hw[1])
    tap = (i * kernel_size[1] + j)[inside]
    return tap, (h * in_hw[1] + w)[inside], (oh * out_hw[1] + ow)[inside]


def _unrolled_weight(weight, in_hw, out_hw, *settings):
    """The convolution as one (H·W·C_in, OH·OW·C_out) matrix M on pixels-last images:
    y = x · M, where block (input pixel, output pixel) of M is Wᵀ at the tap joining the two
    pixels, else zero (d2l §7.2.2: a convolution is a fully connected layer with tied, mostly
    zero weights). Products that only padding would meet are not there at all."""
    c_out, c_in = weight.shape[:2]
    tap, pixel_in, pixel_out = _tap_pairs(in_hw, out_hw, weight.shape[2:], *settings)
    unrolled = np.zeros((in_hw[0] * in_hw[1], c_in, out_hw[0] * out_hw[1], c_out), dtype=weight.dtype)
    unrolled[pixel_in, :, pixel_out, :] = weight.reshape(c_out, c_in, -1).transpose(2, 1, 0)[tap]
    return unrolled.reshape(in_hw[0] * in_hw[1] * c_in, -1)


def _fold_unrolled(grad_unrolled, weight_shape, in_hw, out_hw, *settings):
    # the adjoint of _unrolled_weight: dW[o, c, i, j] = Σ of dM's blocks over the pixel pairs of tap (i, j)
    c_out, c_in, *kernel_size = weight_shape
    tap, pixel_in, pixel_out = _tap_pairs(in_hw, out_hw, kernel_size, *settings)
    grad = grad_unrolled.reshape(in_hw[0] * in_hw[1], c_in, out_hw[0] * out_hw[1], c_out)
    per_pair = grad[pixel_in, :, pixel_out, :]  # (pairs, C_in, C_out), sorted by tap
    taps = np.zeros((kernel_size[0] * kernel_size[1],) + per_pair.shape[1:], dtype=grad.dtype)
    for t, first, count in zip(*np.unique(tap, return_index=True, return_counts=True)):
        taps[t] = per_pair[first:first + count].sum(axis=0)
    return np.ascontiguousarray(taps.transpose(2, 1, 0)).reshape(weight_shape)


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
    """Images per chunk: their columns fit CHUNK_BYTES, yet give the GEMM MIN_COLUMNS columns;
    at least MIN_PARTIALS chunks when the batch allows, so that small planes keep every core busy."""
    wanted = max(tuning.CHUNK_BYTES // max(1, bytes_per_image), -(-tuning.MIN_COLUMNS // plane), 1)
    chunks = max(-(-n // min(n, wanted)), min(n, tuning.MIN_PARTIALS))
    return -(-n // chunks)  # the same number of chunks, evened out


def conv2d(x, weight, stride, padding, dilation):
    """y = conv2d(x, W): Winograd for wide 3×3 stride-1 layers, else im2col + GEMM per chunk
    of images; see reference.conv2d."""
    x = np.ascontiguousarray(x)
    c_out, c_in, kh, kw = weight.shape
    out_hw = _out_hw(x.shape, (kh, kw), stride, padding, dilation)
    flat_weight = np.ascontiguousarray(weight.reshape(c_out, -1))
    if _map_is_small(x.shape[2:], (kh, kw)):  # y = x · M, pixels last
        unrolled = _unrolled_weight(weight, x.shape[2:], out_hw, stride, padding, dilation)
        return _pixels_first(matmul(_pixels_last(x), unrolled), (x.shape[0], c_out) + out_hw)
    if _is_pointwise((kh, kw), stride, padding):
        return _pointwise(x, flat_weight)
    y = np.empty((x.shape[0], c_out) + out_hw, dtype=x.dtype)
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
    """y = col2im(Wᵀ · x), the input gradient of conv2d (by Winograd where conv2d takes it);
    see reference.conv_transpose2d."""
    x = np.ascontiguousarray(x)
    n, c_in = x.shape[:2]
    c_out, kernel_size = weight.shape[1], weight.shape[2:]
    if _map_is_small(out_hw, kernel_size):  # dX = dY · Mᵀ, pixels last
        unrolled = _unrolled_weight(weight, out_hw, x.shape[2:], stride, padding, dilation)
        return _pixels_first(matmul(_pixels_last(x), unrolled.T), (n, c_out) + tuple(out_hw))
    if _is_pointwise(kernel_size, stride, padding):  # dX[n] = Wᵀ · dY[n]
        return _pointwise(x, np.ascontiguousarray(weight.reshape(c_in, c_out).T))
    out = np.empty((n, c_out) + tuple(out_hw), dtype=x.dtype)
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
    """dW = dY · im2col(x)ᵀ: for wide 3×3 stride-1 layers, Winograd's adjoint; else im2col +
    GEMM summed over chunks. See reference.conv2d_weight."""
    x, grad_y = np.ascontiguousarray(x), np.ascontiguousarray(grad_y)
    n, c = x.shape[:2]
    c_out = grad_y.shape[1]
    rows = c * kernel_size[0] * kernel_size[1]
    if _winograd_pays_off(c, c_out, kernel_size, stride, dilation, grad_y.shape[2:]):
        return _conv2d_weight_winograd(x, grad_y, padding)
    if _map_is_small(x.shape[2:], kernel_size):  # dM = xᵀ · dY, folded onto the taps
        grad_unrolled = matmul(_pixels_last(x).T, _pixels_last(grad_y))
        return _fold_unrolled(grad_unrolled, (c_out, c, *kernel_size), x.shape[2:], grad_y.shape[2:],
                              stride, padding, dilation)
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
