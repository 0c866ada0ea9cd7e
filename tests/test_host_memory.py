"""Kept host memory: after minicnn loads, freed arrays' pages serve the next step's arrays."""
import os
import platform
import subprocess
import sys

import pytest

from minicnn.kernels import host_memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Ten LeNet conv1 forward passes after five warm-ups: the page faults of those ten. Each
# pass allocates and frees a padded copy, a wide result and the result (about 11 MB).
FAULTS_OF_TEN_CONVOLUTIONS = """
import resource
import numpy as np
from minicnn import kernels
x = np.ones((256, 1, 28, 28), dtype=np.float32)
w = np.ones((6, 1, 5, 5), dtype=np.float32)
for _ in range(5):
    kernels.conv2d(x, w, (1, 1), (2, 2), (1, 1))
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    kernels.conv2d(x, w, (1, 1), (2, 2), (1, 1))
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(**environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MINICNN_KEEP"))}
    env.update(environment)
    done = subprocess.run([sys.executable, "-c", FAULTS_OF_TEN_CONVOLUTIONS], env=env,
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@glibc_only
def test_a_repeated_convolution_reuses_its_pages():
    pages = 256 * 6 * 28 * 28 * 4 // 4096  # one result: 1,176 pages
    assert page_faults(MINICNN_KEEP_MEMORY="0") > 5 * pages  # glibc's default: fresh pages each time
    assert page_faults() < pages // 10


@glibc_only
def test_keep_freed_memory_is_accepted_by_glibc():
    assert host_memory.keep_freed_memory() is True


@pytest.mark.parametrize("variable, value, expected", [
    ("MINICNN_KEEP_MEMORY", "0", False),
    ("MINICNN_KEEP_MEMORY", "1", True),
    ("MALLOC_TRIM_THRESHOLD_", "131072", False),
    ("MALLOC_MMAP_THRESHOLD_", "131072", False),
])
def test_the_user_can_opt_out_or_tune_malloc_themselves(monkeypatch, variable, value, expected):
    for name in ("MINICNN_KEEP_MEMORY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    assert host_memory.wanted() is expected
