"""The test session compiles into a Numba cache folder keyed on the kernels' sources (tests/conftest.py)."""
import os
import re
import shutil
from pathlib import Path

import numba

from conftest import KERNELS, numba_cache_dir


def test_numba_caches_into_the_folder_keyed_on_the_kernels_sources():
    # the key of the sources as the session started (a kernel edited since gives another one)
    assert Path(numba.config.CACHE_DIR) == Path(os.environ["NUMBA_CACHE_DIR"])
    assert re.fullmatch(r"minicnn-numba-[0-9a-f]{16}", Path(numba.config.CACHE_DIR).name)


def test_editing_any_kernel_source_even_in_a_subfolder_changes_the_folder(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(KERNELS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert numba_cache_dir(copy) == numba_cache_dir(KERNELS)
    (copy / "faces").mkdir(exist_ok=True)
    (copy / "faces" / "helper.py").write_text("TAP = 1\n")
    nested = numba_cache_dir(copy)
    assert nested != numba_cache_dir(KERNELS)
    (copy / "faces" / "helper.py").write_text("TAP = 2\n")
    assert numba_cache_dir(copy) != nested


def test_a_chosen_cache_folder_is_kept_as_the_base(tmp_path):
    assert numba_cache_dir(base=tmp_path).parent == tmp_path
