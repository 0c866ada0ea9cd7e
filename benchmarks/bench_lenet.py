"""One epoch of d2l's LeNet on real Fashion-MNIST: minicnn against PyTorch CPU, side by side.

Same network, same initial weights, same batches in the same order, the same number of
threads; the two epochs are interleaved and the median of several runs is reported.
Usage: python benchmarks/bench_lenet.py [--repeats 3] [--threads 2] [--memory]
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import copy_weights_to_torch, interleaved_medians, machine, peak_rss_mib, try_import_torch  # noqa: E402

import minicnn  # noqa: E402
from minicnn import data, models, optim, training  # noqa: E402


def minicnn_epoch(model, loader, lr):
    optimizer = optim.SGD(model.parameters(), lr=lr)
    model.train()
    for images, labels in loader:
        training._train_step(model, images, labels, optimizer, minicnn.functional.cross_entropy)


def torch_lenet(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def torch_epoch(torch, model, loader, lr):
    """The same epoch in PyTorch, fed the very same batches (minicnn's loader, same seed)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for images, labels in loader:
        x, y = torch.from_numpy(images), torch.from_numpy(labels)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--memory", choices=("minicnn", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory:
        return print(measure_memory(args))

    minicnn.random.manual_seed(0)
    dataset = data.FashionMNIST(train=True)
    loader = data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, seed=0)
    model = models.init_xavier_(models.lenet())
    runs = {"minicnn": lambda: minicnn_epoch(model, loader, 0.9)}
    torch = try_import_torch(args.threads)
    if torch is not None:
        twin = torch_lenet(torch)
        copy_weights_to_torch(model, twin, torch)
        twin_loader = data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, seed=0)
        runs["pytorch"] = lambda: torch_epoch(torch, twin, twin_loader, 0.9)
    times = interleaved_medians(runs, args.repeats)
    print(f"LeNet epoch, Fashion-MNIST 60,000 images, batch {args.batch_size}, {args.threads} threads")
    print(f"machine: {machine()}")
    for name, seconds in times.items():
        print(f"  {name:8s} {seconds:7.2f} s  ({60000 / seconds:,.0f} examples/s)")
    if "pytorch" in times:
        print(f"  ratio minicnn / pytorch: {times['minicnn'] / times['pytorch']:.2f}x")
        for name in ("minicnn", "torch"):
            peak = subprocess.run([sys.executable, __file__, "--memory", name, "--threads", str(args.threads)],
                                  capture_output=True, text=True, check=True).stdout.strip()
            print(f"  peak RSS of one epoch, {name}: {peak}")


def measure_memory(args):
    """Peak RSS (MiB) of a fresh process that trains one epoch with one framework, minus its start."""
    dataset = data.FashionMNIST(train=True)
    loader = data.DataLoader(dataset, batch_size=args.batch_size, seed=0)
    if args.memory == "minicnn":
        model = models.init_xavier_(models.lenet())
        before = peak_rss_mib()
        minicnn_epoch(model, loader, 0.9)
    else:
        torch = try_import_torch(args.threads)
        model = torch_lenet(torch)
        before = peak_rss_mib()
        torch_epoch(torch, model, loader, 0.9)
    return f"{peak_rss_mib():.0f} MiB (+{peak_rss_mib() - before:.0f} MiB during the epoch)"


if __name__ == "__main__":
    main()
