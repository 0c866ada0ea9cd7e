"""Shared fixtures: every test that takes ``backend_name`` runs once per available backend."""
import numpy
import pytest

from minicnn import backend


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
    """Run the test on this backend (numpy always, cupy when a CUDA device is present)."""
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
