"""The CUDA kernels of minicnn/kernels/gpu_cupy.py, checked on any machine.

1. Every source compiles to PTX with ``nvcc`` for sm_80 (A100) and sm_90 (H100), in float and
   double (skipped without nvcc), so a syntax error never waits for a GPU to be found.
2. The same sources, compiled for the *host* by g++ through a short shim (one block of one
   thread, whose grid-stride loop then visits every element; tests/cupy_standin/host.py),
   run behind the real Python wrappers and must agree with the reference face. This checks
   the index arithmetic and the arguments' order and C types on a CPU; it says nothing about
   speed or the GPU itself.
3. On a machine with CuPy and a CUDA device, the GPU face runs against the reference.
"""
import shutil
import subprocess
import sys

import numpy as np
import pytest

from cupy_standin import host
from minicnn import backend
from minicnn.kernels import gpu_cupy, reference

DTYPES = ("float32", "float64")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (the CUDA compiler) is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_sources_compile_to_ptx(tmp_path, arch, dtype):
    # all sources in one file (each once: BatchNorm's four kernels share one): one nvcc
    # start-up per (arch, dtype) keeps this test quick
    source = tmp_path / f"kernels_{dtype}.cu"
    sources = dict.fromkeys(gpu_cupy.source_for(name, dtype) for name in gpu_cupy.SOURCES)
    source.write_text("\n".join(sources))
    ptx = tmp_path / f"kernels_{dtype}.ptx"
    done = subprocess.run(["nvcc", "-ptx", f"-arch={arch}", "-o", str(ptx), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nvcc failed ({dtype}, {arch}):\n{done.stderr}"
    entries = ptx.read_text()
    missing = [name for name in gpu_cupy.SOURCES if f".entry {name}(" not in entries]
    assert not missing, f"kernels missing from the PTX: {missing}"


class HostKernel:
    """A CUDA kernel compiled for the CPU (cupy_standin.host), called as a CuPy RawKernel."""

    def __init__(self, name, dtype):
        self.name, self.source = name, gpu_cupy.source_for(name, dtype)
        self.params = host.parameters(self.source, name)

    def __call__(self, grid, block, args):
        converted = host.check_and_convert(
            self.name, self.params, args, lambda v: v if isinstance(v, np.ndarray) else None)
        getattr(host.library(self.source), self.name)(*converted)


@pytest.fixture
def host_face(monkeypatch):
    """gpu_cupy's wrappers with NumPy standing in for CuPy and the host library for the GPU."""
    if not host.available():
        pytest.skip("g++ on Linux is needed to run the CUDA sources on the host")
    monkeypatch.setitem(sys.modules, "cupy", np)
    monkeypatch.setattr(gpu_cupy, "_kernel", HostKernel)
    return gpu_cupy


GEOMETRIES = [  # (input shape, kernel, stride, padding, dilation)
    ((2, 3, 7, 6), (3, 2), (1, 2), (1, 0), (1, 1)),
    ((1, 2, 9, 9), (3, 3), (2, 2), (2, 1), (2, 2)),
    ((3, 1, 5, 8), (1, 4), (3, 1), (0, 2), (1, 2)),
]
POOLS = [((2, 3, 7, 6), (3, 3), (2, 2), (1, 1)), ((1, 2, 9, 8), (2, 3), (1, 2), (1, 0))]


def _check_faces(face, geometry, dtype, rng):
    shape, kernel, stride, padding, dilation = geometry
    x = rng.standard_normal(shape).astype(dtype)
    for pad_value in (0.0, -np.inf):
        np.testing.assert_array_equal(face.im2col(x, kernel, stride, padding, dilation, pad_value),
                                      reference.im2col(x, kernel, stride, padding, dilation, pad_value))
    cols = rng.standard_normal(reference.im2col(x, kernel, stride, padding, dilation).shape).astype(dtype)
    np.testing.assert_allclose(face.col2im(cols, shape, kernel, stride, padding, dilation),
                               reference.col2im(cols, shape, kernel, stride, padding, dilation),
                               rtol=1e-5, atol=1e-5)


def _check_pools(face, pool, dtype, rng):
    shape, kernel, stride, padding = pool
    x = rng.integers(-3, 4, size=shape).astype(dtype)  # ties: the first maximum wins
    y, argmax = face.max_pool2d(x, kernel, stride, padding)
    y_ref, argmax_ref = reference.max_pool2d(x, kernel, stride, padding)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    grad = rng.standard_normal(y.shape).astype(dtype)
    np.testing.assert_allclose(face.max_pool2d_backward(grad, argmax, shape, kernel, stride, padding),
                               reference.max_pool2d_backward(grad, argmax_ref, shape, kernel, stride,
                                                             padding), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(face.avg_pool2d(x, kernel, stride, padding),
                               reference.avg_pool2d(x, kernel, stride, padding), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(face.avg_pool2d_backward(grad, shape, kernel, stride, padding),
                               reference.avg_pool2d_backward(grad, shape, kernel, stride, padding),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_host_compiled_im2col_col2im_agree(host_face, rng, geometry, dtype):
    _check_faces(host_face, geometry, dtype, rng)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pool", POOLS)
def test_host_compiled_pools_agree(host_face, rng, pool, dtype):
    _check_pools(host_face, pool, dtype, rng)


def test_host_compiled_convolutions_agree(host_face, rng):
    shape, kernel, stride, padding, dilation = GEOMETRIES[1]
    x = rng.standard_normal(shape)
    weight = rng.standard_normal((4, shape[1]) + kernel)
    y = host_face.conv2d(x, weight, stride, padding, dilation)
    np.testing.assert_allclose(y, reference.conv2d(x, weight, stride, padding, dilation), atol=1e-12)
    grad = rng.standard_normal(y.shape)
    np.testing.assert_allclose(
        host_face.conv_transpose2d(grad, weight, shape[2:], stride, padding, dilation),
        reference.conv_transpose2d(grad, weight, shape[2:], stride, padding, dilation), atol=1e-12)


def _batch_norm_float64(grad, x, mean, inv_std, weight, bias):
    """BatchNorm's forward and training backward in float64 NumPy, written out from the formulas."""
    stat = (1, -1, 1)
    x_hat = (x - mean.reshape(stat)) * inv_std.reshape(stat)
    y = weight.reshape(stat) * x_hat + bias.reshape(stat)
    grad_bias, grad_weight = grad.sum(axis=(0, 2)), (grad * x_hat).sum(axis=(0, 2))
    count = x.shape[0] * x.shape[2]
    grad_x = (weight * inv_std).reshape(stat) * (
        grad - (grad_bias / count).reshape(stat) - x_hat * (grad_weight / count).reshape(stat))
    return y, grad_x, grad_weight, grad_bias


def _check_batch_norm(face, shape, dtype, rng):
    x = (3 + 2 * rng.standard_normal(shape)).astype(dtype)  # off-centre: the two-pass variance matters
    mean, variance = face.channel_moments(x)
    assert mean.dtype == variance.dtype == np.dtype(dtype)
    tolerance = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 2)), **tolerance)
    np.testing.assert_allclose(variance, x.astype(np.float64).var(axis=(0, 2)), **tolerance)
    inv_std = face.inv_std(variance, 1e-5)
    assert inv_std.dtype == np.dtype(dtype)
    np.testing.assert_allclose(inv_std, 1 / np.sqrt(variance.astype(np.float64) + 1e-5), **tolerance)
    weight, bias = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(2))
    grad = rng.standard_normal(shape).astype(dtype)
    expected = _batch_norm_float64(*(a.astype(np.float64) for a in (grad, x, mean, inv_std, weight, bias)))
    y = face.batch_norm(x, mean, inv_std, weight, bias)
    grads = face.batch_norm_backward(grad, x, mean, inv_std, weight)
    for got, want in zip((y,) + tuple(grads), expected):
        assert got.dtype == np.dtype(dtype) and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tolerance)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 2, 1), (4, 3, 300)])
def test_host_compiled_batch_norm_agrees_with_the_formulas(host_face, rng, shape, dtype):
    _check_batch_norm(host_face, shape, dtype, rng)


def _check_running_stats(update, to_device, dtype, rng):
    channels, count, momentum = 6, 35, 0.1
    running_mean, running_var, mean, variance = (rng.random(channels).astype(dtype) for _ in range(4))
    want_mean = (1 - momentum) * running_mean + momentum * mean.astype(np.float64)
    want_var = (1 - momentum) * running_var + momentum * count / (count - 1) * variance.astype(np.float64)
    on_device = [to_device(a) for a in (running_mean, running_var, mean, variance)]
    update(*on_device, momentum, count)
    np.testing.assert_allclose(backend.to_numpy(on_device[0]), want_mean, rtol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(on_device[1]), want_var, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_host_compiled_running_stats_update_agrees_with_the_formula(host_face, rng, dtype):
    _check_running_stats(host_face.update_running_stats, np.asarray, dtype, rng)


def _check_small_kernels(face, dtype, rng):
    """The sigmoid pair, a bias and its per-channel and per-column sums, and the weight gradient,
    against NumPy."""
    tolerance = dict(rtol=2e-6, atol=1e-7) if dtype == "float32" else dict(rtol=1e-13, atol=1e-15)
    x = (4 * rng.standard_normal((3, 5, 4, 3))).astype(dtype)
    x.flat[:3] = (-80, 80, 0)  # where a naive 1 / (1 + e^-x) would overflow in float32
    x64 = x.astype(np.float64)
    y = face.sigmoid(x)
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-x64)), **tolerance)
    grad = rng.standard_normal(x.shape).astype(dtype)
    y64 = np.asarray(y, dtype=np.float64)
    np.testing.assert_allclose(face.sigmoid_backward(grad, y), grad * y64 * (1 - y64), **tolerance)
    bias = rng.standard_normal(5).astype(dtype)
    np.testing.assert_allclose(face.add_channel_bias(x.copy(), bias), x64 + bias.reshape(1, -1, 1, 1),
                               **tolerance)
    np.testing.assert_allclose(face.channel_sums(x), x64.sum(axis=(0, 2, 3)), rtol=1e-6, atol=1e-5)
    matrix = x.reshape(6, -1)
    np.testing.assert_allclose(face.column_sums(matrix), x64.reshape(6, -1).sum(axis=0), rtol=1e-6, atol=1e-5)
    shape, kernel, stride, padding, dilation = GEOMETRIES[0]
    image = rng.standard_normal(shape).astype(dtype)
    grad_y = rng.standard_normal(reference.conv2d(image, rng.standard_normal((4, shape[1]) + kernel).astype(dtype),
                                                  stride, padding, dilation).shape).astype(dtype)
    np.testing.assert_allclose(face.conv2d_weight(image, grad_y, kernel, stride, padding, dilation),
                               reference.conv2d_weight(image, grad_y, kernel, stride, padding, dilation),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_host_compiled_small_kernels_agree_with_numpy(host_face, rng, dtype):
    _check_small_kernels(host_face, dtype, rng)


SGD_SETTINGS = [
    dict(momentum=0, dampening=0, weight_decay=0, nesterov=False),
    dict(momentum=0.9, dampening=0.1, weight_decay=0.01, nesterov=False),
    dict(momentum=0.8, dampening=0, weight_decay=0.001, nesterov=True),
]


def _check_sgd_step(step, to_device, to_host, dtype, rng, settings, transposed):
    """Three steps of the kernel against PyTorch's SGD rule written out in float64."""
    lr, momentum = 0.1, settings["momentum"]
    weight = rng.standard_normal((4, 3)).astype(dtype)
    grads = [rng.standard_normal((4, 3)).astype(dtype) for _ in range(3)]
    want, buffer = weight.astype(np.float64), None
    for g in grads:
        d = g + settings["weight_decay"] * want
        if momentum:
            buffer = d if buffer is None else momentum * buffer + (1 - settings["dampening"]) * d
            d = d + momentum * buffer if settings["nesterov"] else buffer
        want = want - lr * d
    on_device = to_device(weight.T.copy()).T if transposed else to_device(weight)
    state = None
    for g in grads:
        state = step(on_device, to_device(g), state, lr, momentum, settings["dampening"],
                     settings["weight_decay"], settings["nesterov"])
    assert (state is None) == (momentum == 0)
    np.testing.assert_allclose(to_host(on_device), want, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("transposed", [False, True])
@pytest.mark.parametrize("settings", SGD_SETTINGS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_host_compiled_sgd_step_follows_pytorchs_rule(host_face, rng, dtype, settings, transposed):
    _check_sgd_step(host_face.sgd_step, np.asarray, np.asarray, dtype, rng, settings, transposed)


@pytest.fixture
def cupy_face():
    cupy = pytest.importorskip("cupy")
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            pytest.skip("no CUDA device")
    except cupy.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    return cupy


@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_kernels_agree_with_reference(cupy_face, rng, dtype):
    cupy = cupy_face

    class OnDevice:
        """gpu_cupy's functions fed and read back through the device."""
        def __getattr__(self, name):
            def call(*args):
                moved = [cupy.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
                out = getattr(gpu_cupy, name)(*moved)
                return tuple(o.get() for o in out) if isinstance(out, tuple) else out.get()
            return call

    for geometry in GEOMETRIES:
        _check_faces(OnDevice(), geometry, dtype, rng)
    for pool in POOLS:
        _check_pools(OnDevice(), pool, dtype, rng)
    _check_batch_norm(OnDevice(), (8, 16, 300), dtype, rng)
    _check_running_stats(gpu_cupy.update_running_stats, cupy.asarray, dtype, rng)
    _check_small_kernels(OnDevice(), dtype, rng)
    for settings in SGD_SETTINGS:
        for transposed in (False, True):
            _check_sgd_step(gpu_cupy.sgd_step, cupy.asarray, cupy.asnumpy, dtype, rng, settings, transposed)


def _recording(monkeypatch, names):
    """Make gpu_cupy's ``names`` note each call in the returned list."""
    calls = []
    for name in names:
        kernel = getattr(gpu_cupy, name)
        monkeypatch.setattr(gpu_cupy, name, lambda *a, _k=kernel, _n=name: calls.append(_n) or _k(*a))
    return calls


def test_batch_norm_on_the_gpu_face_passes_gradcheck(cupy_face, rng, monkeypatch):
    import minicnn.functional as F
    from minicnn import Tensor, gradcheck
    fused = ("channel_moments", "inv_std", "update_running_stats", "batch_norm", "batch_norm_backward")
    calls = _recording(monkeypatch, fused)
    x, weight, bias = (Tensor(cupy_face.asarray(rng.standard_normal(shape)), requires_grad=True)
                       for shape in ((3, 4, 5, 2), (4,), (4,)))
    running_mean, running_var = cupy_face.zeros(4), cupy_face.ones(4)
    assert gradcheck(lambda *a: F.batch_norm(*a[:1], running_mean, running_var, *a[1:], training=True),
                     [x, weight, bias])
    assert set(calls) == set(fused)


@pytest.mark.parametrize("settings", SGD_SETTINGS[1:])
def test_sgd_on_the_gpu_face_matches_the_numpy_backend(cupy_face, rng, monkeypatch, settings):
    from minicnn import Tensor, optim
    calls = _recording(monkeypatch, ["sgd_step"])
    start = rng.standard_normal((2, 3, 4)).astype(np.float32)
    grads = [rng.standard_normal(start.shape).astype(np.float32) for _ in range(3)]
    finals = []
    for to_device in (np.asarray, cupy_face.asarray):
        w = Tensor(to_device(start.copy()), requires_grad=True)
        opt = optim.SGD([w], lr=0.05, **settings)
        for g in grads:
            w.grad = to_device(g)
            opt.step()
        finals.append(backend.to_numpy(w.data))
        assert backend.to_numpy(opt.state[0]["momentum_buffer"]).shape == start.shape
    np.testing.assert_allclose(finals[1], finals[0], rtol=1e-6, atol=1e-7)
    assert calls == ["sgd_step"] * 3


def test_sigmoid_on_the_gpu_face_passes_gradcheck(cupy_face, rng, monkeypatch):
    import minicnn.functional as F
    from minicnn import Tensor, gradcheck
    calls = _recording(monkeypatch, ["sigmoid", "sigmoid_backward"])
    x = Tensor(cupy_face.asarray(3 * rng.standard_normal((3, 4, 5))), requires_grad=True)
    assert gradcheck(F.sigmoid, [x])
    assert {"sigmoid", "sigmoid_backward"} <= set(calls)


def test_linear_on_the_gpu_face_passes_gradcheck(cupy_face, rng, monkeypatch):
    import minicnn.functional as F
    from minicnn import Tensor, gradcheck
    calls = _recording(monkeypatch, ["column_sums"])
    x, weight, bias = (Tensor(cupy_face.asarray(rng.standard_normal(shape)), requires_grad=True)
                       for shape in ((5, 3), (4, 3), (4,)))
    assert gradcheck(F.linear, [x, weight, bias])
    assert "column_sums" in calls
