"""Train an FCN on ResNet-18 for semantic segmentation (Long et al. 2015; d2l §14.11).

By default it trains on SyntheticShapes (circles, squares and triangles on textured
backgrounds, generated in memory) with a CPU-sized network: 96×96 images (a 3×3 grid
of features at stride 32), a ResNet-18 backbone at a quarter of its width, batch 16,
Adam with lr 0.002 decayed to 0 by a per-step cosine, 4 epochs of 4,000 images. With
``--voc-dir`` it trains on Pascal VOC 2012 with d2l's preset: 320×480 crops, batch 32,
SGD with lr 0.001 and weight decay 1e-3, a constant rate, 5 epochs, the full-width
network; d2l starts from an ImageNet-trained ResNet-18, which ``--backbone-weights``
loads from a .npz state dict of a torchvision-layout ResNet-18 (e.g. torchvision's
weights saved with ``numpy.savez``).

Each epoch prints the training loss and the held-out pixel accuracy and mean IoU; at the
end it writes ``result.json``, ``model.npz`` and a PNG grid of input / ground truth /
prediction into ``--out``.

    python examples/train_fcn.py                        # synthetic shapes: mean IoU 0.85 in 2.5 min on 2 cores
    python examples/train_fcn.py --voc-dir ~/data/VOCdevkit --backend cupy

On a busy machine with few cores, OPENBLAS_NUM_THREADS=1 can make the numpy backend
several times faster (OpenBLAS's threads otherwise compete with the other processes).
"""
import argparse
import json
import os
import sys
import time

import minicnn
import minicnn.functional as F
from minicnn import Tensor, backend, data, optim, serialization
from minicnn.data.segmentation import SyntheticShapes, VOCSegmentation
from minicnn.metrics import confusion_matrix, iou_per_class, label_to_color, mean_iou, pixel_accuracy
from minicnn.models.fcn import fcn8s_resnet18, fcn16s_resnet18, fcn_resnet18, load_backbone

from common import positive_int

SYNTHETIC = {"epochs": 4, "batch_size": 16, "lr": 0.002, "weight_decay": 0.0, "optimizer": "adam",
             "schedule": "cosine", "width": 0.25}
VOC = {"epochs": 5, "batch_size": 32, "lr": 0.001, "weight_decay": 1e-3, "optimizer": "sgd",
       "schedule": "constant", "width": 1.0}
ARCHITECTURES = {"fcn32s": fcn_resnet18, "fcn16s": fcn16s_resnet18, "fcn8s": fcn8s_resnet18}
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def parse_args():
    p = argparse.ArgumentParser(description="Train FCN-ResNet18 on SyntheticShapes (default) or Pascal VOC 2012.")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=os.environ.get("MINICNN_BACKEND", "numpy"))
    p.add_argument("--arch", choices=tuple(ARCHITECTURES), default="fcn32s",
                   help="FCN-32s (one ×32 upsampling) or the skip nets FCN-16s / FCN-8s (Long et al. 2015)")
    p.add_argument("--epochs", type=positive_int, help="default: 4 (synthetic), 5 (VOC)")
    p.add_argument("--batch-size", type=positive_int, help="default: 16 (synthetic), 32 (VOC)")
    p.add_argument("--lr", type=float, help="default: 0.002 with Adam (synthetic), 0.001 with SGD (VOC)")
    p.add_argument("--weight-decay", type=float, help="default: 0 (synthetic), 1e-3 (VOC)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), help="default: adam (synthetic), sgd (VOC)")
    p.add_argument("--schedule", choices=("constant", "cosine"),
                   help="learning rate over the run, stepped every batch; default: cosine (synthetic), constant (VOC)")
    p.add_argument("--width", type=float, help="backbone channel scale; default: 0.25 (synthetic), 1 (VOC)")
    p.add_argument("--image-size", type=positive_int, default=96, help="synthetic images are this square size")
    p.add_argument("--train-images", type=positive_int, default=4000, help="synthetic training images")
    p.add_argument("--test-images", type=positive_int, default=500, help="synthetic held-out images")
    p.add_argument("--voc-dir", help="folder holding VOCdevkit/VOC2012 (or VOC2012 itself): train on VOC")
    p.add_argument("--crop", type=int, nargs=2, default=(320, 480), metavar=("H", "W"), help="VOC crop size")
    p.add_argument("--backbone-weights", help=".npz state dict of a torchvision-layout ResNet-18 to start from")
    p.add_argument("--out", default=os.path.join("runs", "fcn"), help="folder for result.json, model.npz, the grid")
    p.add_argument("--grid", help="where to save the input / truth / prediction PNG (default: OUT/predictions.png)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    for key, value in (VOC if args.voc_dir else SYNTHETIC).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def load_data(args):
    """(train set, held-out set, normalising transform): SyntheticShapes, or VOC train/val with random crops."""
    if args.voc_dir is None:
        train = SyntheticShapes(train=True, num_images=args.train_images, size=args.image_size, seed=args.seed)
        test = SyntheticShapes(train=False, num_images=args.test_images, size=args.image_size, seed=args.seed)
        return train, test, data.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    train = VOCSegmentation(args.voc_dir, "train", crop_size=args.crop, seed=args.seed)
    test = VOCSegmentation(args.voc_dir, "val", crop_size=args.crop, seed=args.seed + 1)
    print(f"{train}\n{test}")
    return train, test, data.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def build_model(args, num_classes):
    model = ARCHITECTURES[args.arch](num_classes=num_classes, in_channels=3, width=args.width)
    if args.backbone_weights:
        state = serialization.load(args.backbone_weights)
        copied = load_backbone(model, state.get("model", state))
        print(f"loaded {len(copied)} backbone arrays from {args.backbone_weights}")
    return model.to(args.backend)


def build_optimizer(args, model):
    if args.optimizer == "adam":
        return optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    return optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)


def build_schedule(args, optimizer, steps_per_epoch):
    if args.schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch)
    return None


def train_epoch(model, loader, optimizer, schedule):
    """One pass of pixel-wise cross-entropy training (the schedule stepped per batch); returns the mean loss."""
    model.train()
    total = count = 0
    for images, labels in loader:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(Tensor(images)), labels)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        total, count = total + loss.item() * len(labels), count + len(labels)
    return total / max(count, 1)


def evaluate(model, loader, num_classes):
    """(pixel accuracy, mean IoU, IoU per class) on ``loader``, from one confusion matrix summed over the batches."""
    model.eval()
    confusion = 0
    with minicnn.no_grad():
        for images, labels in loader:
            prediction = model(Tensor(images)).data.argmax(axis=1)
            confusion = confusion + confusion_matrix(prediction, labels, num_classes)
    return pixel_accuracy(confusion), mean_iou(confusion), [float(v) for v in iou_per_class(confusion)]


def save_grid(model, dataset, normalize, path, count=6):
    """A PNG with one row per example: the input, the ground truth and the prediction in the class colours."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no prediction grid (pip install matplotlib)")
        return
    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.patches import Patch

    examples = [dataset[i] for i in range(min(count, len(dataset)))]
    images = backend.xp().stack([image for image, _ in examples])
    model.eval()
    with minicnn.no_grad():
        predictions = model(Tensor(normalize(images))).data.argmax(axis=1)
    figure, axes = pyplot.subplots(len(examples), 3, figsize=(6, 2 * len(examples) + 0.5), squeeze=False)
    for row, ((image, label), prediction) in enumerate(zip(examples, predictions)):
        panels = (backend.to_numpy(image).transpose(1, 2, 0), label_to_color(backend.to_numpy(label), dataset.colormap),
                  label_to_color(backend.to_numpy(prediction), dataset.colormap))
        for column, (panel, title) in enumerate(zip(panels, ("input", "ground truth", "prediction"))):
            axes[row, column].imshow(panel, interpolation="nearest")
            axes[row, column].axis("off")
            if row == 0:
                axes[row, column].set_title(title)
    legend = [Patch(color=[c / 255 for c in colour], label=name) for name, colour in zip(dataset.classes, dataset.colormap)]
    figure.legend(handles=legend, loc="lower center", ncol=min(len(legend), 4), frameon=False)
    figure.tight_layout(rect=(0, 0.02 * (len(legend) // 4 + 1), 1, 1))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    print(f"prediction grid saved to {path}")


def main():
    args = parse_args()
    started = time.perf_counter()
    try:
        backend.use(args.backend)
    except backend.BackendError as error:
        sys.exit(f"error: {error}")
    minicnn.random.manual_seed(args.seed)
    try:
        train_set, test_set, normalize = load_data(args)
    except (data.DatasetNotFoundError, ImportError) as error:
        sys.exit(f"error: {error}")
    num_classes = len(train_set.classes)
    model = build_model(args, num_classes)
    optimizer = build_optimizer(args, model)
    train_loader = data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True,
                                   transform=normalize, seed=args.seed)
    test_loader = data.DataLoader(test_set, batch_size=args.batch_size, transform=normalize)
    schedule = build_schedule(args, optimizer, len(train_loader))
    history = []
    for epoch in range(args.epochs):
        tic = time.perf_counter()
        loss = train_epoch(model, train_loader, optimizer, schedule)
        accuracy, miou, per_class = evaluate(model, test_loader, num_classes)
        history.append({"loss": loss, "pixel_acc": accuracy, "mean_iou": miou, "iou_per_class": per_class,
                        "seconds": time.perf_counter() - tic})
        print(f"epoch {epoch + 1}: loss {loss:.3f}, held-out pixel acc {accuracy:.3f}, mean IoU {miou:.3f}, "
              f"{history[-1]['seconds']:.0f} s on {backend.current()}")
    os.makedirs(args.out, exist_ok=True)
    serialization.save(model.state_dict(), os.path.join(args.out, "model.npz"))
    save_grid(model, test_set, normalize, args.grid or os.path.join(args.out, "predictions.png"))
    wall = time.perf_counter() - started
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump({"settings": vars(args), "history": history, "wall_seconds": wall}, f, indent=1)
    per_class = ", ".join(f"{name} {iou:.3f}" for name, iou in zip(train_set.classes, history[-1]["iou_per_class"]))
    print(f"{args.arch}: held-out pixel acc {history[-1]['pixel_acc']:.3f}, mean IoU {history[-1]['mean_iou']:.3f} "
          f"({per_class}), {wall:.0f} s wall time in all; results in {args.out}")


if __name__ == "__main__":
    main()
