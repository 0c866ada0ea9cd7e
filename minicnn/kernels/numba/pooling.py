"""Pooling loops of the Numba face: max and average pooling, forward and backward.

Max pooling runs one plane per ``prange`` task and picks its winner without a branch (random
data would mispredict most of them). Average pooling runs one image per task of
``parallel.py`` (as a ``prange`` loop, its nested loops compiled into seconds of vectorised
variants); when its windows tile the image (stride equal to the kernel, no padding: LeNet's,
and global pooling) it skips the bounds checks, and its backward pass writes each pixel once
instead of accumulating.
Idea: d2l §7.5; see ``reference.py`` for the readable version of every function here.
"""
import numpy as np
from numba import njit, prange

from ..reference import pooled_shape
from .parallel import parallel_for


@njit(parallel=True, cache=True)
def _max_pool(x, kh, kw, sh, sw, ph, pw, y, argmax):
    # one plane per task: x (N·C, H, W), y and argmax (N·C, OH, OW)
    height, width = x.shape[1], x.shape[2]
    for t in prange(x.shape[0]):
        for oh in range(y.shape[1]):
            top = max(oh * sh - ph, 0)
            bottom = min(oh * sh - ph + kh, height)
            for ow in range(y.shape[2]):
                left = max(ow * sw - pw, 0)
                right = min(ow * sw - pw + kw, width)
                best, where = x[t, top, left], top * width + left
                for h in range(top, bottom):
                    for w in range(left, right):
                        # a larger value or a NaN wins, chosen without a branch (random data
                        # would mispredict most of them)
                        v = x[t, h, w]
                        wins = (v > best) | (v != v)
                        best = v if wins else best
                        where = h * width + w if wins else where
                y[t, oh, ow] = best
                argmax[t, oh, ow] = where


@njit(parallel=True, cache=True)
def _max_pool_backward(grad_y, argmax, grad_x):
    # one plane per row: grad_y and argmax (N·C, OH·OW), grad_x (N·C, H·W); indexed element by
    # element, no view per plane (on 1×1 or 2×2 outputs the views cost more than the work)
    for t in prange(grad_x.shape[0]):
        for i in range(grad_x.shape[1]):
            grad_x[t, i] = 0
        for k in range(grad_y.shape[1]):
            grad_x[t, argmax[t, k]] += grad_y[t, k]


@njit(cache=True, error_model="numpy")
def _avg_pool_image(n, x, kh, kw, sh, sw, ph, pw, taps, y):
    # image n; error_model="numpy": the division by taps needs no zero check
    height, width = x.shape[2], x.shape[3]
    out_h, out_w = y.shape[2], y.shape[3]
    for c in range(x.shape[1]):
        plane, out = x[n, c], y[n, c]
        for oh in range(out_h):
            top = oh * sh - ph
            for ow in range(out_w):
                left = ow * sw - pw
                total = taps * 0
                for h in range(max(top, 0), min(top + kh, height)):
                    for w in range(max(left, 0), min(left + kw, width)):
                        total += plane[h, w]
                out[oh, ow] = total / taps


@njit(cache=True, error_model="numpy")
def _avg_pool_backward_image(n, grad_y, kh, kw, sh, sw, ph, pw, taps, grad_x):
    # image n: each window's gradient spread evenly over its pixels
    height, width = grad_x.shape[2], grad_x.shape[3]
    out_h, out_w = grad_y.shape[2], grad_y.shape[3]
    for c in range(grad_x.shape[1]):
        plane, g = grad_x[n, c], grad_y[n, c]
        plane[:] = 0
        for oh in range(out_h):
            top = oh * sh - ph
            for ow in range(out_w):
                left = ow * sw - pw
                share = g[oh, ow] / taps
                for h in range(max(top, 0), min(top + kh, height)):
                    for w in range(max(left, 0), min(left + kw, width)):
                        plane[h, w] += share


@njit(cache=True, error_model="numpy")
def _avg_pool_tiles_image(n, x, kh, kw, taps, y):
    # image n, windows that tile the image (stride = kernel, no padding): no bounds checks
    out_h, out_w = y.shape[2], y.shape[3]
    for c in range(x.shape[1]):
        plane, out = x[n, c], y[n, c]
        for oh in range(out_h):
            for ow in range(out_w):
                total = taps * 0
                for i in range(kh):
                    row = plane[oh * kh + i, ow * kw:]
                    for j in range(kw):
                        total += row[j]
                out[oh, ow] = total / taps


@njit(cache=True, error_model="numpy")
def _avg_pool_tiles_backward_image(n, grad_y, kh, kw, taps, grad_x):
    # image n; each pixel belongs to one window at most: a write, not an accumulation
    out_h, out_w = grad_y.shape[2], grad_y.shape[3]
    for c in range(grad_x.shape[1]):
        plane, g = grad_x[n, c], grad_y[n, c]
        for oh in range(out_h):
            for i in range(kh):
                row = plane[oh * kh + i]
                for ow in range(out_w):
                    share = g[oh, ow] / taps
                    for j in range(kw):
                        row[ow * kw + j] = share
        plane[out_h * kh:, :] = 0  # rows and columns past the last whole window
        plane[:, out_w * kw:] = 0


def _tiles(kernel_size, stride, padding):
    """True when the windows tile the image: stride equal to the kernel and no padding."""
    return tuple(stride) == tuple(kernel_size) and tuple(padding) == (0, 0)


def max_pool2d(x, kernel_size, stride, padding):
    """Window maxima and their flat input indices; see ``reference.max_pool2d``."""
    x = np.ascontiguousarray(x)
    shape = pooled_shape(x.shape, kernel_size, stride, padding)
    y, argmax = np.empty(shape, dtype=x.dtype), np.empty(shape, dtype=np.int64)
    planes = (shape[0] * shape[1],)
    _max_pool(x.reshape(planes + x.shape[2:]), *kernel_size, *stride, *padding,
              y.reshape(planes + shape[2:]), argmax.reshape(planes + shape[2:]))
    return y, argmax


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """Route each window's gradient to its winner; see ``reference.max_pool2d_backward``."""
    grad_x = np.empty(x_shape, dtype=grad_y.dtype)
    planes = x_shape[0] * x_shape[1]
    _max_pool_backward(np.ascontiguousarray(grad_y).reshape(planes, -1),
                       np.ascontiguousarray(argmax).reshape(planes, -1), grad_x.reshape(planes, -1))
    return grad_x


def avg_pool2d(x, kernel_size, stride, padding):
    """Window means, padding counted; see ``reference.avg_pool2d``."""
    x = np.ascontiguousarray(x)
    shape = pooled_shape(x.shape, kernel_size, stride, padding)
    y = np.empty(shape, dtype=x.dtype)
    taps = x.dtype.type(kernel_size[0] * kernel_size[1])
    if _tiles(kernel_size, stride, padding):
        parallel_for(_avg_pool_tiles_image, shape[0], x, *kernel_size, taps, y)
    else:
        parallel_for(_avg_pool_image, shape[0], x, *kernel_size, *stride, *padding, taps, y)
    return y


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """Spread each window's gradient evenly; see ``reference.avg_pool2d_backward``."""
    grad_x = np.empty(x_shape, dtype=grad_y.dtype)
    taps = grad_y.dtype.type(kernel_size[0] * kernel_size[1])
    grad_y = np.ascontiguousarray(grad_y)
    if _tiles(kernel_size, stride, padding):
        parallel_for(_avg_pool_tiles_backward_image, x_shape[0], grad_y, *kernel_size, taps, grad_x)
    else:
        parallel_for(_avg_pool_backward_image, x_shape[0], grad_y, *kernel_size, *stride,
                     *padding, taps, grad_x)
    return grad_x
