"""The process settings minicnn makes when its kernels load: kept host memory (freed arrays'
pages serve the next step's arrays) and thread defaults the user can override."""
import os
import platform
import subprocess
import sys

import pytest

from minicnn.kernels import host_memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")

# Three LeNet training steps after two warm-ups (batch 256): the page faults of those three.
FAULTS_OF_THREE_STEPS = """
import resource
import numpy as np
from minicnn import functional as F, models, optim, training
model = models.lenet()
optimizer = optim.SGD(model.parameters(), lr=0.1)
images = np.ones((256, 1, 28, 28), dtype=np.float32)
labels = np.zeros(256, dtype=np.int64)
for _ in range(2):
    training._train_step(model, images, labels, optimizer, F.cross_entropy)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    training._train_step(model, images, labels, optimizer, F.cross_entropy)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


# A 40 MB array allocated, filled and freed five times after a warm-up: above glibc's largest
# mmap threshold (32 MiB), so by default every one is a fresh mapping.
FAULTS_OF_LARGE_ARRAYS = """
import resource
import numpy as np
import minicnn
np.ones(10 << 20, dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    np.ones(10 << 20, dtype=np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(script, **environment):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MINICNN_KEEP"))}
    env.update(environment)
    done = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


@glibc_only
def test_training_steps_reuse_their_pages():
    pages = 256 * 6 * 28 * 28 * 4 // 4096  # one activation of the first layer: 1,176 pages
    assert page_faults(FAULTS_OF_THREE_STEPS, MINICNN_KEEP_MEMORY="0") > 2 * pages  # glibc's default
    assert page_faults(FAULTS_OF_THREE_STEPS) < pages // 10


@glibc_only
def test_arrays_larger_than_any_mmap_threshold_are_reused_too():
    huge_pages = 5 * (40 << 20) // (2 << 20)  # NumPy asks for 2 MiB pages: at least one fault each
    assert page_faults(FAULTS_OF_LARGE_ARRAYS, MINICNN_KEEP_MEMORY="0") >= huge_pages
    assert page_faults(FAULTS_OF_LARGE_ARRAYS) < huge_pages // 5


@glibc_only
def test_keep_freed_memory_is_accepted_by_glibc():
    assert host_memory.keep_freed_memory() is True


@pytest.mark.parametrize("variable, value, expected", [
    ("MINICNN_KEEP_MEMORY", "0", False),
    ("MINICNN_KEEP_MEMORY", "1", True),
    ("MALLOC_TRIM_THRESHOLD_", "131072", False),
    ("MALLOC_MMAP_THRESHOLD_", "131072", False),
    ("MALLOC_MMAP_MAX_", "65536", False),
])
def test_the_user_can_opt_out_or_tune_malloc_themselves(monkeypatch, variable, value, expected):
    for name in ("MINICNN_KEEP_MEMORY", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_",
                 "MALLOC_MMAP_MAX_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    assert host_memory.wanted() is expected


SETTINGS_AFTER_IMPORT = """
import os
import minicnn
from minicnn.kernels._blas import OPENBLAS
print(os.environ.get("OMP_WAIT_POLICY"), os.environ.get("GOMP_SPINCOUNT"),
      OPENBLAS.scipy_openblas_get_num_threads(), os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize("users, expected", [
    ({}, "PASSIVE 3000 1 None"),
    ({"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "0", "OPENBLAS_NUM_THREADS": "2"},
     "ACTIVE 0 1 2"),
])
def test_thread_settings_are_defaults_the_user_can_override(users, expected):
    # kernels/__init__.py: threads sleep after a short spin unless the user says otherwise;
    # minicnn's own OpenBLAS (kernels/_blas.py) always runs one thread per call, and leaves
    # OPENBLAS_NUM_THREADS, which NumPy's and SciPy's BLAS read, as the user set it
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", SETTINGS_AFTER_IMPORT], env={**env, **users},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split() == expected.split()
