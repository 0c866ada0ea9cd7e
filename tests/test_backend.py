"""The NumPy/CuPy switch: use(), current(), start-up from MINICNN_BACKEND, conversions, errors."""
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy
import pytest

from minicnn import backend

REPO = Path(__file__).resolve().parents[1]


def run_python(code, **env):
    """Run ``python -c code`` in a fresh interpreter with extra environment variables."""
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
        env=environment, timeout=120,
    )


# ---------------------------------------------------------------- use / current


def test_use_and_current(backend_name):
    assert backend.current() == backend_name
    backend.use("numpy")
    assert backend.current() == "numpy"
    assert backend.xp() is numpy


def test_unknown_backend_name_is_a_clear_error():
    with pytest.raises(ValueError, match=r"'tensorflow'.*numpy.*cupy"):
        backend.use("tensorflow")
    assert backend.current() == "numpy"


def test_use_cupy_without_cupy_says_why_and_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(backend.BackendError, match="not installed") as info:
        backend.use("cupy")
    assert "pip install cupy-cuda12x" in str(info.value)
    assert backend.current() == "numpy"  # a failed switch leaves the backend alone


def _fake_cupy(get_device_count):
    runtime = types.SimpleNamespace(getDeviceCount=get_device_count)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime))


def test_use_cupy_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(lambda: 0))
    with pytest.raises(backend.BackendError, match="no CUDA device"):
        backend.use("cupy")
    assert backend.current() == "numpy"


def test_use_cupy_with_a_broken_driver_says_so(monkeypatch):
    def broken():
        raise RuntimeError("cudaErrorInsufficientDriver")

    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(broken))
    with pytest.raises(backend.BackendError, match="cudaErrorInsufficientDriver.*nvidia-smi"):
        backend.use("cupy")


def test_backend_error_is_a_runtime_error():
    assert issubclass(backend.BackendError, RuntimeError)


# ---------------------------------------------------------------- start-up


def test_minicnn_backend_env_var_is_honoured_at_startup():
    result = run_python("import minicnn; print(minicnn.backend.current())", MINICNN_BACKEND=" NumPy ")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "numpy"


def test_a_bad_minicnn_backend_value_fails_at_startup():
    result = run_python("import minicnn", MINICNN_BACKEND="tensorflow")
    assert result.returncode != 0
    assert "BackendError" in result.stderr
    assert "MINICNN_BACKEND='tensorflow'" in result.stderr and "'numpy' or 'cupy'" in result.stderr


NO_CUPY = "import sys; sys.modules['cupy'] = None; sys.modules['cupyx'] = None\n"


def test_minicnn_backend_cupy_without_cupy_still_imports_and_numpy_still_runs():
    code = NO_CUPY + ("import minicnn\nminicnn.backend.use('numpy')\n"
                      "print(minicnn.backend.current(), (minicnn.Tensor([2.0]) * 3).item())")
    result = run_python(code, MINICNN_BACKEND="cupy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "6.0"]


def test_minicnn_backend_cupy_without_cupy_fails_at_the_first_array_with_the_fix():
    result = run_python(NO_CUPY + "import minicnn\nminicnn.Tensor([1.0])", MINICNN_BACKEND="cupy")
    assert result.returncode != 0
    assert "BackendError" in result.stderr and "backend 'cupy' is not available" in result.stderr
    assert "MINICNN_BACKEND=cupy is set in the environment: unset it" in result.stderr
    assert "pip install cupy" in result.stderr


def test_importing_minicnn_works_without_cupy():
    code = NO_CUPY + (
        "import minicnn, minicnn.functional\n"
        "print(minicnn.backend.current(), minicnn.Tensor([1.0]).dtype)"
    )
    result = run_python(code, MINICNN_BACKEND="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "float32"]


# ---------------------------------------------------------------- conversions


def test_to_numpy(xp):
    array = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    out = backend.to_numpy(array)
    assert type(out) is numpy.ndarray and out.dtype == numpy.float32
    numpy.testing.assert_array_equal(out, numpy.arange(6).reshape(2, 3))
    numpy.testing.assert_array_equal(backend.to_numpy([1, 2]), [1, 2])


def test_asarray_puts_data_on_the_current_backend(xp):
    out = backend.asarray(numpy.array([1.0, 2.0]))
    assert isinstance(out, xp.ndarray) and out.dtype == numpy.float64
    out32 = backend.asarray([1, 2], dtype="float32")
    assert isinstance(out32, xp.ndarray) and out32.dtype == numpy.float32
    numpy.testing.assert_array_equal(backend.to_numpy(out32), [1.0, 2.0])


def test_get_array_module(xp):
    assert backend.get_array_module(xp.ones(2), None, 3.0) is xp
    assert backend.get_array_module() is numpy


def test_backend_of():
    assert backend.backend_of(numpy.ones(2)) == "numpy"
    assert backend.backend_of(2.0) == "numpy"
    fake = type("ndarray", (), {"__module__": "cupy._core.core"})()
    assert backend.backend_of(fake) == "cupy"


def test_scatter_add_accumulates_repeated_indices(xp):
    target = xp.zeros(4)
    backend.scatter_add(target, xp.asarray([0, 0, 2, 0]), xp.asarray([1.0, 2.0, 3.0, 4.0]))
    numpy.testing.assert_array_equal(backend.to_numpy(target), [7.0, 0.0, 3.0, 0.0])
