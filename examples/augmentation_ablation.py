"""Does augmentation help? A small CNN on 5,000 Fashion-MNIST images, with and without it (d2l §14.1).

With few training images a network with room to spare soon fits them all and its test
accuracy stops rising: it learns the training set, not the classes. Augmentation shows it
each image differently every epoch (here ``--augment``'s flip and padded crop; with
``--colour`` also its brightness and contrast jitter), so there is more to learn from the
same images. Both runs have the same network, initial weights, data order, optimiser,
schedule and epochs; the test accuracy is on the full 10,000-image test set. The script
writes a figure of augmented samples, a figure of the two runs' accuracies per epoch and
``result.json``.

    python examples/augmentation_ablation.py            # the run in docs/augmentation.md
"""
import argparse
import json
import os
import sys

import numpy
from augment import augmentation

import minicnn
from minicnn import backend, data, nn, optim, training


def parse_args():
    p = argparse.ArgumentParser(description="A small CNN on a Fashion-MNIST subset with and without augmentation.")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=os.environ.get("MINICNN_BACKEND", "numpy"))
    p.add_argument("--train-subset", type=int, default=5000, help="train on the first N training images")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05, help="SGD with momentum 0.9, decayed to 0 by a per-epoch cosine")
    p.add_argument("--colour", action="store_true",
                   help="add --augment's brightness and contrast jitter to the flip and crop")
    p.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--out", default=os.path.join("runs", "augmentation"), help="folder for result.json and figures")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def small_cnn():
    """Three 3×3 conv-BN-ReLU-pool stages (16, 32, 64 channels) and a 128-unit dense layer: 98,666 parameters."""
    layers, channels = [], 1
    for width in (16, 32, 64):
        layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2)]
        channels = width
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(), nn.Linear(128, 10))


def train(train_set, test_loader, transform, args):
    """``small_cnn`` trained on ``train_set`` (augmented by ``transform`` if given); the history of ``training.fit``."""
    minicnn.random.manual_seed(args.seed)  # the same initial weights for both runs
    model = small_cnn().to(args.backend)
    loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, transform=transform, seed=args.seed)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)  # settles the last epochs
    return training.fit(model, loader, test_loader, optimizer, args.epochs, scheduler=schedule, progress=False,
                        plot=False, log=lambda line: print("  " + line, flush=True))


def save_samples(images, transform, path, copies=7, seed=0):
    """A grid: each row one training image, then ``copies`` augmented versions of it."""
    from matplotlib import pyplot
    rng = numpy.random.default_rng(seed)
    views = [images] + [backend.to_numpy(transform(backend.asarray(images), rng)) for _ in range(copies)]
    figure, axes = pyplot.subplots(len(images), copies + 1, figsize=(1.2 * (copies + 1), 1.2 * len(images)))
    for row in range(len(images)):
        for column, view in enumerate(views):
            axes[row, column].imshow(view[row, 0], cmap="gray", vmin=0, vmax=1)
            axes[row, column].axis("off")
    axes[0, 0].set_title("original", fontsize=9)
    axes[0, 1].set_title("augmented →", fontsize=9, loc="left")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def save_curves(histories, path):
    """Training and test accuracy per epoch of both runs."""
    from matplotlib import pyplot
    figure, axes = pyplot.subplots(figsize=(6, 4))
    for (name, history), colour in zip(histories.items(), ("tab:blue", "tab:red")):
        epochs = range(1, len(history["test_acc"]) + 1)
        axes.plot(epochs, history["train_acc"], "--", color=colour, label=f"{name}: train")
        axes.plot(epochs, history["test_acc"], "-", color=colour, label=f"{name}: test")
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0.6, 1.0)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)


def main():
    args = parse_args()
    try:
        backend.use(args.backend)
        train_images, train_labels = data.FashionMNIST(root=args.data_dir, train=True).arrays()
        test_set = data.FashionMNIST(root=args.data_dir, train=False)
    except (backend.BackendError, data.DatasetNotFoundError, data.DataFileError) as error:
        sys.exit(f"error: {error}")
    train_set = data.ArrayDataset(train_images[:args.train_subset], train_labels[:args.train_subset])
    test_loader = data.DataLoader(test_set, batch_size=1000)
    transform = augmentation(28, colour=args.colour)
    histories = {}
    for name, chosen in (("plain", None), ("augmented", transform)):
        print(f"{name}:", flush=True)
        histories[name] = train(train_set, test_loader, chosen, args)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump({"settings": vars(args), "transform": repr(transform), "histories": histories}, f, indent=1)
    for name, history in histories.items():
        print(f"{name}: test acc {history['test_acc'][-1]:.4f} (best {max(history['test_acc']):.4f}), "
              f"train acc {history['train_acc'][-1]:.4f}, {sum(history['seconds']):.0f} s of training")
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no figures (pip install matplotlib)")
        return
    matplotlib.use("Agg")
    save_samples(train_images[:6].astype("float32") / 255, transform, os.path.join(args.out, "augmented_samples.png"))
    save_curves(histories, os.path.join(args.out, "accuracy.png"))
    print(f"figures saved in {args.out}")


if __name__ == "__main__":
    main()
