"""Shared fixtures: every test that takes ``backend_name`` runs once per available backend.

Without the real CuPy, the CuPy stand-in (tests/cupy_standin: NumPy behind CuPy's walls, CUDA
kernels compiled for the host by g++) is installed as ``cupy``, so the cupy backend is always
tested; ``CUPY_STANDIN_OFF=1`` leaves it out. Numba compiles into a cache folder keyed on the
kernels' sources (``numba_cache_dir``), inside ``$NUMBA_CACHE_DIR`` when that is set.
"""
import hashlib
import os
import tempfile
from pathlib import Path

KERNELS = Path(__file__).resolve().parent.parent / "minicnn" / "kernels"


def numba_cache_dir(kernels=KERNELS, base=None):
    """A Numba cache folder named by a hash of every kernel source, so an edited kernel is never stale.

    Numba's ``cache=True`` checks only the file that defines a jitted function, not the helpers it
    calls from other files, so a test run could use old machine code after such a helper changed.
    The folder sits in ``base`` (the user's ``NUMBA_CACHE_DIR`` when set, else the temp folder).
    """
    digest = hashlib.sha256()
    for path in sorted(kernels.rglob("*.py")):
        digest.update(path.relative_to(kernels).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return Path(base or tempfile.gettempdir()) / f"minicnn-numba-{digest.hexdigest()[:16]}"


# before anything imports Numba, which reads the variable once
os.environ["NUMBA_CACHE_DIR"] = str(numba_cache_dir(base=os.environ.get("NUMBA_CACHE_DIR")))

import numpy  # noqa: E402
import pytest  # noqa: E402

import cupy_standin  # noqa: E402
from minicnn import backend  # noqa: E402

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
