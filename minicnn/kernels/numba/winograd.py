"""Winograd's minimal filtering F(2×2, 3×3): 3×3 convolutions with stride 1 in the Numba face.

A 2×2 block of a 3×3 filter's outputs reads a 4×4 tile d of the input, and Winograd's identity

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A

gives its four outputs from 16 products instead of 36; the transforms only add, subtract and
halve. Summed over the input channels, the products of each of the 16 tile positions k form one
matrix product, so the convolution becomes 16 GEMMs U[k] · V[k]: the transformed weights U[k]
(C_out × C_in) times the transformed tiles V[k] (C_in × tiles). That is 2.25× fewer
multiply-adds than im2col's one GEMM, on transformed tiles (16 values per 4 outputs) smaller
than im2col's columns (9 per output).

* The input gradient, a transposed convolution with stride 1, is the same convolution of dY
  with the kernel flipped and its channel axes swapped, padded by 2 − p (``conv.py``).
* The weight gradient is the adjoint: dW = Gᵀ [ Σ_tiles (A dY Aᵀ) ⊙ (Bᵀ d B) ] G, whose sums
  over the tiles are again 16 GEMMs.

Each plane is read through a padded copy with its even and odd columns stored apart
(``_split_plane``): the tiles of one row then start at consecutive addresses, and the
transforms run as SIMD loops over the tiles. The matrices below are the ones the loops write
out as additions (``_b_t``, ``_a_t``, ``_a``). Chunks of images are sized and summed by
``conv.py``, as for im2col + GEMM.
Idea: Winograd (1980), "Arithmetic Complexity of Computations"; Lavin & Gray (2016), "Fast
Algorithms for Convolutional Neural Networks"; d2l §7.2 for the convolution itself.
"""
import numpy as np
from numba import njit, prange

from .blas import gemm, gemm_from_python

G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])  # weights: G g Gᵀ
B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])  # tiles: Bᵀ d B
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])  # outputs: Aᵀ M A


@njit(cache=True)
def _b_t(d0, d1, d2, d3):
    # Bᵀ · (d0, d1, d2, d3)
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True)
def _a_t(m0, m1, m2, m3):
    # Aᵀ · (m0, m1, m2, m3)
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True)
def _a(g0, g1):
    # A · (g0, g1), the adjoint of Aᵀ
    return g0, g0 + g1, g0 - g1, -g1


def weight_transform(weight):
    """U[4i + j] = (G g Gᵀ)[i, j] for every filter g of weight (C_out, C_in, 3, 3): (16, C_out, C_in).

    (G g Gᵀ)[i, j] = Σ_ab (G ⊗ G)[4i + j, 3a + b] g[a, b], so all filters go through one
    matrix product with the Kronecker product G ⊗ G (16 × 9)."""
    c_out, c_in = weight.shape[:2]
    u = np.empty((16, c_out, c_in), dtype=weight.dtype)
    gemm_from_python(np.kron(G, G).astype(weight.dtype), np.ascontiguousarray(weight).reshape(-1, 9).T,
                     u.reshape(16, -1))
    return u


def weight_from_sums(sums):
    """dW = Gᵀ S G for the 16 sums S (16, C_out, C_in) of the weight gradient: (C_out, C_in, 3, 3),
    the adjoint of weight_transform."""
    c_out, c_in = sums.shape[1:]
    grad = np.empty((c_out, c_in, 3, 3), dtype=sums.dtype)
    gemm_from_python(sums.reshape(16, -1).T, np.kron(G, G).astype(sums.dtype), grad.reshape(-1, 9))
    return grad


def tiles_of(out_h, out_w):
    """Rows and columns of 2×2 output tiles that cover an (out_h, out_w) output."""
    return (out_h + 1) // 2, (out_w + 1) // 2


SKEW = 16  # elements between the 16 matrices of a chunk, so that their rows fall in different cache sets


@njit(cache=True)
def _sixteen(rows, columns, like):
    # room for 16 matrices (rows × columns), each contiguous, SKEW elements apart: one row each
    # of a (16, rows·columns + SKEW) array. Packed, the 16 entries of a tile would lie a
    # multiple of 4 KiB apart for common shapes and fight over the same few L1 cache sets
    return np.empty((16, rows * columns + SKEW), dtype=like.dtype)


@njit(cache=True)
def _matrix(sixteen, k, rows, columns):
    # matrix k of _sixteen's room
    return sixteen[k, :rows * columns].reshape((rows, columns))


@njit(cache=True)
def _split_plane(plane, ph, pw, split):
    # split[r, s, u] = plane[r − ph, 2u + s − pw], zero outside the plane: the padded plane
    # with its even (s = 0) and odd (s = 1) columns apart
    height, width = plane.shape
    split[:] = 0
    for h in range(height):
        src = plane[h]
        for s in range(2):
            first = (pw + s) % 2  # the first w whose padded column w + pw has parity s
            dst = split[h + ph, s, (first + pw) // 2:]
            for k in range((width - first + 1) // 2):
                dst[k] = src[first + 2 * k]


@njit(cache=True)
def _store_rows(v, i, at, row):
    # entries 4i .. 4i + 3 of one transformed tile: column ``at`` of rows 4i .. 4i + 3 of v
    v[4 * i, at] = row[0]
    v[4 * i + 1, at] = row[1]
    v[4 * i + 2, at] = row[2]
    v[4 * i + 3, at] = row[3]


@njit(cache=True)
def _transform_input(split, tiles_h, tiles_w, v, start):
    # v[4i + j, start + ty·TW + tx] = (Bᵀ d B)[i, j] for the 4×4 tile d at padded row 2ty and
    # column 2tx, whose columns are even[tx], odd[tx], even[tx + 1], odd[tx + 1]. v is the whole
    # (16, ·) array, so that LLVM knows its rows are contiguous and stores them as SIMD vectors
    for ty in range(tiles_h):
        r0, r1, r2, r3 = split[2 * ty], split[2 * ty + 1], split[2 * ty + 2], split[2 * ty + 3]
        first = start + ty * tiles_w
        for tx in range(tiles_w):
            c0 = _b_t(r0[0, tx], r1[0, tx], r2[0, tx], r3[0, tx])  # Bᵀ d, one column at a time
            c1 = _b_t(r0[1, tx], r1[1, tx], r2[1, tx], r3[1, tx])
            c2 = _b_t(r0[0, tx + 1], r1[0, tx + 1], r2[0, tx + 1], r3[0, tx + 1])
            c3 = _b_t(r0[1, tx + 1], r1[1, tx + 1], r2[1, tx + 1], r3[1, tx + 1])
            _store_rows(v, 0, first + tx, _b_t(c0[0], c1[0], c2[0], c3[0]))  # (Bᵀ d) B, by rows
            _store_rows(v, 1, first + tx, _b_t(c0[1], c1[1], c2[1], c3[1]))
            _store_rows(v, 2, first + tx, _b_t(c0[2], c1[2], c2[2], c3[2]))
            _store_rows(v, 3, first + tx, _b_t(c0[3], c1[3], c2[3], c3[3]))


@njit(cache=True)
def _transform_grad(split, tiles_h, tiles_w, g, start):
    # g[4i + j, start + ty·TW + tx] = (A dY Aᵀ)[i, j] for dY's 2×2 block at row 2ty, column 2tx
    for ty in range(tiles_h):
        top, bottom = split[2 * ty], split[2 * ty + 1]
        first = start + ty * tiles_w
        for tx in range(tiles_w):
            c0 = _a(top[0, tx], bottom[0, tx])  # A dY, one column at a time
            c1 = _a(top[1, tx], bottom[1, tx])
            _store_rows(g, 0, first + tx, _a(c0[0], c1[0]))  # (A dY) Aᵀ, one row at a time
            _store_rows(g, 1, first + tx, _a(c0[1], c1[1]))
            _store_rows(g, 2, first + tx, _a(c0[2], c1[2]))
            _store_rows(g, 3, first + tx, _a(c0[3], c1[3]))


@njit(cache=True)
def _transform_output(m, tiles_h, tiles_w, start, tiles, y):
    # y[2ty + a, 2tx + b] = (Aᵀ M A)[a, b] for the 16 products M[k] = m[k, start + ty·TW
    # + tx], through the scratch plane ``tiles`` (2·TH, 2·TW) of whole tiles, cropped to y
    out_h, out_w = y.shape
    for ty in range(tiles_h):
        top, bottom = tiles[2 * ty], tiles[2 * ty + 1]
        first = start + ty * tiles_w
        for tx in range(tiles_w):
            t = first + tx
            c0 = _a_t(m[0, t], m[4, t], m[8, t], m[12, t])  # Aᵀ M, one column at a time
            c1 = _a_t(m[1, t], m[5, t], m[9, t], m[13, t])
            c2 = _a_t(m[2, t], m[6, t], m[10, t], m[14, t])
            c3 = _a_t(m[3, t], m[7, t], m[11, t], m[15, t])
            top[2 * tx], top[2 * tx + 1] = _a_t(c0[0], c1[0], c2[0], c3[0])  # (Aᵀ M) A
            bottom[2 * tx], bottom[2 * tx + 1] = _a_t(c0[1], c1[1], c2[1], c3[1])
    for h in range(out_h):
        src, dst = tiles[h], y[h]
        for w in range(out_w):
            dst[w] = src[w]


@njit(cache=True)
def _transform_images(x, ph, pw, tiles_h, tiles_w, v):
    # row c of matrix k of v (_sixteen) = entry k of the transformed tiles of channel c, the
    # images of x side by side
    per_image = tiles_h * tiles_w
    columns = x.shape[0] * per_image
    split = np.empty((2 * tiles_h + 2, 2, tiles_w + 1), dtype=x.dtype)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            _split_plane(x[n, c], ph, pw, split)
            _transform_input(split, tiles_h, tiles_w, v, c * columns + n * per_image)


@njit(parallel=True, cache=True)
def conv2d_loop(x, u, ph, pw, chunk, y):
    """y = conv2d(x, g) by F(2×2, 3×3), per chunk of images; u = weight_transform(g)."""
    n_img, c_in = x.shape[0], x.shape[1]
    c_out, out_h, out_w = y.shape[1], y.shape[2], y.shape[3]
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    per_image = tiles_h * tiles_w
    for b in prange((n_img + chunk - 1) // chunk):
        n0, m = b * chunk, min(chunk, n_img - b * chunk)
        columns = m * per_image
        v = _sixteen(c_in, columns, x)
        _transform_images(x[n0:n0 + m], ph, pw, tiles_h, tiles_w, v)
        products = _sixteen(c_out, columns, x)
        for k in range(16):
            gemm(u[k], _matrix(v, k, c_in, columns), _matrix(products, k, c_out, columns))
        tiles = np.empty((2 * tiles_h, 2 * tiles_w), dtype=x.dtype)
        for n in range(m):
            for o in range(c_out):
                _transform_output(products, tiles_h, tiles_w, o * columns + n * per_image, tiles,
                                  y[n0 + n, o])


@njit(parallel=True, cache=True)
def weight_sums_loop(x, grad_y, ph, pw, chunk, group, partial):
    """partial[g, k] = Σ over the chunks of group g of (A dY Aᵀ)[k] · (Bᵀ d B)[k]ᵀ (C_out × C_in);
    the groups depend on the shapes only, so the sum's order never changes."""
    n_img, c_in = x.shape[0], x.shape[1]
    c_out, out_h, out_w = grad_y.shape[1], grad_y.shape[2], grad_y.shape[3]
    tiles_h, tiles_w = (out_h + 1) // 2, (out_w + 1) // 2
    per_image = tiles_h * tiles_w
    n_chunks = (n_img + chunk - 1) // chunk
    for g in prange(partial.shape[0]):
        partial[g] = 0
        split = np.empty((2 * tiles_h, 2, tiles_w), dtype=x.dtype)
        for b in range(g * group, min(n_chunks, (g + 1) * group)):
            n0, m = b * chunk, min(chunk, n_img - b * chunk)
            columns = m * per_image
            v = _sixteen(c_in, columns, x)
            _transform_images(x[n0:n0 + m], ph, pw, tiles_h, tiles_w, v)
            gy = _sixteen(c_out, columns, x)
            for n in range(m):
                for o in range(c_out):
                    _split_plane(grad_y[n0 + n, o], 0, 0, split)
                    _transform_grad(split, tiles_h, tiles_w, gy, o * columns + n * per_image)
            for k in range(16):
                gemm(_matrix(gy, k, c_out, columns), _matrix(v, k, c_in, columns).T, partial[g, k],
                     True)
