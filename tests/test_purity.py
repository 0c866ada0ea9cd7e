"""Backend purity: code above the backend gets its arrays from ``xp``, never from numpy directly.

If minicnn/functional, nn, models or optim imported numpy, that code would silently compute
on the CPU while the model lives on the GPU; ``minicnn.backend`` hands out the right ``xp``
(docs/backends.md).
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minicnn"
PURE_PACKAGES = ("functional", "nn", "models", "optim")


def _is_numpy(module_name):
    return module_name == "numpy" or module_name.startswith("numpy.")


def numpy_imports(source, filename="<source>"):
    """Line numbers of every direct import of numpy in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            if any(_is_numpy(alias.name) for alias in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module and _is_numpy(node.module):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and _is_dynamic_numpy_import(node):
            lines.append(node.lineno)
    return sorted(lines)


def _is_dynamic_numpy_import(call):
    """``__import__("numpy")`` or ``importlib.import_module("numpy")``."""
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
    if name not in ("__import__", "import_module") or not call.args:
        return False
    first = call.args[0]
    return isinstance(first, ast.Constant) and isinstance(first.value, str) and _is_numpy(first.value)


def pure_sources():
    for package in PURE_PACKAGES:
        yield from sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize(
    "source",
    [
        "import numpy",
        "import numpy as np",
        "import os, numpy.linalg",
        "from numpy import zeros",
        "from numpy.lib.stride_tricks import as_strided",
        "def f():\n    import numpy as np\n    return np",
        "np = __import__('numpy')",
        "import importlib\nnp = importlib.import_module('numpy')",
    ],
)
def test_checker_catches_a_planted_numpy_import(source):
    assert numpy_imports(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from ..backend import get_array_module",
        "import numba",
        "import numpyro",
        "from . import numpy_helpers",
        "x = 'import numpy'",
    ],
)
def test_checker_leaves_clean_code_alone(source):
    assert numpy_imports(source) == []


def test_checker_reports_the_line():
    assert numpy_imports("import os\n\nfrom numpy import ones\n") == [3]


def test_functional_nn_models_optim_do_not_import_numpy():
    files = list(pure_sources())
    assert any(path.parent.name == "functional" for path in files)  # the scan found the code
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for path in files
        for line in numpy_imports(path.read_text(encoding="utf-8"), str(path))
    ]
    assert offenders == [], (
        "these modules import numpy directly; take the array module from "
        f"minicnn.backend (xp = get_array_module(...)) instead: {offenders}"
    )
