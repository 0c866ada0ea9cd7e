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


def positive_int(text):
    """An argparse type: a whole number of at least 1 (0 epochs or images leaves nothing to report)."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def image_side(text):
    """An argparse type for ``--resize``: 0 (keep 28×28) or a side of at least 1 pixel."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (keep 28×28) or a side in pixels, got {value}")
    return value


class RecipeParser(argparse.ArgumentParser):
    """An ArgumentParser whose ``--recipe NAME`` swaps in that recipe's defaults; explicit flags still win."""

    def __init__(self, recipes, **options):
        super().__init__(**options)
        self.recipes = recipes

    def parse_known_args(self, args=None, namespace=None):
        chosen, _ = super().parse_known_args(args)
        self.set_defaults(**self.recipes.get(chosen.recipe, {}))
        return super().parse_known_args(args, namespace)


def _describe(recipe):
    return ", ".join(f"{key.replace('_', '-')} {value}" for key, value in recipe.items())


def parser(name, epochs=10, batch_size=256, lr=0.9, resize=None, cpu=None):
    """The command line of a training example, with d2l's settings for ``name`` as defaults (``--help`` shows them).

    ``cpu`` is the network's recipe for two CPU cores (``--recipe cpu``): the flags it changes,
    as a dict of argument names to values.
    """
    recipes = {"cpu": cpu} if cpu else {}
    p = RecipeParser(recipes, description=f"Train {name} on Fashion-MNIST with minicnn (d2l settings by default).",
                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--recipe", choices=("d2l", *recipes), default="d2l",
                   help="d2l: the book's settings (plain SGD, Xavier init), the defaults below"
                   + (f"; cpu: a run that fits two CPU cores ({_describe(cpu)})" if cpu else ""))
    p.add_argument("--backend", choices=("numpy", "cupy"), default=os.environ.get("MINICNN_BACKEND", "numpy"),
                   help="array backend (the default comes from $MINICNN_BACKEND when set)")
    p.add_argument("--epochs", type=positive_int, default=epochs, help="passes over the training set")
    p.add_argument("--batch-size", type=positive_int, default=batch_size, help="images per SGD step")
    p.add_argument("--lr", type=float, default=lr, help="SGD learning rate")
    p.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (d2l: none)")
    p.add_argument("--weight-decay", type=float, default=0.0, help="SGD weight decay (L2 penalty)")
    p.add_argument("--warmup", type=float, default=0.0,
                   help="epochs over which the learning rate rises linearly from lr/10 to lr, batch by batch")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="the learning rate after the warm-up: constant, or a cosine to 0 at the last batch")
    p.add_argument("--init", choices=("xavier", "kaiming", "kaiming-centred"), default="xavier",
                   help="weights of every Conv2d and Linear: Xavier-uniform (d2l) or He-normal with zero biases; "
                   "kaiming-centred then sets each convolution's bias so that its output has mean 0 on the "
                   "first 256 training images")
    p.add_argument("--resize", type=image_side, default=resize,
                   help="resize 28x28 images to this size (d2l: 224 or 96; 0 or none: keep 28x28)")
    p.add_argument("--train-subset", type=positive_int, default=None, help="train on the first N training images only")
    p.add_argument("--test-subset", type=positive_int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--data-dir", default=None, help="folder with the four Fashion-MNIST IDX files")
    p.add_argument("--out", default=os.path.join("runs", name), help="folder for checkpoint, history and plot")
    p.add_argument("--seed", type=int, default=0, help="seeds the weights, the shuffling and dropout")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")
    p.add_argument("--profile", type=positive_int, metavar="N", default=None,
                   help="time N training steps by op type (minicnn.profile), print the table and exit")
    p.set_defaults(default_side=resize or 28)
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
    train_transform = getattr(args, "train_transform", None) or transform  # set by --augment / --multi-scale
    train_loader = data.DataLoader(train, batch_size=args.batch_size, shuffle=True,
                                   transform=train_transform, seed=args.seed)
    test_loader = data.DataLoader(test, batch_size=args.batch_size, transform=transform)
    return train_loader, test_loader


def start(args):
    """Switch backend and seed; exit with the backend's own message if it cannot run here."""
    try:
        backend.use(args.backend)
    except backend.BackendError as error:
        sys.exit(f"error: {error}")
    minicnn.tune_process()  # the process-wide speed settings of minicnn/process.py
    minicnn.random.manual_seed(args.seed)


def run(name, build_model, args, loss_fn=None):
    """Build, initialise (Xavier-uniform, as d2l) and train ``build_model(side)``; print and save the result.

    ``build_model`` takes the side of the (square) training images. Anything the user can
    fix (the data, the image size, a checkpoint that does not fit) ends the run with one
    ``error:`` line instead of a traceback.
    """
    start(args)
    try:
        model = build_for_side(name, build_model, args.resize or 28, args.default_side)
        train_loader, test_loader = load_fashion_mnist(args)
        initialise(model, args.init)
        model.to(args.backend)
        if args.init == "kaiming-centred":
            centre_biases(model, first_images(train_loader, 256))
        optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=args.weight_decay)
        if args.profile:
            profile_steps(model, train_loader, optimizer, args.profile, loss_fn or minicnn.functional.cross_entropy)
            return model, None
        extra = {"loss_fn": loss_fn} if loss_fn is not None else {}
        history = training.fit(model, train_loader, test_loader, optimizer, args.epochs,
                               scheduler=schedule(optimizer, args, len(train_loader)), scheduler_step="batch",
                               out_dir=args.out, resume=args.resume, progress=not args.no_progress, **extra)
    except (FileNotFoundError, data.DataFileError, ImageSizeError, training.ResumeError,
            training.TrainingDiverged) as error:  # FileNotFoundError: the data, or --resume without a checkpoint
        sys.exit(f"error: {error}")
    _report(name, args, history)
    return model, history


def initialise(model, scheme):
    """Draw the weights of every Conv2d and Linear: d2l's Xavier-uniform, or He-normal for deep ReLU stacks.

    Xavier keeps a linear layer's output variance, so each ReLU halves it: through the
    eight layers of AlexNet without BatchNorm the signal and its gradient shrink about
    200-fold, and plain SGD spends epochs at the chance-level loss of 2.30. He et al.
    (2015, §2.2) double the variance (std sqrt(2 / fan_in)) so that ReLU networks keep it.
    """
    if scheme == "xavier":
        return models.init_xavier_(model)
    # "kaiming" and "kaiming-centred" draw the same weights; centre_biases does the rest
    for module in model.modules():
        if type(module) in (minicnn.nn.Linear, minicnn.nn.Conv2d):
            minicnn.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            if module.bias is not None:
                minicnn.nn.init.zeros_(module.bias)
    return model


def first_images(loader, count):
    """The first ``count`` images of ``loader``'s dataset, unshuffled, as the loader transforms them."""
    images, _ = next(iter(data.DataLoader(loader.dataset, batch_size=count, transform=loader.transform)))
    return images


def centre_biases(model, images):
    """Data-dependent initialisation (Krähenbühl et al., 2016): each Conv2d's output gets mean 0 on ``images``.

    Layer after layer, in the order the network computes them, a convolution's bias is
    shifted by minus the per-channel mean of its output. ReLU outputs are never negative, so
    after He initialisation a channel fed by few of them (NiN's last block sees a 1×1 map
    and 10 channels at 67 pixels) is negative for every image: a dead unit that gets no
    gradient, and at NiN's last ReLU a class whose score is stuck at 0. Centred, every
    channel is positive on some images and learns. The last convolution is then raised by
    one constant for all channels until its outputs are at least 1 on every image: NiN's last
    ReLU, right before the class scores, then passes all of them (a class score can no
    longer die in the first steps, when every wrong class is pushed down), and the softmax
    does not see a shift common to all classes.
    """
    was_training = model.training
    model.eval()  # no dropout while measuring
    convolutions = [m for m in model.modules() if isinstance(m, minicnn.nn.Conv2d) and m.bias is not None]
    for conv in convolutions:
        output = _output_of(conv, model, images)
        conv.bias.data -= output.mean(axis=(0, 2, 3))
    last = convolutions[-1]
    last.bias.data += 1.0 - _output_of(last, model, images).min()
    model.train(was_training)
    return model


def _output_of(layer, model, images):
    """What ``layer`` computes when ``model`` runs on ``images`` (no graph)."""
    outputs = []
    compute = layer.forward
    layer.forward = lambda x: outputs.append(compute(x)) or outputs[-1]
    try:
        with minicnn.no_grad():
            model(minicnn.Tensor(images))
    finally:
        del layer.forward
    return outputs[0].data


def schedule(optimizer, args, steps_per_epoch):
    """The per-batch learning-rate schedule of ``--warmup`` and ``--schedule`` (d2l §12.11), or None for a constant rate."""
    lr_scheduler = optim.lr_scheduler
    warmup_steps = round(args.warmup * steps_per_epoch)
    warmup = lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup_steps) if warmup_steps else None
    if args.schedule == "constant":
        return warmup
    cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch - warmup_steps)
    if warmup is None:
        return cosine
    return lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])


class ImageSizeError(ValueError):
    """The network cannot take images of the requested size; the message names the smallest that works."""


def _try_side(build_model, side):
    """(the network built for ``side``, None) if one blank ``side``×``side`` image goes through it, else (None, the error)."""
    try:
        model = build_model(side)
        model.eval()
        with minicnn.no_grad():
            model(minicnn.Tensor(backend.xp().zeros((1, _input_channels(model), side, side), dtype="float32")))
    except ValueError as error:
        return None, error
    return model, None


def _input_channels(model):
    """The input channels of the model's first convolution (1 for Fashion-MNIST)."""
    return next(m for m in model.modules() if isinstance(m, minicnn.nn.Conv2d)).in_channels


def smallest_side(build_model, largest):
    """The smallest side from 1 to ``largest`` the network takes, by bisection; None if it does not take ``largest``.

    Every convolution and pooling maps a larger input to an output at least as large, so up
    to ``largest`` the sides the network takes are one unbroken range that ends there.
    """
    if _try_side(build_model, largest)[0] is None:
        return None
    low, high = 1, largest  # high is always a side the network takes
    while low < high:
        middle = (low + high) // 2
        if _try_side(build_model, middle)[0] is None:
            low = middle + 1
        else:
            high = middle
    return high


def build_for_side(name, build_model, side, default_side):
    """``build_model(side)``, checked on one blank image; ImageSizeError names the smallest side that works.

    ``default_side`` is the script's own size, which the network is known to take.
    """
    model, error = _try_side(build_model, side)
    if model is not None:
        return model
    smallest = smallest_side(build_model, default_side)
    fix = f"the smallest size it takes is {smallest}: use --resize {smallest}" if smallest else "check --resize"
    raise ImageSizeError(f"{name} cannot train on {side}×{side} images ({error}); {fix}")


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
               "train_subset": args.train_subset, "recipe": args.recipe, "momentum": args.momentum,
               "weight_decay": args.weight_decay, "warmup": args.warmup, "schedule": args.schedule,
               "init": args.init, "final_test_acc": history["test_acc"][-1],
               "train_seconds": seconds, "history": history}
    with open(os.path.join(args.out, "result.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"{name}: test acc {history['test_acc'][-1]:.3f} after {len(history['loss'])} epochs, "
          f"{seconds:.1f} s of training; plot and checkpoint in {args.out}")
