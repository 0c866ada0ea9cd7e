"""One training step of each classic network: minicnn against PyTorch CPU, side by side.

Each network at the image size and batch of its CPU training recipe (``NETWORKS``), SGD, the
identical network in PyTorch (``twins.py``) with the same initial weights (copied by position)
and the same batch, the same number of threads. Each step is timed interleaved with its twin
in one process, median of several. minicnn.tune_process() runs first there: it sets
OMP_WAIT_POLICY=PASSIVE, which PyTorch then shares (imported first, PyTorch's OpenMP runtime
would serve Numba's threads too, with the spinning default). PyTorch is also timed alone in
fresh processes, with the user's settings, with PASSIVE (on a busy machine PASSIVE can make
PyTorch several times faster), with the kept memory minicnn asks glibc for and with all of
minicnn's settings (``common.ALONE``), and so is minicnn; the fresh processes take turns,
contender after contender. Two ratios are printed: in one process, and alone against the
fastest PyTorch.
Usage: python benchmarks/bench_networks.py [--repeats 5] [--threads 2] [--blas-threads 1]
                                           [--networks alexnet nin ...] [--size S] [--batch-size B]
                                           [--memory]
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import (TORCH_ALONE, alone_runs, blas_threads_from_args,  # noqa: E402
                    clean_subprocess, copy_weights_to_torch, interleaved_medians,
                    machine, peak_rss_mib, set_threads, try_import_torch)
from twins import TWINS, minicnn_network  # noqa: E402

NETWORKS = {  # row: (network, image side, batch): the sizes the CPU training recipes use
    "alexnet": ("alexnet", 65, 128),
    "vgg11": ("vgg11", 32, 128),  # VGG-11 with d2l's ratio 4 (a quarter of the channels)
    "nin": ("nin", 67, 128),
    "googlenet": ("googlenet", 28, 128),
    "densenet": ("densenet", 32, 128),
    "se_resnet18": ("se_resnet18", 28, 128),
    "resnet18": ("resnet18", 96, 32),  # d2l's size for ResNet and DenseNet, batch 32 as measured before
    "densenet_96": ("densenet", 96, 32),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="OpenBLAS threads for NumPy (set before NumPy loads; default 1)")
    parser.add_argument("--networks", nargs="+", choices=NETWORKS, default=list(NETWORKS), metavar="ROW",
                        help=f"rows to time (default all: {', '.join(NETWORKS)})")
    parser.add_argument("--size", type=int, help="image side for every row (default: each row's)")
    parser.add_argument("--batch-size", type=int, help="batch size for every row (default: each row's)")
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS in fresh processes")
    parser.add_argument("--worker", choices=("minicnn-time", "torch-time", "minicnn-memory", "torch-memory"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def sizes(row, args):
    """(network, image side, batch size) of ``row``, with ``--size`` and ``--batch-size`` applied."""
    name, side, batch_size = NETWORKS[row]
    return name, args.size or side, args.batch_size or batch_size


def batch(side, batch_size):
    """The one batch every step of a row trains on: random images in [0, 1) and random labels, seeded."""
    import numpy as np
    rng = np.random.default_rng(0)
    images = rng.random((batch_size, 1, side, side), dtype=np.float32)
    return images, rng.integers(0, 10, size=batch_size)


def minicnn_step_fn(row, args):
    """(model, one training step of minicnn's network of ``row`` on the fixed batch)."""
    import minicnn
    from minicnn import models, optim, training
    name, side, batch_size = sizes(row, args)
    minicnn.random.manual_seed(0)
    model = models.init_xavier_(minicnn_network(name, side))
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    images, labels = batch(side, batch_size)
    return model, lambda: training._train_step(model, images, labels, optimizer,
                                               minicnn.functional.cross_entropy)


def torch_step_fn(torch, row, args, model=None):
    """One training step of the PyTorch twin (weights copied from ``model`` when given)."""
    name, side, batch_size = sizes(row, args)
    twin = TWINS[name](torch, side)
    if model is not None:
        copy_weights_to_torch(model, twin, torch)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, labels = (torch.from_numpy(a) for a in batch(side, batch_size))
    twin.train()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(twin(images), labels)
        loss.backward()
        optimizer.step()
    return step


def worker(args):
    """The subprocess side: one framework alone (PyTorch imported first), timed or measured."""
    if args.worker.startswith("torch"):
        torch = try_import_torch(args.threads)
        before = peak_rss_mib()  # after the import: count the network's memory, not the library's
        steps = {row: torch_step_fn(torch, row, args) for row in args.networks}
    else:
        set_threads(args.threads)
        before = peak_rss_mib()
        steps = {row: minicnn_step_fn(row, args)[1] for row in args.networks}
    if args.worker.endswith("time"):
        return print(json.dumps(interleaved_medians(steps, 1)))
    for _ in range(2):
        steps[args.networks[0]]()
    print(json.dumps({"peak": peak_rss_mib(), "growth": peak_rss_mib() - before}))


def worker_argv(args, networks):
    """The command line a fresh process needs to build the same ``networks`` as this one."""
    argv = ["--threads", str(args.threads), "--blas-threads", str(args.blas_threads), "--networks", *networks]
    for flag, value in (("--size", args.size), ("--batch-size", args.batch_size)):
        if value:
            argv += [flag, str(value)]
    return argv


def alone(args):
    """{column: {row: seconds}}: each contender in a fresh process, taking turns; medians."""
    runs = alone_runs(__file__, worker_argv(args, args.networks), args.repeats)
    return {column: {row: statistics.median(r[row] for r in results) for row in args.networks}
            for column, results in runs.items()}


def main():
    args = parse_args()
    blas_threads_from_args(args)
    if args.worker:
        return worker(args)
    set_threads(args.threads)  # minicnn's tune_process() first: see the module docstring
    torch = try_import_torch(args.threads)
    print(f"machine: {machine()}; threads {args.threads} (OpenBLAS {args.blas_threads}); "
          f"median of {args.repeats}; load average {os.getloadavg()[0]:.1f}")
    steps = {}
    for row in args.networks:
        model, steps[f"minicnn {row}"] = minicnn_step_fn(row, args)
        if torch is not None:
            steps[f"pytorch {row}"] = torch_step_fn(torch, row, args, model)
    together = interleaved_medians(steps, args.repeats)
    columns = {"minicnn": {row: together[f"minicnn {row}"] for row in args.networks}}
    if torch is not None:
        columns["PyTorch"] = {row: together[f"pytorch {row}"] for row in args.networks}
        columns.update(alone(args))
    print_table(args, columns, torch is not None)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.memory:
        print_memory(args)


def print_table(args, columns, with_torch):
    """The markdown table: one row per network, its size, each column's seconds and the two ratios."""
    print("| network | image, batch | " + " | ".join(f"{c} (s)" for c in columns)
          + (" | ratio, one process | ratio alone, vs fastest PyTorch |" if with_torch else " |"))
    print("|---|---:|" + "---:|" * (len(columns) + (2 if with_torch else 0)))
    for row in args.networks:
        _, side, batch_size = sizes(row, args)
        cells = [f"{side}×{side}, {batch_size}"] + [f"{columns[c][row]:.3f}" for c in columns]
        if with_torch:
            fastest = min(columns[column][row] for column in TORCH_ALONE)
            cells += [f"{columns['minicnn'][row] / columns['PyTorch'][row]:.2f}",
                      f"{columns['minicnn alone'][row] / fastest:.2f}"]
        print(f"| {row} | " + " | ".join(cells) + " |")


def print_memory(args):
    """Peak RSS of a fresh process running two steps, for each framework and network."""
    print("| network | minicnn peak RSS (MiB) | PyTorch peak RSS (MiB) |")
    print("|---|---:|---:|")
    for row in args.networks:
        cells = []
        for side in ("minicnn-memory", "torch-memory"):
            result = clean_subprocess(__file__, ["--worker", side, *worker_argv(args, [row])])
            cells.append(f"{result['peak']:.0f} (+{result['growth']:.0f} in the steps)")
        print(f"| {row} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
