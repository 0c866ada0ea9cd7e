"""The Numba face's sigmoid, whose e^-|x| is its own SIMD code, is as accurate as NumPy's.

Errors are relative and counted in ulps: 2 ulp is 2·eps of the type (2.4e-7 in float32,
4.4e-16 in float64). The exact sigmoid is computed in ``np.longdouble``; where the results are
subnormal the grid is absolute, so there the tolerance is two of its steps.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minicnn.functional as F
from minicnn import Tensor
from minicnn.kernels import numba as fast_face
from minicnn.kernels.numba import dense

TIMEOUT = 300  # seconds, for the subprocess that runs the loops as plain Python


def readable_sigmoid(x):
    """functional's own array code for σ(x): the reference face has no fused sigmoid."""
    saved = os.environ.get("MINICNN_NUMBA")
    os.environ["MINICNN_NUMBA"] = "0"
    try:
        return F.sigmoid(Tensor(x)).data
    finally:
        if saved is None:
            del os.environ["MINICNN_NUMBA"]
        else:
            os.environ["MINICNN_NUMBA"] = saved

DTYPES = [np.float32, np.float64]
LIMIT = {np.float32: 110.0, np.float64: 750.0}  # σ(−LIMIT) rounds to 0 in that type


def exact_sigmoid(x):
    """σ(x) in extended precision: with z = e^-|x|, 1/(1+z) for x ≥ 0 and z/(1+z) for x < 0."""
    if x.dtype == np.float64 and np.finfo(np.longdouble).nmant < 63:
        pytest.skip("np.longdouble is no wider than float64 on this platform")
    xl = x.astype(np.longdouble)
    z = np.exp(-np.abs(xl))
    return np.where(xl >= 0, 1, z) / (1 + z)


def sweep(dtype, rng):
    """A fine grid over the whole range where σ is not 0 or 1, plus random values."""
    grid = np.linspace(-LIMIT[dtype], LIMIT[dtype], 2_000_001)
    return np.concatenate([grid, rng.standard_normal(500_000) * 10,
                           rng.uniform(-LIMIT[dtype], 0, 500_000)]).astype(dtype)


def assert_within_ulps(got, expected, ulps):
    """|got − expected| ≤ ulps·eps·|expected|, or two steps of the subnormal grid."""
    info = np.finfo(got.dtype)
    np.testing.assert_allclose(got, expected, rtol=ulps * info.eps,
                               atol=2 * info.smallest_subnormal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sweep_is_within_two_ulps_of_the_exact_sigmoid(rng, dtype):
    x = sweep(dtype, rng)
    assert_within_ulps(fast_face.sigmoid(x), exact_sigmoid(x), ulps=2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sweep_is_within_two_ulps_of_the_reference(rng, dtype):
    x = sweep(dtype, rng)
    got, expected = fast_face.sigmoid(x), readable_sigmoid(x)
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=2.4e-7 if dtype == np.float32 else 4.5e-16,
                               atol=2 * np.finfo(dtype).smallest_subnormal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_subnormal_results_are_rounded_not_flushed(dtype):
    # below x ≈ −87 (float32) or −708 (float64), σ(x) ≈ e^x is subnormal, then rounds to 0
    x = np.linspace(-LIMIT[dtype], -80.0 if dtype == np.float32 else -700.0, 200_001, dtype=dtype)
    got, exact = fast_face.sigmoid(x), exact_sigmoid(x)
    info = np.finfo(dtype)
    assert np.count_nonzero((got > 0) & (got < info.tiny)) > 10_000
    np.testing.assert_allclose(got, exact, rtol=2 * info.eps, atol=info.smallest_subnormal)


@pytest.mark.parametrize("dtype", DTYPES)
def test_edge_values(dtype):
    info = np.finfo(dtype)
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, info.max, -info.max, info.tiny,
                  -info.smallest_subnormal, -LIMIT[dtype]], dtype=dtype)
    expected = [1.0, 0.0, np.nan, 0.5, 0.5, 1.0, 0.0, 0.5, 0.5, 0.0]
    np.testing.assert_array_equal(fast_face.sigmoid(x), np.array(expected, dtype=dtype))


@pytest.mark.parametrize("dtype, x, expected", [
    (np.float32, -103.0, 1.4e-45),  # the smallest subnormal float32, 2^-149, is σ(−103.28)
    (np.float32, -104.0, 0.0),
    (np.float64, -745.0, 5e-324),  # 2^-1074, the smallest subnormal float64
    (np.float64, -745.2, 0.0),
])
def test_the_last_nonzero_results(dtype, x, expected):
    assert fast_face.sigmoid(np.array([x], dtype=dtype))[0] == dtype(expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_and_shape_kept_for_strided_and_scalar_inputs(rng, dtype):
    x = (rng.standard_normal((3, 4, 10)) * 5).astype(dtype)
    for view in (x[:, ::2, 1::3], x.transpose(2, 0, 1), x[::-1, :, ::-2], x[1, 2, 3]):
        view = np.asarray(view)
        got = fast_face.sigmoid(view)
        assert got.dtype == dtype and got.shape == view.shape
        np.testing.assert_array_equal(got, fast_face.sigmoid(np.ascontiguousarray(view)))
        assert_within_ulps(got, exact_sigmoid(view), ulps=2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_agrees_with_torch(dtype):
    torch = pytest.importorskip("torch")
    # PyTorch flushes subnormal results to zero, so the sweep stops before they begin
    x = np.linspace(-80.0 if dtype == np.float32 else -700.0, 40.0, 1_000_001, dtype=dtype)
    expected = torch.sigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(fast_face.sigmoid(x), expected, rtol=4 * np.finfo(dtype).eps, atol=0)


def test_backward_keeps_shape_and_agrees(rng):
    y = rng.uniform(0, 1, (2, 3)).astype(np.float32)
    grad = rng.standard_normal((2, 3)).astype(np.float32)
    got = fast_face.sigmoid_backward(grad.T, y.T)
    assert got.dtype == np.float32 and got.shape == (3, 2)
    np.testing.assert_array_equal(got, grad.T * y.T * (1 - y.T))
    assert fast_face.sigmoid_backward(np.array(2.0), np.array(0.5)).shape == ()


def test_plain_python_twins_agree_with_the_compiled_exp():
    """With NUMBA_DISABLE_JIT=1, ``_ldexp`` and ``_constants`` run as their Python twins."""
    values = [-np.inf, -745.0, -120.0, -103.0, -100.0, -88.0, -3.5, -0.0, 0.25, 9.0, np.inf, np.nan]
    script = textwrap.dedent("""
        import json, sys
        import numpy as np
        from minicnn.kernels.numba import dense
        print(type(dense._exp_nonpositive).__name__)
        for dtype in (np.float32, np.float64):
            x = np.array(json.loads(sys.argv[1]), dtype=dtype)
            print(json.dumps(dense.sigmoid(x).tolist()))
    """)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    plain = subprocess.run([sys.executable, "-c", script, json.dumps(values)], capture_output=True,
                           text=True, cwd=root, env=dict(os.environ, NUMBA_DISABLE_JIT="1"), timeout=TIMEOUT)
    assert plain.returncode == 0, plain.stderr
    kind, *lines = plain.stdout.splitlines()
    assert kind == "function"  # not a Numba dispatcher: the JIT really was off
    for line, dtype in zip(lines, DTYPES, strict=True):
        x = np.array(values, dtype=dtype)
        assert_within_ulps(np.array(json.loads(line), dtype=dtype), fast_face.sigmoid(x), ulps=1)
