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
import numpy

from . import reference
from .reference import output_hw

THREADS_PER_BLOCK = 256

IM2COL_SOURCE = r"""
// cols[c, i, j, n, oh, ow] = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw], or pad_value
// outside the image. One thread per element of cols.
extern "C" __global__ void im2col(
    const scalar_t* x, scalar_t* cols, const int N, const int C, const int H, const int W,
    const int kh, const int kw, const int sh, const int sw, const int ph, const int pw,
    const int dh, const int dw, const int OH, const int OW, const scalar_t pad_value)
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

SOURCES = {
    "im2col": IM2COL_SOURCE,
    "col2im": COL2IM_SOURCE,
    "max_pool": MAX_POOL_SOURCE,
    "max_pool_backward": MAX_POOL_BACKWARD_SOURCE,
    "avg_pool": AVG_POOL_SOURCE,
    "avg_pool_backward": AVG_POOL_BACKWARD_SOURCE,
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
    key = (name, numpy.dtype(dtype).name, cupy.cuda.Device().id)
    if key not in _compiled:
        _compiled[key] = cupy.RawKernel(source_for(name, dtype), name)
    return _compiled[key]


def _launch(name, dtype, total, *args):
    """Run kernel ``name`` with one thread per element of a ``total``-element output."""
    blocks = max(1, min((total + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, 2 ** 31 - 1))
    ints = tuple(numpy.int32(a) if isinstance(a, (int, numpy.integer)) else a for a in args)
    _kernel(name, dtype)((blocks,), (THREADS_PER_BLOCK,), ints)


def _out_hw(shape, kernel_size, stride, padding, dilation=(1, 1)):
    return output_hw(shape[2:], kernel_size, stride, padding, dilation)


def im2col(x, kernel_size, stride, padding, dilation, pad_value=0.0):
    """Receptive fields as columns (C·kh·kw, N·OH·OW); see reference.im2col."""
    import cupy
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    out_hw = _out_hw(x.shape, kernel_size, stride, padding, dilation)
    cols = cupy.empty((c * kernel_size[0] * kernel_size[1], n * out_hw[0] * out_hw[1]), x.dtype)
    _launch("im2col", x.dtype, cols.size, x, cols, n, c, h, w, *kernel_size, *stride,
            *padding, *dilation, *out_hw, x.dtype.type(pad_value))
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Columns folded back onto an image, as a gather; see reference.col2im."""
    import cupy
    cols = cupy.ascontiguousarray(cols)
    out_hw = _out_hw(x_shape, kernel_size, stride, padding, dilation)
    x = cupy.empty(x_shape, cols.dtype)
    _launch("col2im", cols.dtype, x.size, cols, x, *x_shape, *kernel_size, *stride, *padding,
            *dilation, *out_hw)
    return x


def conv2d(x, weight, stride, padding, dilation):
    """y = W · im2col(x) with cuBLAS; see reference.conv2d."""
    return reference.conv2d(x, weight, stride, padding, dilation, im2col=im2col)


def conv_transpose2d(x, weight, out_hw, stride, padding, dilation):
    """y = col2im(Wᵀ · x); see reference.conv_transpose2d."""
    return reference.conv_transpose2d(x, weight, out_hw, stride, padding, dilation, col2im=col2im)


def conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation):
    """dW = dY · im2col(x)ᵀ; see reference.conv2d_weight."""
    return reference.conv2d_weight(x, grad_y, kernel_size, stride, padding, dilation,
                                   im2col=im2col)


def max_pool2d(x, kernel_size, stride, padding):
    """Window maxima and flat argmax; see reference.max_pool2d."""
    import cupy
    x = cupy.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, stride, padding)
    y = cupy.empty(x.shape[:2] + out_hw, x.dtype)
    argmax = cupy.empty(y.shape, cupy.int64)
    _launch("max_pool", x.dtype, y.size, x, y, argmax, *x.shape, *kernel_size, *stride,
            *padding, *out_hw)
    return y, argmax


def max_pool2d_backward(grad_y, argmax, x_shape, kernel_size, stride, padding):
    """Each window's gradient to its winner, gathered per input pixel."""
    import cupy
    grad_y, argmax = cupy.ascontiguousarray(grad_y), cupy.ascontiguousarray(argmax)
    grad_x = cupy.empty(x_shape, grad_y.dtype)
    _launch("max_pool_backward", grad_y.dtype, grad_x.size, grad_y, argmax, grad_x, *x_shape,
            *kernel_size, *stride, *padding, *grad_y.shape[2:])
    return grad_x


def avg_pool2d(x, kernel_size, stride, padding):
    """Window means, padding counted; see reference.avg_pool2d."""
    import cupy
    x = cupy.ascontiguousarray(x)
    out_hw = _out_hw(x.shape, kernel_size, stride, padding)
    y = cupy.empty(x.shape[:2] + out_hw, x.dtype)
    _launch("avg_pool", x.dtype, y.size, x, y, *x.shape, *kernel_size, *stride, *padding,
            *out_hw)
    return y


def avg_pool2d_backward(grad_y, x_shape, kernel_size, stride, padding):
    """Each window's gradient spread evenly, gathered per input pixel."""
    import cupy
    grad_y = cupy.ascontiguousarray(grad_y)
    grad_x = cupy.empty(x_shape, grad_y.dtype)
    _launch("avg_pool_backward", grad_y.dtype, grad_x.size, grad_y, grad_x, *x_shape,
            *kernel_size, *stride, *padding, *grad_y.shape[2:])
    return grad_x
