"""One epoch of d2l's LeNet on real Fashion-MNIST: minicnn against PyTorch CPU, side by side.

Same network, same initial weights, same batches in the same order, the same number of
threads; the two epochs are interleaved and the median of several runs is reported.
minicnn.tune_process() runs first: it sets OMP_WAIT_POLICY=PASSIVE, and PyTorch, imported
after it, shares that setting (imported first, PyTorch's OpenMP runtime would also serve
Numba's threads with the spinning default, and on a busy machine minicnn's step took 4×
the CPU time). PyTorch is then timed four times more, alone in fresh processes: with the
user's settings, with OMP_WAIT_POLICY=PASSIVE (on a busy machine PASSIVE made PyTorch 12×
faster), with the kept memory minicnn asks glibc for, and with all of minicnn's settings
(``common.ALONE``). minicnn, too, is timed alone; the fresh processes take turns, contender after
contender, so that a neighbour's load reaches all of them. Two ratios are printed: in one
process, and alone against the fastest PyTorch.
Usage: python benchmarks/bench_lenet.py [--repeats 3] [--threads 2] [--blas-threads 1] [--memory]
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

EXAMPLES = 60000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="OpenBLAS threads for NumPy (set before NumPy loads; default 1)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS in fresh processes")
    parser.add_argument("--worker", choices=("minicnn-time", "torch-time", "minicnn-memory", "torch-memory"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def loader(args):
    """Fashion-MNIST's training set in minicnn's DataLoader: the batches both frameworks train on."""
    from minicnn import data
    return data.DataLoader(data.FashionMNIST(train=True), batch_size=args.batch_size, shuffle=True, seed=0)


def minicnn_epoch_fn(args):
    """(model, one epoch of minicnn's LeNet: d2l's SGD with lr 0.9)."""
    import minicnn
    from minicnn import models, optim, training
    minicnn.random.manual_seed(0)
    model = models.init_xavier_(models.lenet())
    optimizer = optim.SGD(model.parameters(), lr=0.9)
    batches = loader(args)

    def epoch():
        model.train()
        for images, labels in batches:
            training._train_step(model, images, labels, optimizer, minicnn.functional.cross_entropy)
    return model, epoch


def torch_lenet(torch):
    """d2l's LeNet (d2l §7.6) in PyTorch."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def torch_epoch_fn(torch, args, model=None):
    """The same epoch in PyTorch, fed the very same batches (minicnn's loader, same seed)."""
    twin = torch_lenet(torch)
    if model is not None:
        copy_weights_to_torch(model, twin, torch)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = loader(args)

    def epoch():
        twin.train()
        for images, labels in batches:
            x, y = torch.from_numpy(images), torch.from_numpy(labels)
            optimizer.zero_grad()
            loss = loss_fn(twin(x), y)
            loss.backward()
            optimizer.step()
    return epoch


def worker(args):
    """The subprocess side: one framework alone (PyTorch imported first), timed or measured."""
    if args.worker.startswith("torch"):
        torch = try_import_torch(args.threads)
        before = peak_rss_mib()  # after the import: count the training's memory, not the library's
        epoch = torch_epoch_fn(torch, args)
    else:
        set_threads(args.threads)
        before = peak_rss_mib()
        epoch = minicnn_epoch_fn(args)[1]
    if args.worker.endswith("time"):
        return print(json.dumps(interleaved_medians({"seconds": epoch}, 1)))
    epoch()
    print(json.dumps({"peak": peak_rss_mib(), "growth": peak_rss_mib() - before}))


def alone(args):
    """Each contender in a fresh process (one warm-up epoch, one timed), taking turns; medians."""
    argv = ["--threads", str(args.threads), "--batch-size", str(args.batch_size),
            "--blas-threads", str(args.blas_threads)]
    runs = alone_runs(__file__, argv, args.repeats)
    return {column: statistics.median(r["seconds"] for r in results) for column, results in runs.items()}


def main():
    args = parse_args()
    blas_threads_from_args(args)
    if args.worker:
        return worker(args)
    set_threads(args.threads)  # minicnn's tune_process() first: see the module docstring
    torch = try_import_torch(args.threads)
    model, ours = minicnn_epoch_fn(args)
    runs = {"minicnn": ours}
    if torch is not None:
        runs["pytorch"] = torch_epoch_fn(torch, args, model)
    print(f"LeNet epoch, Fashion-MNIST {EXAMPLES:,} images, batch {args.batch_size}, "
          f"{args.threads} threads (OpenBLAS {args.blas_threads}), median of {args.repeats}")
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    times = interleaved_medians(runs, args.repeats)
    if torch is not None:
        times.update(alone(args))
    for name, seconds in times.items():
        print(f"  {name:42s} {seconds:7.2f} s  ({EXAMPLES / seconds:,.0f} examples/s)")
    if torch is not None:
        print(f"  ratio in one process: {times['minicnn'] / times['pytorch']:.2f}x; alone, against "
              f"the faster PyTorch: {times['minicnn alone'] / min(times[k] for k in TORCH_ALONE):.2f}x")
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    if args.memory:
        for side in ("minicnn-memory", "torch-memory"):
            result = clean_subprocess(__file__, ["--worker", side, "--threads", str(args.threads),
                                                 "--batch-size", str(args.batch_size)])
            print(f"  peak RSS of one epoch, {side.split('-')[0]}: {result['peak']:.0f} MiB "
                  f"(+{result['growth']:.0f} MiB during the epoch)")


if __name__ == "__main__":
    main()
