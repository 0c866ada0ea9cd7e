"""The degradation problem: a deeper plain network trains worse; its residual twin does not (He et al. 2016; d2l §8.6).

He et al. (2016, §4.2, Fig. 6) train CIFAR-10 networks of 6n + 2 layers: a 3×3 convolution,
three stages of 2n 3×3 convolutions (16, 32, 64 channels; the feature map halves between
stages), global average pooling and a linear classifier, BatchNorm after every convolution.
The *plain* network stacks the convolutions; the *residual* one adds an identity shortcut
around every pair, and where a stage halves the map and doubles the channels the shortcut
subsamples by 2 and pads the new channels with zeros ("option A"), so the twins have the
same parameters, layer for layer. Their 56-layer plain net ends with a *higher training
error* than the 20-layer one: not overfitting but an optimisation difficulty. The residual
56-layer net trains better than the residual 20-layer one.

This script repeats the experiment on Fashion-MNIST at CPU size: a subset of the training
images, thin stages (``--width`` channels in the first) and few epochs, the same budget
for all four networks (same data order, optimiser and schedule). It prints each network's
training error per epoch (the running error over the epoch's mini-batches, as He et al.
plot it) and writes a figure of the four curves and ``result.json``.

    python examples/degradation.py                      # the run in docs/degradation.md
"""
import argparse
import json
import os
import sys
import time

import minicnn
import minicnn.functional as F
from minicnn import Tensor, backend, data, nn, optim, training


def parse_args():
    p = argparse.ArgumentParser(description="Plain vs residual networks at two depths (He et al. 2016, Fig. 6).")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=os.environ.get("MINICNN_BACKEND", "numpy"))
    p.add_argument("--depths", type=int, nargs="+", default=(20, 56), help="6n + 2 layers each (He et al.: 20 … 110)")
    p.add_argument("--width", type=int, default=8, help="channels of the first stage (He et al.: 16)")
    p.add_argument("--train-subset", type=int, default=5000, help="train on the first N training images")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1, help="SGD with momentum 0.9 and weight decay 1e-4, as He et al.")
    p.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--out", default=os.path.join("runs", "degradation"), help="folder for result.json")
    p.add_argument("--figure", help="where to save the figure (default: OUT/degradation.png)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for depth in args.depths:
        if depth < 8 or (depth - 2) % 6:
            p.error(f"--depths: {depth} is not 6n + 2 with n ≥ 1 (e.g. 20, 32, 44, 56)")
    return args


def conv_bn(in_channels, out_channels, stride=1):
    """3×3 convolution (no bias: BatchNorm follows) and BatchNorm, as every layer of He et al.'s CIFAR nets."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels))


class PairOfLayers(nn.Module):
    """Two conv-BN layers, ReLU after each; with ``shortcut`` the input is added before the second ReLU (He et al. 2016, Fig. 2)."""

    def __init__(self, in_channels, out_channels, stride, shortcut):
        super().__init__()
        self.first, self.second = conv_bn(in_channels, out_channels, stride), conv_bn(out_channels, out_channels)
        self.shortcut, self.stride, self.extra_channels = shortcut, stride, out_channels - in_channels

    def identity(self, x):
        """Option A: subsample by the stride and zero-pad the new channels; no parameters."""
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        if self.extra_channels:
            zeros = backend.get_array_module(x.data).zeros((x.shape[0], self.extra_channels) + x.shape[2:], x.dtype)
            x = F.concat([x, Tensor(zeros)], axis=1)
        return x

    def forward(self, x):
        y = self.second(F.relu(self.first(x)))
        return F.relu(y + self.identity(x) if self.shortcut else y)


def cifar_net(depth, width, residual, in_channels=1, num_classes=10):
    """He et al.'s 6n + 2-layer CIFAR network, plain or residual (§4.2), with ``width`` channels in its first stage."""
    n = (depth - 2) // 6
    layers = [conv_bn(in_channels, width), nn.ReLU()]
    channels = width
    for stage in range(3):
        out_channels = width * 2 ** stage
        for block in range(n):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(PairOfLayers(channels, out_channels, stride, residual))
            channels = out_channels
    layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(channels, num_classes)]
    model = nn.Sequential(*layers)
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")  # He et al. 2015
    return model


def train(model, loader, args):
    """SGD as He et al. (momentum 0.9, weight decay 1e-4, a constant rate as in their first 32k steps); training error per epoch."""
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    history = training.fit(model, loader, None, optimizer, args.epochs, progress=False, plot=False, log=lambda _: None)
    return [1 - accuracy for accuracy in history["train_acc"]]


def save_figure(results, path):
    """Training error per epoch: plain nets dashed, residual nets solid, deeper nets thicker (He et al. 2016, Fig. 6)."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no figure (pip install matplotlib)")
        return
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    depths = sorted({r["depth"] for r in results})
    for r in results:
        epochs = range(1, len(r["train_error"]) + 1)
        axes.plot(epochs, [100 * e for e in r["train_error"]], "-" if r["residual"] else "--",
                  color="tab:red" if r["depth"] == depths[-1] else "tab:blue",
                  linewidth=1 + depths.index(r["depth"]), label=r["name"])
    axes.set_xticks(list(epochs))
    axes.set_xlabel("epoch")
    axes.set_ylabel("training error (%)")
    axes.set_title("Fashion-MNIST: plain (dashed) and residual (solid) nets")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    print(f"figure saved to {path}")


def main():
    args = parse_args()
    try:
        backend.use(args.backend)
    except backend.BackendError as error:
        sys.exit(f"error: {error}")
    try:
        images, labels = data.FashionMNIST(root=args.data_dir, train=True).arrays()
    except (data.DatasetNotFoundError, data.DataFileError) as error:
        sys.exit(f"error: {error}")
    subset = data.ArrayDataset(images[:args.train_subset], labels[:args.train_subset])
    results = []
    for residual in (False, True):
        for depth in args.depths:
            name = f"{'residual' if residual else 'plain'}-{depth}"
            minicnn.random.manual_seed(args.seed)  # the same data order for every network
            model = cifar_net(depth, args.width, residual).to(args.backend)
            loader = data.DataLoader(subset, batch_size=args.batch_size, shuffle=True, seed=args.seed)
            tic = time.perf_counter()
            errors = train(model, loader, args)
            seconds = time.perf_counter() - tic
            results.append({"name": name, "depth": depth, "residual": residual, "train_error": errors,
                            "seconds": seconds, "parameters": sum(p.size for p in model.parameters())})
            print(f"{name}: training error per epoch " + " ".join(f"{100 * e:.1f}%" for e in errors)
                  + f" ({seconds:.0f} s)", flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump({"settings": vars(args), "results": results}, f, indent=1)
    save_figure(results, args.figure or os.path.join(args.out, "degradation.png"))


if __name__ == "__main__":
    main()
