"""The book's training loops and their helpers: ``train_ch6`` (d2l §6.6), ``train_ch13`` (§13.1),
``Accumulator``, ``Timer``, ``accuracy``, ``evaluate_accuracy_gpu`` and ``try_gpu`` (§5.6).

The same names and printed lines as the book's; the code is minicnn's own.
"""
import time

import numpy

from .. import backend, nn, optim
from ..autograd import no_grad
from ..device import device
from .plotting import Animator


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
