"""GPU timings: minicnn on CuPy against PyTorch CUDA, synchronised so the numbers are real.

Kernel launches are asynchronous: a timer read right after a launch measures only the
launch. Every timed region here ends with a device synchronisation (CuPy's
``Device().synchronize()``, ``torch.cuda.synchronize()``), and the median of several runs
is reported. Rows: one LeNet epoch on Fashion-MNIST (batch 256); a ResNet-18 training step
(batch 32, 1×96×96), also as host time alone (the Python side of a step, which hides the GPU's
work when it is longer); the op shapes of issue 3 (forward + backward); PyTorch CUDA's
ResNet-18 step; last, a cProfile of a few ResNet-18 steps' host time. ``--dry-run`` runs
small sizes, for the CuPy stand-in on a CPU (the numbers then mean nothing; the stand-in's
kernel-launch count per ResNet-18 step is printed instead).
Usage (on a CUDA machine): python benchmarks/bench_gpu.py [--repeats 5] [--json rows.json]
"""
import argparse
import cProfile
import json
import os
import pstats
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time  # noqa: E402

import minicnn  # noqa: E402
from minicnn import Tensor, backend, data, models, optim, training  # noqa: E402
import minicnn.functional as F  # noqa: E402

FULL = {"lenet_images": None, "resnet_batch": 32, "resnet_side": 96, "ops": True}
DRY_RUN = {"lenet_images": 512, "resnet_batch": 4, "resnet_side": 32, "ops": False}


def synchronised(fn, sync):
    def timed():
        fn()
        sync()
    return timed


def lenet_epoch(loader, model, optimizer):
    model.train()
    for images, labels in loader:
        training._train_step(model, images, labels, optimizer, F.cross_entropy)


def resnet_step(model, optimizer, images, labels):
    training._train_step(model, images, labels, optimizer, F.cross_entropy)


OPS = {
    "conv3x3 (64,64,24,24)->64": ((64, 64, 24, 24), (64, 64, 3, 3), dict(padding=1)),
    "conv3x3 (32,128,12,12)->128": ((32, 128, 12, 12), (128, 128, 3, 3), dict(padding=1)),
    "LeNet conv2 (256,6,14,14)->16": ((256, 6, 14, 14), (16, 6, 5, 5), {}),
}


def op_step(x, w):
    def step(settings):
        y = F.conv2d(x, w, **settings)
        y.backward(backend.xp().ones(y.shape, dtype=y.dtype))
    return step


def host_time(step, sync, steps):
    """Seconds per step spent in Python before the GPU is waited for (launches queue up)."""
    sync()
    tic = time.perf_counter()
    for _ in range(steps):
        step()
    host = time.perf_counter() - tic
    sync()
    return host / steps


FORMATS = {"s": ".2f", "ms": ".1f", "launches": "d"}


def report(rows, key, label, value, unit):
    rows[key] = value
    print(f"{label}: {value:{FORMATS[unit]}} {unit}")


def lenet_row(rows, sizes, repeats, sync):
    minicnn.random.manual_seed(0)
    lenet = models.init_xavier_(models.lenet()).to("cupy")
    dataset = data.FashionMNIST(train=True)
    if sizes["lenet_images"]:
        images, labels = dataset.arrays()
        dataset = data.ArrayDataset(images[:sizes["lenet_images"]], labels[:sizes["lenet_images"]])
    loader = data.DataLoader(dataset, batch_size=256, shuffle=True, seed=0)
    opt = optim.SGD(lenet.parameters(), lr=0.9)
    seconds = median_time(synchronised(lambda: lenet_epoch(loader, lenet, opt), sync), repeats)
    report(rows, "lenet_epoch_s", f"LeNet epoch ({len(dataset):,} images, batch 256)", seconds, "s")


def resnet_rows(rows, sizes, repeats, sync):
    import cupy
    batch, side = sizes["resnet_batch"], sizes["resnet_side"]
    resnet = models.init_xavier_(models.resnet18()).to("cupy")
    opt = optim.SGD(resnet.parameters(), lr=0.05)
    images = cupy.random.random((batch, 1, side, side), dtype=cupy.float32)
    labels = cupy.random.randint(0, 10, batch)

    def step():
        resnet_step(resnet, opt, images, labels)

    shape = f"batch {batch}, 1x{side}x{side}"
    report(rows, "resnet_step_ms", f"ResNet-18 step ({shape})",
           median_time(synchronised(step, sync), repeats * 4) * 1e3, "ms")
    report(rows, "resnet_host_ms", f"ResNet-18 step, host time alone ({shape})",
           host_time(step, sync, repeats * 4) * 1e3, "ms")
    if getattr(cupy, "STANDIN", False):  # the stand-in counts what would be kernel launches
        cupy.launches.clear()
        step()
        report(rows, "resnet_launches", "ResNet-18 step, kernel launches (stand-in count)",
               sum(cupy.launches.values()), "launches")
    return step


def host_profile(step, sync, steps):
    """Where a step's host time goes: cProfile's top functions over ``steps`` steps."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    sync()
    profiler.disable()
    print(f"host profile of {steps} ResNet-18 steps (top 15 by own time):")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)


def op_rows(rows, repeats, sync):
    import cupy
    for label, (x_shape, w_shape, settings) in OPS.items():
        x = Tensor(cupy.random.random(x_shape, dtype=cupy.float32), requires_grad=True)
        w = Tensor(cupy.random.random(w_shape, dtype=cupy.float32), requires_grad=True)
        step = op_step(x, w)
        seconds = median_time(synchronised(lambda: step(settings), sync), repeats * 4)
        report(rows, label, label, seconds * 1e3, "ms")


def torch_rows(rows, sizes, repeats):
    """The same ResNet-18 step in PyTorch CUDA (cuDNN as it comes), when PyTorch has CUDA."""
    try:
        import torch
    except ImportError:
        return print("PyTorch not installed: no CUDA comparison")
    if not torch.cuda.is_available():
        return print("PyTorch has no CUDA device here: no CUDA comparison")
    from twins import torch_resnet18  # the twin network used by the CPU benchmark
    batch, side = sizes["resnet_batch"], sizes["resnet_side"]
    net = torch_resnet18(torch).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x = torch.rand(batch, 1, side, side, device="cuda")
    y = torch.randint(0, 10, (batch,), device="cuda")

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    seconds = median_time(synchronised(step, torch.cuda.synchronize), repeats * 4)
    report(rows, "torch_resnet_step_ms", "PyTorch CUDA ResNet-18 step", seconds * 1e3, "ms")


def main():
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--repeats", type=int, default=5)
    cli.add_argument("--dry-run", action="store_true", help="small sizes (for the CuPy stand-in)")
    cli.add_argument("--json", help="also write the rows to this file")
    cli.add_argument("--profile-steps", type=int, default=10,
                     help="end with a cProfile of this many ResNet-18 steps (0: none)")
    args = cli.parse_args()
    sizes = DRY_RUN if args.dry_run else FULL
    backend.use("cupy")  # raises the clear BackendError where there is no GPU
    import cupy
    sync = cupy.cuda.Device().synchronize
    rows = {"device": cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()}
    print(f"device: {rows['device']}")
    lenet_row(rows, sizes, args.repeats, sync)
    step = resnet_rows(rows, sizes, args.repeats, sync)
    if sizes["ops"]:
        op_rows(rows, args.repeats, sync)
    torch_rows(rows, sizes, args.repeats)
    if args.profile_steps:
        host_profile(step, sync, args.profile_steps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
