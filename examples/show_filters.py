"""Draw a trained network's first-layer filters and the feature maps they produce (d2l §8.1.1).

Krizhevsky et al. (2012) showed AlexNet's first layer learns edge and colour-blob detectors
much like hand-made filters; this picture lets you look for the same in your own run.
Usage: python examples/show_filters.py --model lenet --checkpoint runs/lenet/checkpoint.npz
"""
import argparse

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402

from minicnn import Tensor, data, models, no_grad, serialization  # noqa: E402
from minicnn.backend import to_numpy  # noqa: E402

BUILDERS = {"lenet": (models.lenet, None), "lenet_bn": (models.lenet_bn, None),
            "alexnet": (models.alexnet, 224), "nin": (models.nin, 224),
            "resnet18": (models.resnet18, 96)}


def first_conv(model):
    return next(m for m in model.modules() if type(m).__name__ == "Conv2d")


def draw(model, image, path, title):
    conv = first_conv(model)
    filters = to_numpy(conv.weight.data)[:, 0]
    with no_grad():
        maps = to_numpy(conv(Tensor(image)).data)[0]
    count = min(len(filters), 8)
    figure, axes = pyplot.subplots(2, count + 1, figsize=(1.6 * (count + 1), 3.4))
    axes[0, 0].imshow(to_numpy(image)[0, 0], cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    axes[1, 0].axis("off")
    for k in range(count):
        axes[0, k + 1].imshow(filters[k], cmap="RdBu_r")
        axes[0, k + 1].set_title(f"filter {k}", fontsize=8)
        axes[1, k + 1].imshow(maps[k], cmap="viridis")
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    print(f"saved {path}")


def main():
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--model", choices=sorted(BUILDERS), default="lenet")
    cli.add_argument("--checkpoint", required=True, help="checkpoint.npz written by a train_<model>.py run")
    cli.add_argument("--index", type=int, default=0, help="which test image to show")
    cli.add_argument("--out", default="filters.png")
    cli.add_argument("--data-dir", default=None)
    args = cli.parse_args()
    build, size = BUILDERS[args.model]
    model = build()
    model.load_state_dict(serialization.load(args.checkpoint)["model"])
    model.eval()
    test = data.DataLoader(data.FashionMNIST(root=args.data_dir, train=False), batch_size=1,
                           transform=data.transforms.Resize(size) if size else None)
    for index, (image, label) in enumerate(test):
        if index == args.index:
            break
    name = test.dataset.classes[int(label[0])]
    draw(model, image, args.out, f"{args.model}: first-layer filters and feature maps of a '{name}'")


if __name__ == "__main__":
    main()
