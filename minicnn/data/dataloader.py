"""DataLoader: shuffled mini-batches on the active backend, prepared by a background thread (d2l §3.3, §4.2).

Randomness is a function of three numbers. Epoch e's order is a permutation drawn from a
NumPy Generator seeded by (seed, e), and batch b's augmentations draw from one seeded by
(seed, e, b). So ``state_dict()`` is just {"seed", "epoch"}, and a checkpoint resumes the
exact same batches. A worker thread prepares the next batches (index the uint8 array,
upload, scale to [0, 1], transform) while the model computes on the current one.
"""
import contextlib
import queue
import threading

import numpy

from .. import backend
from .. import random as mrandom
from .transforms import Transform


class DataLoader:
    """Mini-batches (images float32 N×C×H×W in [0, 1], labels int64) on the active backend (d2l §3.3).

    Like torch.utils.data.DataLoader, with batch transforms and a resumable, seeded order.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, transform=None,
                 seed=None, prefetch=True):
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle, self.drop_last, self.prefetch = bool(shuffle), bool(drop_last), bool(prefetch)
        self.transform = transform
        self.seed = int(mrandom.generator(numpy).integers(2**63)) if seed is None else int(seed)
        self.epoch = 0  # the epoch the next iter() starts

    def __len__(self):
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return -(-len(self.dataset) // self.batch_size)

    def state_dict(self):
        """What a checkpoint needs to replay the coming epochs exactly: {"seed", "epoch"}."""
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state):
        """Continue from a ``state_dict()``: the next iter() starts epoch ``state["epoch"]``."""
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        batches = self._batches(epoch)
        return _prefetch(batches) if self.prefetch else batches

    def _rng(self, *key):
        """An independent NumPy Generator for ``key`` = (epoch,) or (epoch, batch) of this loader's seed."""
        return numpy.random.default_rng(numpy.random.SeedSequence(self.seed, spawn_key=key))

    def _batches(self, epoch):
        count = len(self.dataset)
        order = self._rng(epoch).permutation(count) if self.shuffle else numpy.arange(count)
        for number in range(len(self)):
            indices = order[number * self.batch_size : (number + 1) * self.batch_size]
            yield self._batch(indices, self._rng(epoch, number))

    def _batch(self, indices, rng):
        """One batch: gather, move to the backend, scale uint8 to [0, 1], transform."""
        images, labels, transforms = self._gather(indices)
        images = backend.asarray(images)
        if images.dtype == numpy.uint8:
            images = images.astype(numpy.float32) / 255
        for transform in transforms + [self.transform]:
            if transform is not None:
                images = transform(images, rng) if isinstance(transform, Transform) else transform(images)
        return images, backend.asarray(labels, dtype=numpy.int64)

    def _gather(self, indices):
        """(images, labels, transforms still to apply) for ``indices``: one fancy-index when the dataset allows it."""
        if hasattr(self.dataset, "arrays"):
            images, labels = self.dataset.arrays()
            return images[indices], labels[indices], [getattr(self.dataset, "transform", None)]
        items = [self.dataset[int(i)] for i in indices]  # __getitem__ already applied its transform
        images = [image for image, _ in items]
        xp = backend.get_array_module(*images)
        labels = numpy.stack([backend.to_numpy(label) for _, label in items])  # ints or label maps
        return xp.stack(images), labels, []


def _prefetch(batches, depth=2):
    """Yield from the generator ``batches`` while a daemon thread runs it up to ``depth`` batches ahead.

    An exception in the thread is re-raised here; when the consumer stops early (break,
    exception, garbage collection) the thread is told to stop and is joined.
    """
    slots = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(batches, slots, stop, _current_device()),
                              name="minicnn-dataloader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _produce(batches, slots, stop, device):
    """The worker thread: put each batch, then "done" (or the "error"), unless told to stop."""
    with device:
        try:
            for batch in batches:
                if not _offer(slots, ("batch", batch), stop):
                    return
            _offer(slots, ("done", None), stop)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            _offer(slots, ("error", exc), stop)


def _offer(slots, item, stop):
    """Put ``item`` into ``slots``, waiting while full; False if the consumer has stopped."""
    while not stop.is_set():
        try:
            slots.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _current_device():
    """The consumer's CUDA device, for the worker thread to use (a no-op context on NumPy)."""
    if backend.current() != "cupy":
        return contextlib.nullcontext()
    return backend.xp().cuda.Device()
