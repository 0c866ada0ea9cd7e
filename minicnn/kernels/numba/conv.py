"""Convolutions in the Numba face: Winograd, and im2col + GEMM fused per chunk of images.

Each public function has the signature of its twin in ``reference.py`` and picks one of
two loops by the layer's shape (the thresholds are in ``tuning.py``):

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
A convolution's bias and its gradient are left to ``functional.conv``'s NumPy code: on
LeNet's planes a loop of our own saved 0.1–0.2 ms a step but cost 1 s of compilation on a
first run, and on ResNet's larger ones NumPy's sums were faster.
Idea: the loops of reference.py written out element by element (minitorch's fast ops;
Lam, Pitrou & Seibert (2015), "Numba: a LLVM-based Python JIT compiler").
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
    """y = conv2d(x, W): Winograd for wide 3×3 stride-1 layers, else im2col + GEMM per chunk
    of images; see reference.conv2d."""
    x = np.ascontiguousarray(x)
    c_out, c_in, kh, kw = weight.shape
    out_hw = _out_hw(x.shape, (kh, kw), stride, padding, dilation)
    y = np.empty((x.shape[0], c_out) + out_hw, dtype=x.dtype)
    flat_weight = np.ascontiguousarray(weight.reshape(c_out, -1))
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
