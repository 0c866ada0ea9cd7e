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
from minicnn.kernels import gpu_cupy, reference

DTYPES = ("float32", "float64")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (the CUDA compiler) is not installed")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_sources_compile_to_ptx(tmp_path, arch, dtype):
    # all kernels in one file: one nvcc start-up per (arch, dtype) keeps this test quick
    source = tmp_path / f"kernels_{dtype}.cu"
    source.write_text("\n".join(gpu_cupy.source_for(name, dtype) for name in gpu_cupy.SOURCES))
    ptx = tmp_path / f"kernels_{dtype}.ptx"
    done = subprocess.run(["nvcc", "-ptx", f"-arch={arch}", "-o", str(ptx), str(source)],
                          capture_output=True, text=True)
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
