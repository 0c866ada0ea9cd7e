"""``import minicnn`` changes nothing outside minicnn; ``minicnn.tune_process()`` changes what it says.

Each check runs in a fresh Python (with a timeout), since every setting here belongs to the
whole process. Three things are watched: the environment, glibc's malloc (does a fresh 40 MB
array get a mapping of its own, glibc's default, or come from the heap, as after
``mallopt(M_MMAP_MAX, 0)``?) and Numba's threading layer.
"""
import json
import os
import platform
import subprocess
import sys

import pytest

pytest.importorskip("numba")

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
TIMEOUT = 300  # seconds: a first run compiles the Numba kernels

# Prints, as JSON: the environment, Numba's threading-layer setting, and the bytes glibc mapped
# for a fresh 40 MB array (mallinfo2's hblkhd: 0 when it came from the heap), after `setup`.
PROBE = """
import ctypes, json, os
before = dict(os.environ)
result = None
{setup}
import numpy as np

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]

def mapped_bytes():
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    return mallinfo2().hblkhd

start = mapped_bytes()
big = np.ones(10 << 20, dtype=np.float32)
mapped = mapped_bytes() - start
del big
import numba  # after the setup, so that any change it made is seen
print(json.dumps({{
    "added": {{k: v for k, v in os.environ.items() if before.get(k) != v}},
    "removed": sorted(set(before) - set(os.environ)),
    "threading_layer": numba.config.THREADING_LAYER,
    "mapped": mapped,
    "result": result,
}}))
"""

# a small forward and backward pass through the kernels: convolution, pooling, sigmoid, linear
STEP = """
import numpy as np
import minicnn
from minicnn import nn
model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 2))
x = minicnn.Tensor(np.ones((2, 1, 8, 8), dtype=np.float32))
model(x).sum().backward()
"""


def probe(setup, env=None):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "NUMBA_THREADING_LAYER")
                   and not k.startswith("MALLOC_")}
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)],
                          env=environment, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


TORCH_FIRST = "import torch\n" if __import__("importlib").util.find_spec("torch") else ""


@glibc_only
def test_glibc_maps_a_large_array_by_default():
    # the control for the checks below: without minicnn, a 40 MB array is a mapping of its own
    assert probe("")["mapped"] >= 40 << 20


@glibc_only
def test_import_and_a_training_step_change_nothing_outside_minicnn():
    seen = probe(TORCH_FIRST + STEP)
    assert seen["added"] == {} and seen["removed"] == []
    assert seen["mapped"] >= 40 << 20  # glibc's malloc is as it was: no mallopt
    assert seen["threading_layer"] == "default"


@glibc_only
def test_tune_process_makes_its_settings_and_says_so():
    seen = probe(TORCH_FIRST + "import minicnn\nresult = minicnn.tune_process()\n" + STEP)
    assert seen["added"] == {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000"}
    assert seen["mapped"] == 0  # served from the heap: M_MMAP_MAX = 0
    expected = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000", "malloc": "keep freed memory"}
    if TORCH_FIRST:  # PyTorch loaded first: Numba's own workqueue threads
        expected["numba.config.THREADING_LAYER"] = "workqueue"
        assert seen["threading_layer"] == "workqueue"
    assert seen["result"] == expected


@glibc_only
def test_tune_process_leaves_the_users_own_settings():
    users = {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "0", "MALLOC_TRIM_THRESHOLD_": "131072"}
    seen = probe(TORCH_FIRST + "import minicnn\nresult = minicnn.tune_process()", env=users)
    assert seen["result"] == {} and seen["added"] == {}
    assert seen["mapped"] >= 40 << 20
    assert seen["threading_layer"] == "default"


@glibc_only
def test_parts_of_tune_process_can_be_skipped():
    seen = probe("import minicnn\nresult = minicnn.tune_process(threads=False)")
    assert seen["result"] == {"malloc": "keep freed memory"} and seen["added"] == {}
    seen = probe("import minicnn\nresult = minicnn.tune_process(memory=False)")
    assert "malloc" not in seen["result"] and seen["mapped"] >= 40 << 20


# Three LeNet training steps after two warm-ups (batch 256): the page faults of those three.
FAULTS_OF_THREE_STEPS = """
import resource
import numpy as np
import minicnn
from minicnn import functional as F, models, optim, training
{tune}
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


@glibc_only
def test_tuned_training_steps_reuse_their_pages():
    def page_faults(tune):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
        done = subprocess.run([sys.executable, "-c", FAULTS_OF_THREE_STEPS.format(tune=tune)], env=env,
                              capture_output=True, text=True, check=True, timeout=TIMEOUT)
        return int(done.stdout.strip())

    pages = 256 * 6 * 28 * 28 * 4 // 4096  # one activation of the first layer: 1,176 pages
    assert page_faults("") > 2 * pages  # glibc's default: fresh pages every step
    assert page_faults("minicnn.tune_process()") < pages // 10


OPENBLAS_AFTER_IMPORT = """
import os
from minicnn.kernels.numba.blas import OPENBLAS
print(OPENBLAS.scipy_openblas_get_num_threads(), os.environ.get("OPENBLAS_NUM_THREADS"))
"""


@pytest.mark.parametrize("users, expected", [({}, "1 None"), ({"OPENBLAS_NUM_THREADS": "2"}, "1 2")])
def test_minicnns_openblas_runs_one_thread_and_leaves_the_variable_alone(users, expected):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = subprocess.run([sys.executable, "-c", OPENBLAS_AFTER_IMPORT], env={**env, **users},
                          capture_output=True, text=True, check=True, timeout=TIMEOUT)
    assert done.stdout.split() == expected.split()
