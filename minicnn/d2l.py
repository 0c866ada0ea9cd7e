"""The d2l book's helpers, written for minicnn: ``from minicnn import d2l`` in place of ``from d2l import torch as d2l``.

Chapters 6 and 7 and §13.10–13.11 of Dive into Deep Learning call these by name:
``load_data_fashion_mnist``, ``train_ch6`` with ``Accumulator``, ``Timer``, ``accuracy`` and
``evaluate_accuracy_gpu`` (d2l §6.6), ``Animator`` (§3.6), ``try_gpu`` (§5.6), ``corr2d``
(§6.2), ``Residual`` (§7.6), and for FCN ``load_data_voc`` and ``train_ch13`` (§13.9, §13.11).
The same names and printed lines as the book's; the code is minicnn's own. ``plt`` and
``Image`` (matplotlib.pyplot and PIL.Image) are imported on first use.

Unlike the book's ``Animator``, which draws only inside a notebook, this one also works in a
plain script: it saves the figure as a PNG and prints where (see ``Animator``).
"""
import time

import numpy

from . import backend, nn, optim
from .autograd import Tensor, no_grad
from .creation import arange, float32, int32, int64, normal, ones, rand, randn, tensor, zeros
from .data import DataLoader, FashionMNIST
from .data import transforms as batch_transforms
from .data.datasets import DatasetNotFoundError, search_folders
from .data.segmentation import VOC_CLASSES, VOC_COLORMAP, VOC_URL, VOCSegmentation, _find_voc_root
from .device import device
from .functional import abs, cat, exp, log, matmul, stack
from .models import Residual

concat = cat


# --- the tensor vocabulary of d2l's framework-neutral cells ---------------------------------


def reshape(x, *shape):
    """``x.reshape(*shape)``."""
    return x.reshape(*shape)


def reduce_sum(x, *args, **kwargs):
    """``x.sum(...)``."""
    return x.sum(*args, **kwargs)


def reduce_mean(x, *args, **kwargs):
    """``x.mean(...)``."""
    return x.mean(*args, **kwargs)


def transpose(x):
    """The matrix transpose of a 2-D ``x``."""
    return x.T


def size(x):
    """The number of elements of ``x``."""
    return x.numel()


def argmax(x, *args, **kwargs):
    """``x.argmax(...)``."""
    return x.argmax(*args, **kwargs)


def astype(x, dtype):
    """``x`` as ``dtype``."""
    return x.type(dtype)


def to_numpy(x):
    """A NumPy copy of ``x``'s values."""
    return x.detach().numpy()


def corr2d(X, K):
    """2-D cross-correlation of matrix ``X`` with kernel ``K``, one output element at a time (d2l §6.2.1).

    Written with Tensor operations, so it is differentiable; ``F.conv2d`` does the same at speed.
    """
    h, w = K.shape
    rows = range(X.shape[0] - h + 1)
    columns = range(X.shape[1] - w + 1)
    return stack([stack([(X[i:i + h, j:j + w] * K).sum() for j in columns]) for i in rows])


# --- devices --------------------------------------------------------------------------------


def num_gpus():
    """How many CUDA devices the CuPy backend sees (0 on the NumPy backend)."""
    if backend.current() != "cupy":
        return 0
    return backend.xp().cuda.runtime.getDeviceCount()


def try_gpu(i=0):
    """GPU ``i`` when the CuPy backend runs and has it, else the CPU (d2l §5.6)."""
    return device("cuda", i) if i < num_gpus() else device("cpu")


def try_all_gpus():
    """Every GPU of the CuPy backend, or ``[cpu]`` (d2l §5.6)."""
    return [device("cuda", i) for i in range(num_gpus())] or [device("cpu")]


# --- counting and timing --------------------------------------------------------------------


class Timer:
    """Wall-clock timing of repeated runs: ``start()``, ``stop()`` and the sums (d2l §3.1)."""

    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        """Start the clock."""
        self.begun = time.perf_counter()

    def stop(self):
        """Stop the clock, record the run and return its seconds."""
        self.times.append(time.perf_counter() - self.begun)
        return self.times[-1]

    def avg(self):
        """Mean seconds per run."""
        return sum(self.times) / len(self.times)

    def sum(self):
        """Total seconds."""
        return sum(self.times)

    def cumsum(self):
        """Running totals after each run."""
        return numpy.cumsum(self.times).tolist()


class Accumulator:
    """``n`` running sums (e.g. loss, correct predictions, examples), added to as floats (d2l §3.6)."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *values):
        """Add one value to each sum."""
        self.data = [total + float(value) for total, value in zip(self.data, values)]

    def reset(self):
        """Set every sum back to 0."""
        self.data = [0.0] * len(self.data)

    def __getitem__(self, index):
        return self.data[index]


def accuracy(y_hat, y):
    """How many predictions are right: the arg-max class of ``y_hat`` (N, C[, H, W]) against ``y`` (d2l §3.6)."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """The fraction of right predictions of ``net`` over ``data_iter``, in eval mode and without a graph (d2l §6.6)."""
    if isinstance(net, nn.Module):
        net.eval()
        if device is None:
            device = next(iter(net.parameters())).device
    metric = Accumulator(2)
    with no_grad():
        for X, y in data_iter:
            X = [x.to(device) for x in X] if isinstance(X, list) else X.to(device)
            y = y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


# --- plotting -------------------------------------------------------------------------------


def __getattr__(name):
    """``d2l.plt`` (matplotlib.pyplot) and ``d2l.Image`` (PIL.Image), imported when first used."""
    if name == "plt":
        import matplotlib.pyplot
        return matplotlib.pyplot
    if name == "Image":
        from PIL import Image
        return Image
    raise AttributeError(f"module 'minicnn.d2l' has no attribute {name!r}")


def _in_notebook():
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def use_svg_display():
    """Draw notebook figures as SVG (d2l §2.4); nothing to do in a script."""
    if _in_notebook():
        from matplotlib_inline import backend_inline
        backend_inline.set_matplotlib_formats("svg")


def set_figsize(figsize=(3.5, 2.5)):
    """The default size of new matplotlib figures, in inches (d2l §2.4)."""
    __getattr__("plt").rcParams["figure.figsize"] = figsize


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
    """A grid of images (Tensors H×W[×C] or arrays) with optional titles (d2l §3.5); returns the axes."""
    _, axes = __getattr__("plt").subplots(num_rows, num_cols, figsize=(num_cols * scale, num_rows * scale))
    axes = numpy.asarray(axes).reshape(-1)
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        ax.imshow(numpy.asarray(img))
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles:
            ax.set_title(titles[i])
    return axes


class Animator:
    """Curves that grow while a model trains (d2l §3.6): ``add(x, ys)`` appends one point per curve.

    In a notebook the figure is redrawn in place. In a plain script it is saved as a PNG —
    at most once a second, and always when ``x`` reaches the end of ``xlim`` — and the path
    is printed the first time. ``path`` defaults to ``animator.png`` in the current folder
    (``animator-2.png`` for a second Animator of the same run, and so on).
    """

    count = 0

    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5), path=None):
        from matplotlib.figure import Figure
        Animator.count += 1
        self.path = path or ("animator.png" if Animator.count == 1 else f"animator-{Animator.count}.png")
        self.fig = Figure(figsize=figsize)
        axes = self.fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
        self.axes, self.fmts = axes, fmts
        self.settings = dict(xlabel=xlabel, ylabel=ylabel, xlim=xlim, ylim=ylim, xscale=xscale, yscale=yscale)
        self.legend = legend or []
        self.X, self.Y = None, None
        self.notebook, self.saved_at, self.announced = _in_notebook(), 0.0, False

    def add(self, x, y):
        """Append the point (x, y_i) to curve i for each y_i that is not None, and redraw."""
        ys = list(y) if hasattr(y, "__len__") else [y]
        xs = list(x) if hasattr(x, "__len__") else [x] * len(ys)
        if self.X is None:
            self.X, self.Y = [[] for _ in ys], [[] for _ in ys]
        for i, (a, b) in enumerate(zip(xs, ys)):
            if a is not None and b is not None:
                self.X[i].append(float(a))
                self.Y[i].append(float(b))
        self._draw()
        last = self.settings["xlim"] is not None and max(xs) >= self.settings["xlim"][1]
        self._show(force=last)

    def _draw(self):
        ax = self.axes[0]
        ax.cla()
        for xs, ys, fmt in zip(self.X, self.Y, self.fmts):
            ax.plot(xs, ys, fmt)
        settings = self.settings
        ax.set_xlabel(settings["xlabel"])
        ax.set_ylabel(settings["ylabel"])
        ax.set_xscale(settings["xscale"])
        ax.set_yscale(settings["yscale"])
        if settings["xlim"] and settings["xlim"][0] < settings["xlim"][1]:  # one epoch gives [1, 1]
            ax.set_xlim(settings["xlim"])
        if settings["ylim"]:
            ax.set_ylim(settings["ylim"])
        if self.legend:
            ax.legend(self.legend)
        ax.grid()

    def _show(self, force):
        if self.notebook:
            from IPython import display
            display.display(self.fig)
            display.clear_output(wait=True)
            return
        if force or time.perf_counter() - self.saved_at >= 1.0:
            self.fig.savefig(self.path, dpi=100, bbox_inches="tight")
            self.saved_at = time.perf_counter()
            if not self.announced:
                print(f"Animator: the plot is saved to {self.path} (updated as training runs)")
                self.announced = True


# --- data -----------------------------------------------------------------------------------


class TensorBatches:
    """A DataLoader whose batches come out as Tensors, as torch's DataLoader gives them (d2l calls ``X.to(device)``)."""

    def __init__(self, loader):
        self.loader = loader
        self.dataset = loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for X, y in self.loader:
            yield Tensor(X), Tensor(y)


def load_data_fashion_mnist(batch_size, resize=None, root=None):
    """Fashion-MNIST as (train, test) batches of float32 N×1×H×W images and int64 labels (d2l §3.5).

    ``resize`` scales the 28×28 images bilinearly (AlexNet wants 224); ``root`` is a folder
    holding the four IDX files, else minicnn's usual search applies (see ``data.FashionMNIST``).
    """
    transform = batch_transforms.Resize(resize) if resize else None
    train, test = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
    return (TensorBatches(DataLoader(train, batch_size, shuffle=True, transform=transform)),
            TensorBatches(DataLoader(test, batch_size, shuffle=False, transform=transform)))


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VOCSegDataset(VOCSegmentation):
    """Pascal VOC crops normalised with ImageNet's statistics, as d2l's ``VOCSegDataset`` (d2l §13.9.2)."""

    def __init__(self, is_train, crop_size, voc_dir):
        self.normalize = batch_transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
        super().__init__(voc_dir, "train" if is_train else "val", crop_size, transform=self.normalize)

    def normalize_image(self, img):
        """A uint8 C×H×W image Tensor as the normalised float32 input the network saw in training."""
        images = backend.asarray(img.data[None], dtype="float32") / 255
        return Tensor(self.normalize(images)[0])


def download_extract(name="voc2012", folder="VOCdevkit/VOC2012"):
    """The local VOC 2012 folder; minicnn does not download it (d2l §13.9 downloads here)."""
    return str(_voc_dir(name))


def _voc_dir(name="voc2012"):
    """The first folder of minicnn's data search that holds VOC 2012, or an error that says where to put it."""
    folders = search_folders(name)
    for folder in folders:
        try:
            return _find_voc_root(folder, "train")
        except DatasetNotFoundError:
            continue
    looked = "\n".join(f"    {folder}" for folder in folders)
    raise DatasetNotFoundError(
        f"Pascal VOC 2012 is not on this machine (minicnn does not download it); looked in:\n{looked}\n"
        f"Fetch {VOC_URL} and unpack it into one of those folders "
        "(e.g. `mkdir -p ~/.cache/minicnn/voc2012 && tar xf VOCtrainval_11-May-2012.tar -C "
        "~/.cache/minicnn/voc2012`), or set MINICNN_DATA to the folder that holds voc2012/"
    )


def read_voc_images(voc_dir, is_train=True):
    """Every image and label picture of the VOC split as uint8 3×H×W Tensors (labels in colour) (d2l §13.9.1)."""
    from PIL import Image
    dataset = VOCSegmentation(voc_dir, "train" if is_train else "val", crop_size=(1, 1))
    features, labels = [], []
    for name in dataset.ids:
        for path, store in zip(dataset._paths(name), (features, labels)):
            with Image.open(path) as picture:
                rgb = numpy.asarray(picture.convert("RGB")).transpose(2, 0, 1)
            store.append(Tensor(backend.asarray(numpy.ascontiguousarray(rgb))))
    return features, labels


def load_data_voc(batch_size, crop_size):
    """Pascal VOC 2012 segmentation batches (train, val) of random crops (d2l §13.9.4), from a local copy."""
    voc_dir = _voc_dir()
    train = VOCSegDataset(True, crop_size, voc_dir)
    test = VOCSegDataset(False, crop_size, voc_dir)
    return (TensorBatches(DataLoader(train, batch_size, shuffle=True, drop_last=True)),
            TensorBatches(DataLoader(test, batch_size, drop_last=True)))


# --- training -------------------------------------------------------------------------------


def _xavier_linear_and_conv(module):
    if type(module) in (nn.Linear, nn.Conv2d):
        nn.init.xavier_uniform_(module.weight)


def _report(loss, train_acc, test_acc, examples_per_sec, where):
    print(f"loss {loss:.3f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}")
    print(f"{examples_per_sec:.1f} examples/sec on {where}")


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train ``net`` with minibatch SGD and cross-entropy on ``device`` (d2l §6.6), plotting as it goes.

    Weights of Linear and Conv2d layers are Xavier-initialised first. Prints the last
    loss and accuracies, then the training speed in examples per second.
    """
    net.apply(_xavier_linear_and_conv)
    print("training on", device)
    net.to(device)
    optimizer = optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], legend=["train loss", "train acc", "test acc"])
    timer, num_batches = Timer(), len(train_iter)
    for epoch in range(num_epochs):
        metric = Accumulator(3)  # summed loss, right predictions, examples
        net.train()
        for i, (X, y) in enumerate(train_iter):
            timer.start()
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            batch_loss = loss(y_hat, y)
            batch_loss.backward()
            optimizer.step()
            metric.add(batch_loss.item() * X.shape[0], accuracy(y_hat, y), X.shape[0])
            timer.stop()
            if _plot_now(i, num_batches):
                animator.add(epoch + (i + 1) / num_batches, (metric[0] / metric[2], metric[1] / metric[2], None))
        test_acc = evaluate_accuracy_gpu(net, test_iter)
        animator.add(epoch + 1, (None, None, test_acc))
    _report(metric[0] / metric[2], metric[1] / metric[2], test_acc, metric[2] * num_epochs / timer.sum(), device)


def _plot_now(i, num_batches):
    """Five points per epoch: after every fifth of the batches and after the last."""
    return (i + 1) % max(num_batches // 5, 1) == 0 or i == num_batches - 1


def train_batch_ch13(net, X, y, loss, trainer, devices):
    """One SGD step on a batch; returns (summed loss, right predictions) (d2l §13.1)."""
    X = [x.to(devices[0]) for x in X] if isinstance(X, list) else X.to(devices[0])
    y = y.to(devices[0])
    net.train()
    trainer.zero_grad()
    pred = net(X)
    losses = loss(pred, y)
    losses.sum().backward()
    trainer.step()
    return float(losses.sum()), accuracy(pred, y)


def train_ch13(net, train_iter, test_iter, loss, trainer, num_epochs, devices=None):
    """Train with a given per-example ``loss`` and optimiser ``trainer`` on ``devices[0]`` (d2l §13.1, used by §13.11).

    Accuracy counts labels (pixels, for segmentation). Prints the last loss and accuracies,
    then the training speed.
    """
    devices = try_all_gpus() if devices is None else devices
    timer, num_batches = Timer(), len(train_iter)
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], ylim=[0, 1],
                        legend=["train loss", "train acc", "test acc"])
    net.to(devices[0])
    for epoch in range(num_epochs):
        metric = Accumulator(4)  # summed loss, right predictions, examples, labels
        for i, (features, labels) in enumerate(train_iter):
            timer.start()
            batch_loss, right = train_batch_ch13(net, features, labels, loss, trainer, devices)
            metric.add(batch_loss, right, labels.shape[0], labels.numel())
            timer.stop()
            if _plot_now(i, num_batches):
                animator.add(epoch + (i + 1) / num_batches, (metric[0] / metric[2], metric[1] / metric[3], None))
        test_acc = evaluate_accuracy_gpu(net, test_iter, devices[0])
        animator.add(epoch + 1, (None, None, test_acc))
    _report(metric[0] / metric[2], metric[1] / metric[3], test_acc, metric[2] * num_epochs / timer.sum(), devices)


__all__ = [
    "Accumulator", "Animator", "IMAGENET_MEAN", "IMAGENET_STD", "Residual", "TensorBatches", "Timer",
    "VOCSegDataset", "VOC_CLASSES", "VOC_COLORMAP", "abs", "accuracy", "arange", "argmax", "astype", "concat",
    "corr2d", "download_extract", "evaluate_accuracy_gpu", "exp", "float32", "int32", "int64", "load_data_fashion_mnist",
    "load_data_voc", "log", "matmul", "normal", "num_gpus", "ones", "rand", "randn", "read_voc_images",
    "reduce_mean", "reduce_sum", "reshape", "set_figsize", "show_images", "size", "stack", "tensor", "to_numpy",
    "train_batch_ch13", "train_ch13", "train_ch6", "transpose", "try_all_gpus", "try_gpu", "use_svg_display",
    "zeros",
]
