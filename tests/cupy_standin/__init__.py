"""The CuPy stand-in for the tests (``cupy/``, ``cupyx/``) and the host compiler of CUDA kernels.

``install()`` puts the stand-in first on ``sys.path`` when the real CuPy is absent, so
``import cupy`` finds it; ``environment()`` gives a subprocess the same.
"""
import importlib.util
import os
import sys

from . import host  # noqa: F401  (the g++ shim, also used by tests/test_cuda_sources.py)

FOLDER = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(FOLDER)


def real_cupy_present():
    """True where the real CuPy is importable (then the stand-in stays out of the way)."""
    spec = importlib.util.find_spec("cupy")
    return spec is not None and not (spec.origin or "").startswith(FOLDER)


def install():
    """Make ``import cupy`` find the stand-in for this process; False if the real one is here."""
    if real_cupy_present():
        return False
    for path in (TESTS, FOLDER):
        if path not in sys.path:
            sys.path.insert(0, path)
    return True


def environment(env=None):
    """A copy of ``env`` (default os.environ) whose PYTHONPATH finds the stand-in first."""
    env = dict(os.environ if env is None else env)
    paths = [FOLDER, TESTS] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
