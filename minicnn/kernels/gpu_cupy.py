"""The GPU face of the hot loops: CUDA kernels run through CuPy, same answers as reference.py.

Each kernel is a full CUDA C source kept below as a module constant (``*_SOURCE``), so it can
be read, and compiled by ``nvcc -ptx`` in the tests on machines without a GPU. Every kernel
runs one thread per *output* element and gathers what it needs, so no two threads write the
same place and no atomics are needed (col2im and the pooling backward passes loop over the
windows that cover their pixel). ``scalar_t`` is float or double, fixed when the kernel is
compiled; kernels are compiled once per (name, dtype, device) and kept. The matrix products
of convolution are CuPy's (cuBLAS). Importing this module does not import CuPy.
Idea: Caffe's im2col/col2im CUDA kernels (Jia et al. 2014); CuPy's RawKernel.
"""
import functools

import numpy

from . import reference
from .reference import output_hw

THREADS_PER_BLOCK = 256

IM2COL_SOURCE = r"""
// cols[c, i, j, n, oh, ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw], or pad_value
// outside the image. One thread per element of cols.
extern "C" __global__ void im2col(
    const scalar_t* x, scalar_t* cols, const scalar_t pad_value, const int N, const int C,
    const int H, const int W, const int kh, const int kw, const int sh, const int sw,
    const int ph, const int pw, const int dh, const int dw, const int OH, const int OW)
{
    const long long total = (long long)C * kh * kw * N * OH * OW;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int ow = k % OW;
        const int oh = (k / OW) % OH;
        const int n = (k / ((long long)OW * OH)) % N;
        const long long tap = k / ((long long)OW * OH * N);
        const int j = tap % kw;
        const int i = (tap / kw) % kh;
        const int c = tap / ((long long)kw * kh);
        const int h = oh * sh - ph + i * dh;
        const int w = ow * sw - pw + j * dw;
        cols[k] = (h >= 0 && h < H && w >= 0 && w < W)
                  ? x[(((long long)n * C + c) * H + h) * W + w] : pad_value;
    }
}
"""

COL2IM_SOURCE = r"""
// x[n, c, h, w] = sum of cols[c, i, j, n, oh, ow] over the taps (i, j) and windows (oh, ow)
// that read pixel (h, w): the adjoint of im2col, written as a gather (one thread per pixel).
extern "C" __global__ void col2im(
    const scalar_t* cols, scalar_t* x, const int N, const int C, const int H, const int W,
    const int kh, const int kw, const int sh, const int sw, const int ph, const int pw,
    const int dh, const int dw, const int OH, const int OW)
{
    const long long total = (long long)N * C * H * W;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int w = k % W;
        const int h = (k / W) % H;
        const int c = (k / ((long long)W * H)) % C;
        const int n = k / ((long long)W * H * C);
        scalar_t sum = 0;
        for (int i = 0; i < kh; ++i) {
            const int row = h + ph - i * dh;  // = oh * sh for the window that uses tap i here
            if (row < 0 || row % sh != 0 || row / sh >= OH) continue;
            for (int j = 0; j < kw; ++j) {
                const int col = w + pw - j * dw;
                if (col < 0 || col % sw != 0 || col / sw >= OW) continue;
                const long long tap = ((long long)c * kh + i) * kw + j;
                sum += cols[((tap * N + n) * OH + row / sh) * OW + col / sw];
            }
        }
        x[k] = sum;
    }
}
"""

MAX_POOL_SOURCE = r"""
// y[n, c, oh, ow] = max of the window's pixels inside the image (padding never wins),
// argmax = h * W + w of the first maximum (a NaN wins, as in PyTorch). One thread per output.
extern "C" __global__ void max_pool(
    const scalar_t* x, scalar_t* y, long long* argmax, const int N, const int C, const int H,
    const int W, const int kh, const int kw, const int sh, const int sw, const int ph,
    const int pw, const int OH, const int OW)
{
    const long long total = (long long)N * C * OH * OW;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int ow = k % OW;
        const int oh = (k / OW) % OH;
        const long long plane = k / ((long long)OW * OH);
        const scalar_t* image = x + plane * H * W;
        const int top = oh * sh - ph, left = ow * sw - pw;
        scalar_t best = image[max(top, 0) * W + max(left, 0)];
        long long where = max(top, 0) * W + max(left, 0);
        for (int h = max(top, 0); h < min(top + kh, H); ++h) {
            for (int w = max(left, 0); w < min(left + kw, W); ++w) {
                const scalar_t v = image[h * W + w];
                if (v > best || v != v) {
                    best = v;
                    where = h * W + w;
                }
            }
        }
        y[k] = best;
        argmax[k] = where;
    }
}
"""

MAX_POOL_BACKWARD_SOURCE = r"""
// grad_x[n, c, h, w] = sum of grad_y over the windows that cover (h, w) and were won by it.
// A gather: one thread per input pixel, looping over the windows that contain it.
extern "C" __global__ void max_pool_backward(
    const scalar_t* grad_y, const long long* argmax, scalar_t* grad_x, const int N,
    const int C, const int H, const int W, const int kh, const int kw, const int sh,
    const int sw, const int ph, const int pw, const int OH, const int OW)
{
    const long long total = (long long)N * C * H * W;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int w = k % W;
        const int h = (k / W) % H;
        const long long plane = k / ((long long)W * H);
        // windows whose rows [oh*sh - ph, oh*sh - ph + kh) contain h, and likewise for w
        const int oh_first = max(0, (h + ph - kh + sh) / sh), oh_last = min(OH - 1, (h + ph) / sh);
        const int ow_first = max(0, (w + pw - kw + sw) / sw), ow_last = min(OW - 1, (w + pw) / sw);
        scalar_t sum = 0;
        for (int oh = oh_first; oh <= oh_last; ++oh) {
            for (int ow = ow_first; ow <= ow_last; ++ow) {
                const long long out = (plane * OH + oh) * OW + ow;
                if (argmax[out] == (long long)h * W + w) sum += grad_y[out];
            }
        }
        grad_x[k] = sum;
    }
}
"""

AVG_POOL_SOURCE = r"""
// y[n, c, oh, ow] = (sum of the window's pixels inside the image) / (kh * kw): zero padding
// counts in the mean, as PyTorch's count_include_pad=True. One thread per output.
extern "C" __global__ void avg_pool(
    const scalar_t* x, scalar_t* y, const int N, const int C, const int H, const int W,
    const int kh, const int kw, const int sh, const int sw, const int ph, const int pw,
    const int OH, const int OW)
{
    const long long total = (long long)N * C * OH * OW;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int ow = k % OW;
        const int oh = (k / OW) % OH;
        const scalar_t* image = x + (k / ((long long)OW * OH)) * H * W;
        const int top = oh * sh - ph, left = ow * sw - pw;
        scalar_t sum = 0;
        for (int h = max(top, 0); h < min(top + kh, H); ++h)
            for (int w = max(left, 0); w < min(left + kw, W); ++w)
                sum += image[h * W + w];
        y[k] = sum / (scalar_t)(kh * kw);
    }
}
"""

AVG_POOL_BACKWARD_SOURCE = r"""
// grad_x[n, c, h, w] = sum over the windows covering (h, w) of grad_y / (kh * kw).
// A gather: one thread per input pixel.
extern "C" __global__ void avg_pool_backward(
    const scalar_t* grad_y, scalar_t* grad_x, const int N, const int C, const int H,
    const int W, const int kh, const int kw, const int sh, const int sw, const int ph,
    const int pw, const int OH, const int OW)
{
    const long long total = (long long)N * C * H * W;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int w = k % W;
        const int h = (k / W) % H;
        const long long plane = k / ((long long)W * H);
        const int oh_first = max(0, (h + ph - kh + sh) / sh), oh_last = min(OH - 1, (h + ph) / sh);
        const int ow_first = max(0, (w + pw - kw + sw) / sw), ow_last = min(OW - 1, (w + pw) / sw);
        scalar_t sum = 0;
        for (int oh = oh_first; oh <= oh_last; ++oh)
            for (int ow = ow_first; ow <= ow_last; ++ow)
                sum += grad_y[(plane * OH + oh) * OW + ow] / (scalar_t)(kh * kw);
        grad_x[k] = sum;
    }
}
"""

BATCH_NORM_SOURCE = r"""
// Per-channel kernels of x (N, C, P). BatchNorm in six: the statistics and the two gradient
// sums per channel (one block per channel, its 256 threads striding over the N·P values and
// adding in double, then a tree sum in shared memory), 1/σ, two elementwise passes, and the
// running averages' update. Every per-channel number is made inside a kernel, so no small array needs a
// launch of its own. Last, a convolution's bias and its gradient, the same two patterns.
__device__ double block_sum(double* partial, double value)
{
    partial[threadIdx.x] = value;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
    }
    const double total = partial[0];
    __syncthreads();  // partial is written again by the next call
    return total;
}

// Σ x[:, c, :], each thread adding every blockDim.x-th value, then the block sum
__device__ double channel_total(double* partial, const scalar_t* x, const int c, const int N,
                                const int C, const int P)
{
    double total = 0;
    for (long long k = threadIdx.x; k < (long long)N * P; k += blockDim.x)
        total += x[((k / P) * C + c) * P + k % P];
    return block_sum(partial, total);
}

// mean[c] = Σ x[:, c, :] / (N·P), then variance[c] = Σ (x[:, c, :] − mean[c])² / (N·P)
extern "C" __global__ void channel_moments(
    const scalar_t* x, scalar_t* mean, scalar_t* variance, const int N, const int C, const int P)
{
    __shared__ double partial[256];  // one slot per thread: launched with 256 threads
    const long long count = (long long)N * P;
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        const double mu = channel_total(partial, x, c, N, C, P) / count;
        double squares = 0;
        for (long long k = threadIdx.x; k < count; k += blockDim.x) {
            const double d = x[((k / P) * C + c) * P + k % P] - mu;
            squares += d * d;
        }
        const double var = block_sum(partial, squares) / count;
        if (threadIdx.x == 0) {
            mean[c] = (scalar_t)mu;
            variance[c] = (scalar_t)var;
        }
    }
}

// inv_std = 1/√(variance + ε), elementwise (one number per channel, or per sample and group)
extern "C" __global__ void inv_std(
    const scalar_t* variance, scalar_t* out, const scalar_t eps, const int n)
{
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (long long)blockDim.x * gridDim.x)
        out[k] = 1 / sqrt(variance[k] + eps);
}

// y = scale·x + shift with scale = γ/σ and shift = β − μ·scale: y = γ (x − μ)/σ + β
extern "C" __global__ void batch_norm(
    const scalar_t* x, const scalar_t* mean, const scalar_t* inv_std, const scalar_t* weight,
    const scalar_t* bias, scalar_t* y, const int N, const int C, const int P)
{
    const long long total = (long long)N * C * P;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int c = (k / P) % C;
        const scalar_t scale = weight[c] * inv_std[c];
        y[k] = x[k] * scale + (bias[c] - mean[c] * scale);
    }
}

// dβ = Σ g, dγ = Σ g·(x − μ)/σ, and the two numbers per channel of dL/dx in training:
// mean(g) and slope = dγ/(σ·N·P)
extern "C" __global__ void batch_norm_sums(
    const scalar_t* grad, const scalar_t* x, const scalar_t* mean, const scalar_t* inv_std,
    scalar_t* grad_weight, scalar_t* grad_bias, scalar_t* mean_grad, scalar_t* slope,
    const int N, const int C, const int P)
{
    __shared__ double partial[256];
    const long long count = (long long)N * P;
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        double total = 0, projection = 0;
        for (long long k = threadIdx.x; k < count; k += blockDim.x) {
            const long long at = ((k / P) * C + c) * P + k % P;
            total += grad[at];
            projection += (double)grad[at] * (x[at] - mean[c]);
        }
        total = block_sum(partial, total);
        const double d_weight = block_sum(partial, projection) * inv_std[c];
        if (threadIdx.x == 0) {
            grad_bias[c] = (scalar_t)total;
            grad_weight[c] = (scalar_t)d_weight;
            mean_grad[c] = (scalar_t)(total / count);
            slope[c] = (scalar_t)(d_weight * inv_std[c] / count);
        }
    }
}

// running ← keep·running + momentum·batch (keep = 1 − momentum), the batch variance made
// unbiased: unbiased_momentum = momentum·N·P/(N·P − 1). One thread per channel.
extern "C" __global__ void update_running_stats(
    scalar_t* running_mean, scalar_t* running_var, const scalar_t* mean,
    const scalar_t* variance, const scalar_t keep, const scalar_t momentum,
    const scalar_t unbiased_momentum, const int C)
{
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < C; c += blockDim.x * gridDim.x) {
        running_mean[c] = keep * running_mean[c] + momentum * mean[c];
        running_var[c] = keep * running_var[c] + unbiased_momentum * variance[c];
    }
}

// dL/dx = (g − mean(g) − (x − μ)·slope)·γ/σ
extern "C" __global__ void batch_norm_grad_input(
    const scalar_t* grad, const scalar_t* x, const scalar_t* mean, const scalar_t* inv_std,
    const scalar_t* weight, const scalar_t* mean_grad, const scalar_t* slope, scalar_t* grad_x,
    const int N, const int C, const int P)
{
    const long long total = (long long)N * C * P;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x) {
        const int c = (k / P) % C;
        grad_x[k] = (grad[k] - mean_grad[c] - (x[k] - mean[c]) * slope[c]) * (weight[c] * inv_std[c]);
    }
}

// A convolution's bias, one number per channel of y (N, C, P), added in place
extern "C" __global__ void add_channel_bias(
    scalar_t* y, const scalar_t* bias, const int N, const int C, const int P)
{
    const long long total = (long long)N * C * P;
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < total;
         k += (long long)blockDim.x * gridDim.x)
        y[k] += bias[(k / P) % C];
}

// its gradient: sums[c] = Σ a[:, c, :], one block per channel as above
extern "C" __global__ void channel_sums(
    const scalar_t* a, scalar_t* sums, const int N, const int C, const int P)
{
    __shared__ double partial[256];
    for (int c = blockIdx.x; c < C; c += gridDim.x) {
        const double total = channel_total(partial, a, c, N, C, P);
        if (threadIdx.x == 0) sums[c] = (scalar_t)total;
    }
}
"""

SIGMOID_SOURCE = r"""
// y = σ(x) = 1/(1 + z) for x ≥ 0 and z/(1 + z) for x < 0, z = e^-|x| ≤ 1: nothing overflows
extern "C" __global__ void sigmoid(const scalar_t* x, scalar_t* y, const int n)
{
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (long long)blockDim.x * gridDim.x) {
        const scalar_t z = exp(x[k] >= 0 ? -x[k] : x[k]);  // e^-|x|
        y[k] = (x[k] >= 0 ? (scalar_t)1 : z) / (1 + z);
    }
}

// dL/dx = dL/dy · y(1 − y)
extern "C" __global__ void sigmoid_backward(
    const scalar_t* grad, const scalar_t* y, scalar_t* grad_x, const int n)
{
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (long long)blockDim.x * gridDim.x)
        grad_x[k] = grad[k] * y[k] * (1 - y[k]);
}
"""

SGD_SOURCE = r"""
// One SGD step of a parameter w with gradient g, PyTorch's rule (optim/sgd.py):
//   g ← g + λ·w;  b ← g on the first step, else μ·b + (1 − τ)·g;  d ← g + μ·b (Nesterov)
//   or b, or g without momentum (then b is not touched);  w ← w − η·d
extern "C" __global__ void sgd_step(
    scalar_t* w, const scalar_t* g, scalar_t* b, const scalar_t lr, const scalar_t weight_decay,
    const scalar_t momentum, const scalar_t dampening, const int nesterov, const int first,
    const int n)
{
    for (long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x; k < n;
         k += (long long)blockDim.x * gridDim.x) {
        scalar_t d = g[k];
        if (weight_decay != 0) d += weight_decay * w[k];
        if (momentum != 0) {
            b[k] = first ? d : momentum * b[k] + (1 - dampening) * d;
            d = nesterov ? d + momentum * b[k] : b[k];
        }
        w[k] -= lr * d;
    }
}
"""

SOURCES = {
    "im2col": IM2COL_SOURCE,
    "col2im": COL2IM_SOURCE,
    "max_pool": MAX_POOL_SOURCE,
    "max_pool_backward": MAX_POOL_BACKWARD_SOURCE,
    "avg_pool": AVG_POOL_SOURCE,
    "avg_pool_backward": AVG_POOL_BACKWARD_SOURCE,
    # one source, eight per-channel kernels, three sharing block_sum
    "channel_moments": BATCH_NORM_SOURCE,
    "inv_std": BATCH_NORM_SOURCE,
    "batch_norm": BATCH_NORM_SOURCE,
    "batch_norm_sums": BATCH_NORM_SOURCE,
    "batch_norm_grad_input": BATCH_NORM_SOURCE,
    "update_running_stats": BATCH_NORM_SOURCE,
    "add_channel_bias": BATCH_NORM_SOURCE,
    "channel_sums": BATCH_NORM_SOURCE,
    "sigmoid": SIGMOID_SOURCE,
    "sigmoid_backward": SIGMOID_SOURCE,
    "sgd_step": SGD_SOURCE,
}
C_TYPES = {"float32": "float", "float64": "double"}

_compiled = {}


def source_for(name, dtype):
    """The complete CUDA source of kernel ``name`` with scalar_t set for ``dtype``."""
    dtype = numpy.dtype(dtype).name
    if dtype not in C_TYPES:
        raise TypeError(f"CUDA kernel {name}: dtype {dtype} is not supported; use float32 or float64")
    return f"typedef {C_TYPES[dtype]} scalar_t;\n{SOURCES[name]}"


def _kernel(name, dtype):
    """Kernel ``name`` for ``dtype`` on the current device, compiled on first use."""
    import cupy
    key = (name, dtype, cupy.cuda.runtime.getDevice())
    if key not in _compiled:
        _compiled[key] = cupy.RawKernel(source_for(name, dtype), name)
    return _compiled[key]


def _launch(name, dtype, total, args, sizes):
    """Run kernel ``name`` with one thread per element of a ``total``-element output."""
    _run(name, dtype, min((total + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, 2 ** 31 - 1), args, sizes)


def _launch_per_channel(name, dtype, channels, args, sizes):
    """Run kernel ``name`` with one block of threads per channel."""
    _run(name, dtype, min(channels, 2 ** 31 - 1), args, sizes)


def _run(name, dtype, blocks, args, sizes):
    """Launch ``name`` on ``args`` (arrays and scalars of the kernel's dtype) then ``sizes`` (ints):
    every kernel's parameters come in that order."""
    _kernel(name, dtype)((max(blocks, 1),), (THREADS_PER_BLOCK,), args + _int32(sizes))


@functools.lru_cache(maxsize=4096)
def _int32(sizes):
    """``sizes`` as 32-bit ints, the kernels' ``int`` (a Python int would reach the GPU as a
    64-bit one); a layer's sizes repeat every step, so each tuple is converted once."""
    return tuple(numpy.int32(size) for size in sizes)


def _out_hw(shape, kernel_size, stride, padding, dilation=(1, 1)):
    """(OH, OW) of a window sliding over the last two axes of ``shape`` (reference.im2col's)."""
    return output_hw(shape[2:], kernel_size, stride, padding, dilation)


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Receptive fields as columns (C·kh·kw, N·OH·OW); see reference.im2col."""
    import cupy
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    out_hw = _out_hw(x.shape, kernel_size, stride, padding, dilation)
    cols = cupy.empty((c * kernel_size[0] * kernel_size[1], n * out_hw[0] * out_hw[1]), x.dtype)
    _launch("im2col", x.dtype, cols.size, (x, cols, x.dtype.type(pad_value)),
            (n, c, h, w, *kernel_size, *stride, *padding, *dilation, *out_hw))
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Columns folded back onto an image, as a gather; see reference.col2im."""
    import cupy
    cols = cupy.ascontiguousarray(cols)
    out_hw = _out_hw(x_shape, kernel_size, stride, padding, dilation)
    x = cupy.empty(x_shape, cols.dtype)
    _launch("col2im", cols.dtype, x.size, (cols, x),
            (*x_shape, *kernel_size, *stride, *padding, *dilation, *out_hw))
    return x


def conv2d(x, weight, stride, padding, dilation):
    """y = W · im2col(x) with cuBLAS; see reference.conv2d."""
    return reference.conv2d(x, weight, stride, padding, dilation, im2col=im2col)


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """y = col2im(Wᵀ · x); see reference.conv_transpose2d."""
    return reference.conv_transpose2d(x, weight, out_hw, stride, padding, dilation, col2im=col2im)


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """dW = dY · im2col(x)ᵀ, as reference.conv2d_weight but in this orientation: cuBLAS reads the
    transposed columns in place, and dW comes out contiguous (no copy before the update)."""
    c_out = grad_y.shape[1]
    cols = im2col(x, kernel_size, stride, padding, dilation)
    rows = grad_y.transpose(1, 0, 2, 3).reshape(c_out, -1)
    return (rows @ cols.T).reshape((c_out, x.shape[1]) + tuple(kernel_size))


def max_pool2d(x, kernel_size, stride, padding):
    """Window maxima and flat argmax; see reference.max_pool2d."""
    import cupy
    x = cupy.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, stride, padding)
    y = cupy.empty(x.shape[:2] + out_hw, x.dtype)
    argmax = cupy.empty(y.shape, cupy.int64)
    _launch("max_pool", x.dtype, y.size, (x, y, argmax),
            (*x.shape, *kernel_size, *stride, *padding, *out_hw))
    return y, argmax


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """Each window's gradient to its winner, gathered per input pixel."""
    import cupy
    grad_y, argmax = cupy.ascontiguousarray(grad_y), cupy.ascontiguousarray(argmax)
    grad_x = cupy.empty(x_shape, grad_y.dtype)
    _launch("max_pool_backward", grad_y.dtype, grad_x.size, (grad_y, argmax, grad_x),
            (*x_shape, *kernel_size, *stride, *padding, *grad_y.shape[2:]))
    return grad_x


def avg_pool2d(x, kernel_size, stride, padding):
    """Window means, padding counted; see reference.avg_pool2d."""
    import cupy
    x = cupy.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, stride, padding)
    y = cupy.empty(x.shape[:2] + out_hw, x.dtype)
    _launch("avg_pool", x.dtype, y.size, (x, y),
            (*x.shape, *kernel_size, *stride, *padding, *out_hw))
    return y


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """Each window's gradient spread evenly, gathered per input pixel."""
    import cupy
    grad_y = cupy.ascontiguousarray(grad_y)
    grad_x = cupy.empty(x_shape, grad_y.dtype)
    _launch("avg_pool_backward", grad_y.dtype, grad_x.size, (grad_y, grad_x),
            (*x_shape, *kernel_size, *stride, *padding, *grad_y.shape[2:]))
    return grad_x


def channel_moments(x):
    """Per-channel mean and biased variance of x (N, C, P), summed in float64, in one kernel."""
    import cupy
    x = cupy.ascontiguousarray(x)
    mean, variance = cupy.empty(x.shape[1], x.dtype), cupy.empty(x.shape[1], x.dtype)
    _launch_per_channel("channel_moments", x.dtype, x.shape[1], (x, mean, variance), x.shape)
    return mean, variance


def inv_std(variance, eps):
    """1/√(variance + ε) elementwise, in one kernel."""
    import cupy
    variance = cupy.ascontiguousarray(variance)
    out = cupy.empty_like(variance)
    _launch("inv_std", variance.dtype, variance.size, (variance, out, variance.dtype.type(eps)),
            (variance.size,))
    return out


def batch_norm(x, mean, inv_std, weight, bias):
    """y = γ (x − μ)/σ + β per channel of x (N, C, P), in one kernel."""
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty_like(x)
    _launch("batch_norm", x.dtype, x.size, (x, mean, inv_std, weight, bias, y), x.shape)
    return y


def batch_norm_backward(grad, x, mean, inv_std, weight):
    """(dL/dx, dL/dγ, dL/dβ) of batch_norm in training (μ, σ the batch's), in two kernels:
    the sums, then dL/dx."""
    import cupy
    grad, x = cupy.ascontiguousarray(grad), cupy.ascontiguousarray(x)
    grad_weight, grad_bias, mean_grad, slope = (cupy.empty(x.shape[1], x.dtype) for _ in range(4))
    _launch_per_channel("batch_norm_sums", x.dtype, x.shape[1],
                        (grad, x, mean, inv_std, grad_weight, grad_bias, mean_grad, slope), x.shape)
    grad_x = cupy.empty_like(x)
    _launch("batch_norm_grad_input", x.dtype, x.size,
            (grad, x, mean, inv_std, weight, mean_grad, slope, grad_x), x.shape)
    return grad_x, grad_weight, grad_bias


def update_running_stats(running_mean, running_var, mean, variance, momentum, count):
    """running ← (1 − momentum)·running + momentum·batch in place, the variance unbiased, in one kernel."""
    dtype = running_mean.dtype.type
    _launch("update_running_stats", running_mean.dtype, running_mean.size,
            (running_mean, running_var, mean, variance, dtype(1 - momentum), dtype(momentum),
             dtype(momentum * (count / (count - 1)))), (running_mean.size,))


def add_channel_bias(y, bias):
    """y += b, one number per channel of y (N, C, H, W), in place, in one kernel."""
    if not y.flags.c_contiguous:
        y += bias.reshape(1, -1, 1, 1)
        return y
    n, c = y.shape[:2]
    _launch("add_channel_bias", y.dtype, y.size, (y, bias), (n, c, y.size // (n * c)))
    return y


def channel_sums(a):
    """Σ over the batch and the pixels of a (N, C, H, W), one sum per channel in float64, in one kernel."""
    import cupy
    a = cupy.ascontiguousarray(a)
    n, c = a.shape[:2]
    sums = cupy.empty(c, a.dtype)
    _launch_per_channel("channel_sums", a.dtype, c, (a, sums), (n, c, a.size // (n * c)))
    return sums


def column_sums(a):
    """Σ over the rows of a matrix (N, F), one sum per column in float64: channel_sums with one
    pixel per channel."""
    return channel_sums(a)


def sigmoid(x):
    """σ(x) in one kernel; see functional.activation."""
    import cupy
    x = cupy.ascontiguousarray(x)
    y = cupy.empty_like(x)
    _launch("sigmoid", x.dtype, x.size, (x, y), (x.size,))
    return y


def sigmoid_backward(grad, y):
    """dL/dx = dL/dy · y(1 − y) in one kernel."""
    import cupy
    grad, y = cupy.ascontiguousarray(grad), cupy.ascontiguousarray(y)
    grad_x = cupy.empty_like(y)
    _launch("sigmoid_backward", y.dtype, y.size, (grad, y, grad_x), (y.size,))
    return grad_x


def sgd_step(weight, grad, buffer, lr, momentum, dampening, weight_decay, nesterov):
    """One SGD update of ``weight`` in place, in one kernel (optim.SGD's rule); returns the
    momentum buffer, made on the first step, or None without momentum."""
    import cupy
    if not weight.flags.c_contiguous:  # the kernel walks memory: update a copy, then write it back
        updated = cupy.ascontiguousarray(weight)
        buffer = sgd_step(updated, grad, buffer, lr, momentum, dampening, weight_decay, nesterov)
        weight[...] = updated
        return buffer
    first = momentum != 0 and buffer is None
    if first:
        buffer = cupy.empty_like(weight)
    dtype = weight.dtype.type
    # without momentum the kernel never touches the buffer: the weight fills its slot
    _launch("sgd_step", weight.dtype, weight.size,
            (weight, cupy.ascontiguousarray(grad), weight if buffer is None else buffer, dtype(lr),
             dtype(weight_decay), dtype(momentum), dtype(dampening)),
            (int(nesterov), int(first), weight.size))
    return buffer
