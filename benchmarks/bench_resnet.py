"""One training step of d2l's ResNet-18 and DenseNet: minicnn against PyTorch CPU, side by side.

Batch 32 of 1×96×96 images (d2l resizes Fashion-MNIST to 96 for these networks), SGD, the
identical network in PyTorch with the same initial weights (copied by position) and the
same batch, the same number of threads. Each step is timed interleaved with its twin in one
process, median of several. minicnn.tune_process() runs first there: it sets
OMP_WAIT_POLICY=PASSIVE, which PyTorch then shares (imported first, PyTorch's OpenMP runtime
would serve Numba's threads too, with the spinning default). PyTorch is also timed alone in
fresh processes, with the user's settings, with PASSIVE (on a busy machine PASSIVE can make
PyTorch several times faster), with the kept memory minicnn asks glibc for and with all of
minicnn's settings (``common.ALONE``), and so is minicnn; the fresh processes take turns,
contender after contender. Two ratios are printed: in one process, and alone against the
fastest PyTorch.
Usage: python benchmarks/bench_resnet.py [--repeats 5] [--threads 2] [--blas-threads 1]
                                         [--models resnet18 densenet] [--memory]
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

MODELS = ("resnet18", "densenet")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="OpenBLAS threads for NumPy (set before NumPy loads; default 1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS in fresh processes")
    parser.add_argument("--worker", choices=("minicnn-time", "torch-time", "minicnn-memory", "torch-memory"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def torch_resnet18(torch):
    """d2l's ResNet-18 (d2l §8.6) in PyTorch: Residual blocks with biased convs and a 1×1 shortcut."""
    nn = torch.nn

    class Residual(nn.Module):
        def __init__(self, in_channels, channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
            self.conv3 = nn.Conv2d(in_channels, channels, 1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)

        def forward(self, x):
            y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
            return torch.relu(y + (x if self.conv3 is None else self.conv3(x)))

    def stage(in_channels, channels, first):
        return nn.Sequential(Residual(in_channels, channels, not first, 1 if first else 2),
                             Residual(channels, channels))

    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                      nn.MaxPool2d(3, stride=2, padding=1)),
        stage(64, 64, True), stage(64, 128, False), stage(128, 256, False), stage(256, 512, False),
        nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10)))


def torch_densenet(torch, growth_rate=32, arch=(4, 4, 4, 4)):
    """d2l's DenseNet (d2l §8.7) in PyTorch: BN-ReLU-Conv3×3 layers, concatenated; halving transitions."""
    nn = torch.nn

    def conv_block(in_channels, channels):
        return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                             nn.Conv2d(in_channels, channels, 3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, in_channels, channels):
            super().__init__()
            self.net = nn.Sequential(*[conv_block(in_channels + i * channels, channels)
                                       for i in range(num_convs)])

        def forward(self, x):
            for layer in self.net:
                x = torch.cat((x, layer(x)), dim=1)
            return x

    channels = 64
    layers = [nn.Sequential(nn.Conv2d(1, 64, 7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                            nn.MaxPool2d(3, stride=2, padding=1))]
    for i, num_convs in enumerate(arch):
        layers.append(DenseBlock(num_convs, channels, growth_rate))
        channels += num_convs * growth_rate
        if i != len(arch) - 1:
            layers.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(),
                                        nn.Conv2d(channels, channels // 2, 1), nn.AvgPool2d(2, 2)))
            channels //= 2
    layers.append(nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                nn.Flatten(), nn.Linear(channels, 10)))
    return nn.Sequential(*layers)


TORCH_TWINS = {"resnet18": torch_resnet18, "densenet": torch_densenet}


def batch(args):
    """The one batch every step trains on: random images in [0, 1) and random labels, seeded."""
    import numpy as np
    rng = np.random.default_rng(0)
    images = rng.random((args.batch_size, 1, args.size, args.size), dtype=np.float32)
    return images, rng.integers(0, 10, size=args.batch_size)


def minicnn_step_fn(name, args):
    """(model, one training step of minicnn's ``name`` on the fixed batch)."""
    import minicnn
    from minicnn import models, optim, training
    minicnn.random.manual_seed(0)
    model = models.init_xavier_(getattr(models, name)())
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    images, labels = batch(args)
    return model, lambda: training._train_step(model, images, labels, optimizer,
                                               minicnn.functional.cross_entropy)


def torch_step_fn(torch, name, args, model=None):
    """One training step of the PyTorch twin (weights copied from ``model`` when given)."""
    twin = TORCH_TWINS[name](torch)
    if model is not None:
        copy_weights_to_torch(model, twin, torch)
    optimizer = torch.optim.SGD(twin.parameters(), lr=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, labels = (torch.from_numpy(a) for a in batch(args))
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
        steps = {name: torch_step_fn(torch, name, args) for name in args.models}
    else:
        set_threads(args.threads)
        before = peak_rss_mib()
        steps = {name: minicnn_step_fn(name, args)[1] for name in args.models}
    if args.worker.endswith("time"):
        return print(json.dumps(interleaved_medians(steps, 1)))
    for _ in range(2):
        steps[args.models[0]]()
    print(json.dumps({"peak": peak_rss_mib(), "growth": peak_rss_mib() - before}))


def alone(args):
    """{column: {network: seconds}}: each contender in a fresh process, taking turns; medians."""
    argv = ["--threads", str(args.threads), "--batch-size", str(args.batch_size), "--size",
            str(args.size), "--blas-threads", str(args.blas_threads), "--models", *args.models]
    runs = alone_runs(__file__, argv, args.repeats)
    return {column: {name: statistics.median(r[name] for r in results) for name in args.models}
            for column, results in runs.items()}


def main():
    args = parse_args()
    blas_threads_from_args(args)
    if args.worker:
        return worker(args)
    set_threads(args.threads)  # minicnn's tune_process() first: see the module docstring
    torch = try_import_torch(args.threads)
    print(f"machine: {machine()}; threads {args.threads} (OpenBLAS {args.blas_threads}); "
          f"batch {args.batch_size} of 1x{args.size}x{args.size}; median of {args.repeats}; "
          f"load average {os.getloadavg()[0]:.1f}")
    steps = {}
    for name in args.models:
        model, steps[f"minicnn {name}"] = minicnn_step_fn(name, args)
        if torch is not None:
            steps[f"pytorch {name}"] = torch_step_fn(torch, name, args, model)
    together = interleaved_medians(steps, args.repeats)
    columns = {"minicnn": {n: together[f"minicnn {n}"] for n in args.models}}
    if torch is not None:
        columns["PyTorch"] = {n: together[f"pytorch {n}"] for n in args.models}
        columns.update(alone(args))
    print("| network | " + " | ".join(f"{c} (s)" for c in columns)
          + (" | ratio, one process | ratio alone, vs fastest PyTorch |" if torch else " |"))
    print("|---|" + "---:|" * (len(columns) + (2 if torch else 0)))
    for name in args.models:
        cells = [f"{columns[c][name]:.3f}" for c in columns]
        if torch is not None:
            fastest = min(columns[column][name] for column in TORCH_ALONE)
            cells += [f"{columns['minicnn'][name] / columns['PyTorch'][name]:.2f}",
                      f"{columns['minicnn alone'][name] / fastest:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.memory:
        print_memory(args)


def print_memory(args):
    """Peak RSS of a fresh process running two steps, for each framework and network."""
    print("| network | minicnn peak RSS (MiB) | PyTorch peak RSS (MiB) |")
    print("|---|---:|---:|")
    for name in args.models:
        cells = []
        for side in ("minicnn-memory", "torch-memory"):
            result = clean_subprocess(__file__, ["--worker", side, "--threads", str(args.threads),
                                                 "--batch-size", str(args.batch_size), "--size",
                                                 str(args.size), "--models", name])
            cells.append(f"{result['peak']:.0f} (+{result['growth']:.0f} in the steps)")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
