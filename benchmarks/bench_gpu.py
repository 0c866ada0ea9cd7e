"""GPU timings: minicnn on CuPy against PyTorch CUDA, synchronised so the numbers are real.

Kernel launches are asynchronous: a timer read right after a launch measures only the
launch. Every timed region here ends with a device synchronisation (CuPy's
``Device().synchronize()``, ``torch.cuda.synchronize()``), and the median of several runs
is reported. Three rows: one LeNet epoch on Fashion-MNIST (batch 256), a ResNet-18 training
step (batch 32, 1×96×96), and the op shapes of issue 3 (forward + backward).
Usage (on a CUDA machine): python benchmarks/bench_gpu.py [--repeats 5]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from common import median_time  # noqa: E402

import minicnn  # noqa: E402
from minicnn import Tensor, backend, data, models, optim, training  # noqa: E402
import minicnn.functional as F  # noqa: E402


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


def main():
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--repeats", type=int, default=5)
    args = cli.parse_args()
    backend.use("cupy")  # raises the clear BackendError where there is no GPU
    import cupy
    sync = cupy.cuda.Device().synchronize
    name = cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()
    print(f"device: {name}")

    minicnn.random.manual_seed(0)
    lenet = models.init_xavier_(models.lenet()).to("cupy")
    loader = data.DataLoader(data.FashionMNIST(train=True), batch_size=256, shuffle=True, seed=0)
    opt = optim.SGD(lenet.parameters(), lr=0.9)
    seconds = median_time(synchronised(lambda: lenet_epoch(loader, lenet, opt), sync), args.repeats)
    print(f"LeNet epoch (60,000 images, batch 256): {seconds:.2f} s")

    resnet = models.init_xavier_(models.resnet18()).to("cupy")
    opt = optim.SGD(resnet.parameters(), lr=0.05)
    images = cupy.random.random((32, 1, 96, 96), dtype=cupy.float32)
    labels = cupy.random.randint(0, 10, 32)
    seconds = median_time(synchronised(lambda: resnet_step(resnet, opt, images, labels), sync),
                          args.repeats * 4)
    print(f"ResNet-18 step (batch 32, 1x96x96): {seconds * 1e3:.1f} ms")

    for label, (x_shape, w_shape, settings) in OPS.items():
        x = Tensor(cupy.random.random(x_shape, dtype=cupy.float32), requires_grad=True)
        w = Tensor(cupy.random.random(w_shape, dtype=cupy.float32), requires_grad=True)
        step = op_step(x, w)
        seconds = median_time(synchronised(lambda: step(settings), sync), args.repeats * 4)
        print(f"{label}: {seconds * 1e3:.2f} ms")
    torch_rows(args, sync)


def torch_rows(args, sync):
    """The same ResNet-18 step in PyTorch CUDA (cuDNN as it comes), when PyTorch is installed."""
    try:
        import torch
    except ImportError:
        return print("PyTorch not installed: no CUDA comparison")
    sys.path.insert(0, os.path.dirname(__file__))
    from bench_resnet import torch_resnet18  # the twin network used by the CPU benchmark
    net = torch_resnet18(torch).cuda()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    x = torch.rand(32, 1, 96, 96, device="cuda")
    y = torch.randint(0, 10, (32,), device="cuda")

    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    seconds = median_time(synchronised(step, torch.cuda.synchronize), args.repeats * 4)
    print(f"PyTorch CUDA ResNet-18 step: {seconds * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
