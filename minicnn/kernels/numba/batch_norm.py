"""BatchNorm's fused loops in the Numba face: statistics, forward, backward.

NumPy needs about nine passes over the activations for a BatchNorm forward and backward (the
mean, the centred copy, the variance, x̂, γx̂ + β; then the sums and the input gradient);
these loops make four in all: two sums for the statistics and one scale-and-shift forward,
then one pass of sums and one of the input gradient backward. Sums run one channel per
parallel task and add in float64, as PyTorch's CPU kernel does. x̂ is never stored: the
backward pass recomputes x − μ from the saved input.
Idea: Ioffe & Szegedy (2015), §3; d2l §8.5. The readable version is ``functional/normalization.py``.
"""
import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def _moments(x, mean, variance):
    # mean[c] = Σ x[:, c] / m, then variance[c] = Σ (x[:, c] − mean[c])² / m, in float64
    n_img, channels, size = x.shape
    count = n_img * size
    for c in prange(channels):
        total = 0.0
        for n in range(n_img):
            plane = x[n, c]
            for p in range(size):
                total += plane[p]
        mu = total / count
        squares = 0.0
        for n in range(n_img):
            plane = x[n, c]
            for p in range(size):
                squares += (plane[p] - mu) * (plane[p] - mu)
        mean[c], variance[c] = mu, squares / count


@njit(parallel=True, cache=True)
def _scale_shift(x, scale, shift, y):
    # y[n, c] = scale[c] · x[n, c] + shift[c], one plane per task
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        n, c = t // channels, t % channels
        src, dst, a, b = x[n, c], y[n, c], scale[c], shift[c]
        for p in range(src.shape[0]):
            dst[p] = src[p] * a + b


@njit(parallel=True, cache=True, fastmath={"reassoc"})
def _gradient_sums(grad, x, mean, sum_grad, sum_grad_centred):
    # Σ g and Σ g·(x − μ) per channel, in float64
    n_img, channels, size = x.shape
    for c in prange(channels):
        total, projection = 0.0, 0.0
        for n in range(n_img):
            g, plane = grad[n, c], x[n, c]
            for p in range(size):
                total += g[p]
                projection += g[p] * (plane[p] - mean[c])
        sum_grad[c], sum_grad_centred[c] = total, projection


@njit(parallel=True, cache=True)
def _grad_input(grad, x, mean, scale, mean_grad, slope, grad_x):
    # dL/dx = (g − mean(g) − (x − μ)·slope)·scale, one plane per task
    channels = x.shape[1]
    for t in prange(x.shape[0] * channels):
        n, c = t // channels, t % channels
        g, plane, dst = grad[n, c], x[n, c], grad_x[n, c]
        mu, a, m, k = mean[c], scale[c], mean_grad[c], slope[c]
        for p in range(plane.shape[0]):
            dst[p] = (g[p] - m - (plane[p] - mu) * k) * a


def channel_moments(x):
    """Per-channel mean and biased variance of x (N, C, P); the readable version is ``functional.normalization``."""
    mean, variance = np.empty(x.shape[1]), np.empty(x.shape[1])
    _moments(np.ascontiguousarray(x), mean, variance)
    return mean.astype(x.dtype), variance.astype(x.dtype)


def batch_norm(x, mean, inv_std, weight, bias):
    """y = γ (x − μ)/σ + β as one scale and shift per channel; see ``functional.normalization``."""
    scale = weight * inv_std
    y = np.empty(x.shape, dtype=x.dtype)
    _scale_shift(np.ascontiguousarray(x), scale, bias - mean * scale, y)
    return y


def batch_norm_backward(grad, x, mean, inv_std, weight):
    """(dL/dx, dL/dγ, dL/dβ) with the batch's own statistics, in two passes; see
    ``functional.normalization``."""
    grad, x = np.ascontiguousarray(grad), np.ascontiguousarray(x)
    count = x.shape[0] * x.shape[2]
    sum_grad, sum_centred = np.empty(x.shape[1]), np.empty(x.shape[1])
    _gradient_sums(grad, x, mean, sum_grad, sum_centred)
    grad_weight = sum_centred * inv_std
    mean_grad = (sum_grad / count).astype(x.dtype)
    slope = (grad_weight * inv_std / count).astype(x.dtype)
    grad_x = np.empty(x.shape, dtype=x.dtype)
    _grad_input(grad, x, mean, weight * inv_std, mean_grad, slope, grad_x)
    return grad_x, grad_weight.astype(x.dtype), sum_grad.astype(x.dtype)
