"""The first LeNet training step on a fresh install (Numba compiles) and on the next run (cached).

Each run is a fresh process with the same empty ``NUMBA_CACHE_DIR``: the first compiles every
kernel LeNet's step needs and caches it, the next loads them. Printed per run: the first
step's wall and CPU time (compilation is single-threaded, so CPU time is what an idle
machine's wall time would be) and one later step for scale.
Usage: python benchmarks/bench_first_step.py [--runs 2]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import machine  # noqa: E402


def worker():
    """One process: import, tune, one LeNet step (timed), one more step (timed); JSON out."""
    wall, cpu = time.perf_counter(), time.process_time()
    import numpy as np
    import minicnn
    from minicnn import functional as F, models, optim, training
    minicnn.tune_process()
    imported = time.perf_counter() - wall
    model = models.lenet()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    rng = np.random.default_rng(0)
    images, labels = rng.random((256, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, 256)
    times = []
    for _ in range(2):
        wall, cpu = time.perf_counter(), time.process_time()
        training._train_step(model, images, labels, optimizer, F.cross_entropy)
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    print(json.dumps({"import": imported, "first": times[0], "next": times[1][0]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="processes sharing one fresh cache")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for run in range(args.runs):
            done = subprocess.run([sys.executable, __file__, "--worker"], env=env, capture_output=True,
                                  text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            (wall, cpu), label = result["first"], "cold (compiles)" if run == 0 else "warm (cached)"
            print(f"{label}: import {result['import']:.2f} s, first step {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU; next step {result['next'] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
