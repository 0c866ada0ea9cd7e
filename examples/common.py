"""What every examples/train_<network>.py shares: the command line, the data, the run.

Each example script only names its network and d2l's hyper-parameters; this module
parses the flags, loads Fashion-MNIST (resized where the network needs it), applies
d2l's Xavier-uniform initialisation, trains with plain SGD and reports the result.
"""
import argparse
import json
import os
import sys

import minicnn
from minicnn import backend, data, models, optim, training


def parser(name, epochs=10, batch_size=256, lr=0.9, resize=None):
    """The command line of a training example, with d2l's settings for ``name`` as defaults."""
    p = argparse.ArgumentParser(description=f"Train {name} on Fashion-MNIST with minicnn (d2l settings by default).")
    p.add_argument("--backend", choices=("numpy", "cupy"), default=os.environ.get("MINICNN_BACKEND", "numpy"))
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--resize", type=int, default=resize, help="resize 28x28 images to this size (d2l: 224 or 96)")
    p.add_argument("--train-subset", type=int, default=None, help="train on the first N training images only")
    p.add_argument("--test-subset", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--out", default=os.path.join("runs", name), help="folder for checkpoint, history and plot")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.add_argument("--profile", type=int, metavar="N", default=None,
                   help="time N training steps by op type (minicnn.profile), print the table and exit")
    return p


def _subset(dataset, count):
    if count is None or count >= len(dataset):
        return dataset
    images, labels = dataset.arrays()
    return data.ArrayDataset(images[:count], labels[:count], classes=dataset.classes)


def load_fashion_mnist(args):
    """Train and test loaders of Fashion-MNIST, batched on the active backend (d2l §4.2)."""
    transform = data.transforms.Resize(args.resize) if args.resize else None
    train = _subset(data.FashionMNIST(root=args.data_dir, train=True), args.train_subset)
    test = _subset(data.FashionMNIST(root=args.data_dir, train=False), args.test_subset)
    train_loader = data.DataLoader(train, batch_size=args.batch_size, shuffle=True,
                                   transform=transform, seed=args.seed)
    test_loader = data.DataLoader(test, batch_size=args.batch_size, transform=transform)
    return train_loader, test_loader


def start(args):
    """Switch backend and seed; exit with the backend's own message if it cannot run here."""
    try:
        backend.use(args.backend)
    except backend.BackendError as error:
        sys.exit(f"error: {error}")
    minicnn.random.manual_seed(args.seed)


def run(name, build_model, args, loss_fn=None):
    """Build, initialise (Xavier-uniform, as d2l) and train ``build_model()``; print and save the result."""
    start(args)
    try:
        train_loader, test_loader = load_fashion_mnist(args)
    except (data.DatasetNotFoundError, data.DataFileError) as error:
        sys.exit(f"error: {error}")
    model = build_model()
    models.init_xavier_(model)
    model.to(args.backend)
    optimizer = optim.SGD(model.parameters(), lr=args.lr)
    if args.profile:
        profile_steps(model, train_loader, optimizer, args.profile, loss_fn or minicnn.functional.cross_entropy)
        return model, None
    extra = {"loss_fn": loss_fn} if loss_fn is not None else {}
    history = training.fit(model, train_loader, test_loader, optimizer, args.epochs,
                           out_dir=args.out, resume=args.resume, progress=not args.no_progress, **extra)
    _report(name, args, history)
    return model, history


def profile_steps(model, loader, optimizer, steps, loss_fn):
    """Print where ``steps`` training steps spend their time (after one untimed warm-up step)."""
    from minicnn.profile import profile
    model.train()
    for images, labels in loader:  # the warm-up step compiles the Numba kernels
        training._train_step(model, images, labels, optimizer, loss_fn)
        break
    done = 0
    with profile() as prof:
        for images, labels in loader:  # the loop starts inside, so waiting for batches is timed too
            if done == steps:
                break
            training._train_step(model, images, labels, optimizer, loss_fn)
            done += 1
    print(f"profile of {done} training steps (batch {loader.batch_size}, {backend.current()} backend):")
    prof.print(steps=done)


def _report(name, args, history):
    seconds = sum(history["seconds"])
    summary = {"network": name, "backend": args.backend, "epochs": len(history["loss"]),
               "batch_size": args.batch_size, "lr": args.lr, "resize": args.resize,
               "train_subset": args.train_subset, "final_test_acc": history["test_acc"][-1],
               "train_seconds": seconds, "history": history}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: test acc {history['test_acc'][-1]:.3f} after {len(history['loss'])} epochs, "
          f"{seconds:.1f} s of training; plot and checkpoint in {args.out}")
