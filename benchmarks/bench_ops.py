"""Op-level timings: forward + backward of convolution and pooling, minicnn against PyTorch CPU.

For each shape of ``CASES`` it times ``y = op(x, ...); y.backward(ones)`` (autograd included)
three ways in one process: minicnn's Numba face, minicnn's readable reference face
(``MINICNN_NUMBA=0``) and PyTorch, all with the same number of threads. Each contender runs
its repeats back to back after a warm-up and the median is reported, so one library's idle
threads never spin on the other's time. Prints a Markdown table for docs/performance.md.
Usage: python benchmarks/bench_ops.py [--repeats 7] [--threads 2] [--blas-threads 1]
                                     [--skip-reference]
"""
import argparse
import contextlib
import os
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per op (median)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for everyone")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="threads for NumPy's BLAS, which the reference face uses (default 1: "
                             "more leave threads spinning on the next contender's time)")
    parser.add_argument("--skip-reference", action="store_true", help="skip the slow reference face")
    return parser.parse_args()


ARGS = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.blas_threads)  # read when NumPy loads its BLAS

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, median_time, try_import_torch  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

import minicnn  # noqa: E402
import minicnn.functional.conv as conv  # noqa: E402
import minicnn.functional.pooling as pooling  # noqa: E402
from minicnn import Tensor  # noqa: E402

# (label, op, input shape, weight shape or None, settings, input needs grad, target ratio)
CASES = [
    ("conv3x3 pad1 →64", "conv2d", (64, 64, 24, 24), (64, 64, 3, 3), dict(padding=1), True, 1.3),
    ("conv3x3 pad1 →128", "conv2d", (32, 128, 12, 12), (128, 128, 3, 3), dict(padding=1), True, 1.3),
    ("LeNet conv1 5x5 pad2 →6, no input grad", "conv2d", (256, 1, 28, 28), (6, 1, 5, 5),
     dict(padding=2), False, 1.5),
    ("LeNet conv2 5x5 →16", "conv2d", (256, 6, 14, 14), (16, 6, 5, 5), {}, True, 1.5),
    ("maxpool 3x3 s2 pad1", "max_pool2d", (64, 64, 48, 48), None,
     dict(kernel_size=3, stride=2, padding=1), True, 1.0),
    ("LeNet avgpool 2x2 s2", "avg_pool2d", (256, 6, 28, 28), None, dict(kernel_size=2), True, 1.0),
    ("conv_transpose2d k4 s2 pad1 →21", "conv_transpose2d", (8, 21, 10, 10), (21, 21, 4, 4),
     dict(stride=2, padding=1), True, 1.5),
]
OPS = {"conv2d": conv.conv2d, "conv_transpose2d": conv.conv_transpose2d,
       "max_pool2d": pooling.max_pool2d, "avg_pool2d": pooling.avg_pool2d}


@contextlib.contextmanager
def reference_face():
    """Route minicnn's kernels to the readable reference face for the duration of the block."""
    previous = os.environ.get("MINICNN_NUMBA")
    os.environ["MINICNN_NUMBA"] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["MINICNN_NUMBA"]
        else:
            os.environ["MINICNN_NUMBA"] = previous


def minicnn_step(op, x, weight, settings, input_grad):
    """One forward + backward of a minicnn op; returns a function of no arguments."""
    x = Tensor(x, requires_grad=input_grad)
    params = [] if weight is None else [Tensor(weight, requires_grad=True),
                                        Tensor(np.zeros(weight.shape[0 if op == "conv2d" else 1],
                                                        np.float32), requires_grad=True)]
    ones = None

    def step():
        nonlocal ones
        for t in [x] + params:
            t.grad = None
        y = OPS[op](x, *params, **settings)
        ones = np.ones(y.shape, np.float32) if ones is None else ones
        y.backward(ones)
    return step


def torch_step(torch, op, x, weight, settings, input_grad):
    """The same forward + backward in PyTorch."""
    x = torch.tensor(x, requires_grad=input_grad)
    params = [] if weight is None else [
        torch.tensor(weight, requires_grad=True),
        torch.zeros(weight.shape[0 if op == "conv2d" else 1], requires_grad=True)]
    fn = getattr(torch.nn.functional, op)

    def step():
        for t in [x] + params:
            t.grad = None
        y = fn(x, *params, **settings)
        y.backward(torch.ones_like(y))
    return step


def main():
    minicnn.tune_process()  # before Numba's threads start and before PyTorch loads
    numba.set_num_threads(ARGS.threads)
    # PyTorch then shares tune_process's OMP_WAIT_POLICY=PASSIVE (imported first, PyTorch's
    # OpenMP runtime would also serve Numba's threads, spinning; see bench_lenet.py)
    torch = try_import_torch(ARGS.threads)
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}; threads: {ARGS.threads} (NumPy's BLAS {ARGS.blas_threads}); "
          f"median of {ARGS.repeats} runs; load average {os.getloadavg()[0]:.1f}; "
          f"numba {numba.__version__}, numpy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else ", torch not installed"))
    print()
    print("| op | input | minicnn Numba (ms) | minicnn reference (ms) | PyTorch (ms) "
          "| Numba / PyTorch | target |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, op, shape, weight_shape, settings, input_grad, target in CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        weight = None if weight_shape is None else (
            rng.standard_normal(weight_shape).astype(np.float32) * 0.1)
        fast = median_time(minicnn_step(op, x, weight, settings, input_grad), ARGS.repeats, 2)
        slow = None
        if not ARGS.skip_reference:
            with reference_face():
                slow = median_time(minicnn_step(op, x, weight, settings, input_grad),
                                   ARGS.repeats, 1)
        theirs = None
        if torch is not None:
            theirs = median_time(torch_step(torch, op, x, weight, settings, input_grad),
                                 ARGS.repeats, 2)
        cells = [f"{1e3 * fast:.1f}", "—" if slow is None else f"{1e3 * slow:.1f}",
                 "—" if theirs is None else f"{1e3 * theirs:.1f}",
                 "—" if theirs is None else f"{fast / theirs:.2f}", f"≤ {target}"]
        print(f"| {label} | {shape} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
