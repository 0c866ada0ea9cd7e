"""The headline command on the cupy backend ends where the numpy backend does.

``python examples/train_lenet.py --backend cupy --epochs 1 --train-subset 2048 --test-subset 512``
runs end to end (data loading, training, evaluation, checkpoint, history) on a CUDA device,
or on the CuPy stand-in where there is none, and its loss and accuracies equal the numpy
backend's to float32 tolerance: the same seed gives the same weights and the same batches.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cupy_standin
from conftest import AVAILABLE_BACKENDS, STANDIN
from test_datasets import REAL_FASHION_MNIST, tiny_split, write_split

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
COMMAND = ["train_lenet.py", "--epochs", "1", "--train-subset", "2048", "--test-subset", "512"]


def _data_environment(tmp_path):
    """The real Fashion-MNIST where installed, else random images in its file format."""
    env = cupy_standin.environment() if STANDIN else dict(os.environ)
    if not (REAL_FASHION_MNIST / "train-labels-idx1-ubyte.gz").exists():
        folder = tmp_path / "fashion-mnist"
        write_split(folder, "train", *tiny_split(2048, seed=1))
        write_split(folder, "t10k", *tiny_split(512, seed=2))
        env["MINICNN_DATA"] = str(folder)
    env.pop("MINICNN_BACKEND", None)
    return env


def _history(backend_name, tmp_path, env):
    out = tmp_path / backend_name
    done = subprocess.run([sys.executable, *COMMAND, "--backend", backend_name, "--out", str(out),
                           "--no-progress"], cwd=EXAMPLES, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"{backend_name} run failed:\n{done.stdout}\n{done.stderr}"
    assert f"on {backend_name}" in done.stdout
    return json.loads((out / "result.json").read_text())["history"]


@pytest.mark.skipif("cupy" not in AVAILABLE_BACKENDS, reason="no CuPy, and g++ for its stand-in is missing")
def test_lenet_example_on_cupy_ends_with_the_numpy_loss(tmp_path):
    env = _data_environment(tmp_path)
    on_gpu, on_cpu = _history("cupy", tmp_path, env), _history("numpy", tmp_path, env)
    np.testing.assert_allclose(on_gpu["loss"], on_cpu["loss"], rtol=1e-4)
    np.testing.assert_allclose(on_gpu["train_acc"], on_cpu["train_acc"], atol=2 / 2048)
    np.testing.assert_allclose(on_gpu["test_acc"], on_cpu["test_acc"], atol=2 / 512)
