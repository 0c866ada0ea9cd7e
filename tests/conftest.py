"""Shared fixtures: every test that takes ``backend_name`` runs once per available backend.

Without the real CuPy, the CuPy stand-in (tests/cupy_standin: NumPy behind CuPy's walls, CUDA
kernels compiled for the host by g++) is installed as ``cupy``, so the cupy backend is always
tested; ``CUPY_STANDIN_OFF=1`` leaves it out.
"""
import os

import numpy
import pytest

import cupy_standin
from minicnn import backend

STANDIN = os.environ.get("CUPY_STANDIN_OFF", "0") == "0" and cupy_standin.host.available() \
    and cupy_standin.install()


def _available_backends():
    names = ["numpy"]
    try:
        backend.use("cupy")
        names.append("cupy")
    except backend.BackendError:
        pass
    finally:
        backend.use("numpy")
    return names


AVAILABLE_BACKENDS = _available_backends()


@pytest.fixture(params=AVAILABLE_BACKENDS)
def backend_name(request):
    """Run the test on this backend (numpy always; cupy on a CUDA device, or on the stand-in)."""
    backend.use(request.param)
    yield request.param
    backend.use("numpy")


@pytest.fixture
def xp(backend_name):
    """The array module of the backend under test."""
    return backend.xp()


@pytest.fixture
def rng():
    """A seeded NumPy generator so every test sees the same numbers on every run."""
    return numpy.random.default_rng(1234)
