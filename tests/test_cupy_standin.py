"""The CuPy stand-in (tests/cupy_standin) is strict: it fails where CuPy fails.

Only meaningful where the stand-in is what ``import cupy`` finds (machines without CuPy);
on a GPU machine these tests skip, as the real CuPy needs no proof of strictness.
"""
import numpy
import pytest

from conftest import STANDIN

pytestmark = pytest.mark.skipif(not STANDIN, reason="the real CuPy is installed: no stand-in")


@pytest.fixture
def cupy():
    import cupy
    return cupy


def test_it_is_the_stand_in_with_a_distinct_array_type(cupy):
    assert cupy.STANDIN
    a = cupy.arange(6, dtype=cupy.float32)
    assert type(a) is cupy.ndarray and not isinstance(a, numpy.ndarray)


def test_numpy_asarray_and_implicit_conversions_are_refused(cupy):
    a = cupy.ones((2, 3))
    for convert in (numpy.asarray, numpy.array, lambda v: numpy.testing.assert_allclose(v, 1.0)):
        with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
            convert(a)
    numpy.testing.assert_array_equal(a.get(), numpy.ones((2, 3)))
    numpy.testing.assert_array_equal(cupy.asnumpy(a), numpy.ones((2, 3)))
    assert type(a.get()) is numpy.ndarray


@pytest.mark.parametrize("mix", [lambda a, h: a + h, lambda a, h: h * a, lambda a, h: a @ h,
                                 lambda a, h: numpy.maximum(a, h), lambda a, h: a < h])
def test_arithmetic_with_a_numpy_array_is_refused(cupy, mix):
    with pytest.raises(TypeError, match="Unsupported type"):
        mix(cupy.ones((2, 2)), numpy.ones((2, 2)))


def test_scalars_mix_and_reductions_stay_on_the_device(cupy):
    a = cupy.arange(4, dtype=cupy.float32)
    total = (a * numpy.float32(2) + 1).sum()
    assert type(total) is cupy.ndarray and total.shape == () and float(total) == 16.0
    assert type(a[1]) is cupy.ndarray and f"{a[1]:.1f}" == "1.0"


def test_numpy_functions_dispatch_and_missing_ones_fail(cupy):
    a = cupy.arange(4.0)
    assert type(numpy.sum(a)) is cupy.ndarray and type(numpy.exp(a)) is cupy.ndarray
    with pytest.raises(TypeError, match="no implementation found for 'numpy.fft.fft'"):
        numpy.fft.fft(a)
    with pytest.raises(NotImplementedError, match="cupy.fuse"):
        cupy.fuse
    with pytest.raises(NotImplementedError, match="cupy.ndarray.tofile"):
        a.tofile


def test_device_queries_and_scatter_add(cupy):
    import cupyx
    assert cupy.cuda.runtime.getDeviceCount() == 1 and cupy.cuda.Device().id == 0
    target = cupy.zeros(3)
    cupyx.scatter_add(target, cupy.asarray([0, 0, 2]), cupy.asarray([1.0, 2.0, 3.0]))
    cupy.add.at(target, cupy.asarray([1, 1]), cupy.asarray([4.0, 5.0]))
    numpy.testing.assert_array_equal(target.get(), [3.0, 9.0, 3.0])
    numbers = cupy.random.default_rng(0).random((2, 2), dtype=cupy.float32)
    assert type(numbers) is cupy.ndarray and numbers.dtype == numpy.float32


SCALE = r"""
extern "C" __global__ void scale(const float* x, float* y, const float factor, const int n)
{
    for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += blockDim.x * gridDim.x)
        y[k] = factor * x[k];
}
"""


def test_raw_kernel_runs_the_cuda_source_and_checks_argument_types(cupy):
    kernel = cupy.RawKernel(SCALE, "scale")
    x = cupy.arange(5, dtype=cupy.float32)
    y = cupy.empty_like(x)
    kernel((1,), (128,), (x, y, numpy.float32(3), numpy.int32(5)))
    numpy.testing.assert_array_equal(y.get(), 3 * numpy.arange(5))
    with pytest.raises(TypeError, match="parameter n .*Python int goes to the GPU as int64"):
        kernel((1,), (128,), (x, y, numpy.float32(3), 5))
    with pytest.raises(TypeError, match="parameter x .*float64"):
        kernel((1,), (128,), (x.astype(cupy.float64), y, numpy.float32(3), numpy.int32(5)))
    with pytest.raises(ValueError, match="not C-contiguous"):
        kernel((1,), (128,), (cupy.ones((5, 2), cupy.float32)[:, 0], y, numpy.float32(3),
                              numpy.int32(5)))
    with pytest.raises(ValueError, match="no `extern \"C\" __global__ void missing"):
        cupy.RawKernel(SCALE, "missing")


def test_each_cuda_source_is_compiled_once_and_kept(cupy, monkeypatch):
    from cupy_standin import host
    source = SCALE.replace("factor * x[k]", "x[k] * factor")  # a source no other test builds
    host.library(source)
    monkeypatch.setattr(host, "_compile", lambda *a: pytest.fail("compiled a second time"))
    host._libraries.clear()  # a new process: the library comes from the disk cache
    kernel = cupy.RawKernel(source, "scale")
    x = cupy.arange(3, dtype=cupy.float32)
    kernel((1,), (32,), (x, x, numpy.float32(2), numpy.int32(3)))
    numpy.testing.assert_array_equal(x.get(), [0, 2, 4])
