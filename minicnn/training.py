"""The training loop: ``fit`` and ``evaluate``, as d2l's ``train_ch6`` (d2l §7.6) grown up.

``fit`` shows a progress bar, prints one d2l-style line per epoch, keeps a history,
plots it, and writes an atomic checkpoint after every epoch (and on Ctrl-C) from
which ``resume=True`` continues exactly. A loss that turns NaN/inf stops the run with
the last good checkpoint kept.
"""
import math
import os
import time

from . import backend, random as mrandom, serialization
from .autograd import Tensor, no_grad
from .functional import cross_entropy

HISTORY_KEYS = ("loss", "train_acc", "test_acc", "examples_per_sec", "seconds")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and what to try."""


class ResumeError(RuntimeError):
    """``resume=True`` cannot use its checkpoint: a damaged file, or one saved from another model or optimiser."""


def count_correct(logits, labels):
    """Number of rows whose largest logit sits at the label (d2l §3.6 accuracy)."""
    return int((logits.argmax(axis=1) == labels).sum())


def evaluate(model, loader):
    """Accuracy of ``model`` on ``loader`` in eval mode and without building a graph."""
    was_training = model.training
    model.eval()
    correct = seen = 0
    with no_grad():
        for images, labels in loader:
            correct += count_correct(model(Tensor(images)).data, labels)
            seen += len(labels)
    model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader gave no examples, so there is no accuracy to report")
    return correct / seen


class _Run:
    """Everything a checkpoint must hold to continue a run exactly where it stopped."""

    def __init__(self):
        self.epoch = 0            # the epoch in progress (0-based)
        self.step = 0             # batches already done in that epoch
        self.loss_sum = 0.0       # running sums of the epoch in progress
        self.correct = 0
        self.seen = 0
        self.seconds = 0.0
        self.loader_state = None  # the train loader's shuffling state at the start of the epoch
        self.history = {key: [] for key in HISTORY_KEYS}

    def start_epoch(self, loader):
        self.step, self.loss_sum, self.correct, self.seen, self.seconds = 0, 0.0, 0, 0, 0.0
        self.loader_state = loader.state_dict()

    def checkpoint(self, model, optimizer, scheduler):
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "loader": self.loader_state,
            "rng": mrandom.get_state(),
            "progress": {"epoch": self.epoch, "step": self.step, "loss_sum": self.loss_sum,
                         "correct": self.correct, "seen": self.seen, "seconds": self.seconds},
            "history": {key: [float(v) for v in values] for key, values in self.history.items()},
        }

    def restore(self, state, model, optimizer, scheduler):
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        mrandom.set_state(state["rng"])
        for key, value in state["progress"].items():
            setattr(self, key, value)
        self.loader_state = state["loader"]
        self.history = {key: [float(v) for v in state["history"].get(key, [])] for key in HISTORY_KEYS}


def _check_finite(loss_value, run, checkpoint_path):
    if math.isfinite(loss_value):
        return
    kept = f"; the last good checkpoint is kept at {checkpoint_path}" if checkpoint_path else ""
    raise TrainingDiverged(
        f"training stopped: the loss became {loss_value} at epoch {run.epoch + 1}, "
        f"step {run.step + 1}. The learning rate is probably too high (try --lr smaller "
        f"by 10x) or the inputs are not normalised{kept}"
    )


def _train_step(model, images, labels, optimizer, loss_fn):
    optimizer.zero_grad()
    outputs = model(Tensor(images))
    loss = loss_fn(outputs, labels)
    loss.backward()
    optimizer.step()
    logits = outputs[0] if isinstance(outputs, tuple) else outputs  # main head first (GoogLeNet aux)
    return loss.item(), count_correct(logits.data, labels)


def _train_epoch(model, loader, optimizer, loss_fn, run, checkpoint_path, bar, batch_scheduler=None):
    """One pass over ``loader``, skipping the ``run.step`` batches a resumed run already did.

    ``batch_scheduler`` (or None) takes one step after every batch.
    """
    model.train()
    skip = run.step
    tic = time.perf_counter()
    for index, (images, labels) in enumerate(loader):
        if index < skip:
            continue
        loss_value, correct = _train_step(model, images, labels, optimizer, loss_fn)
        _check_finite(loss_value, run, checkpoint_path)
        if batch_scheduler is not None:
            batch_scheduler.step()
        run.step += 1
        run.loss_sum += loss_value * len(labels)
        run.correct += correct
        run.seen += len(labels)
        bar.update(1)
        elapsed = run.seconds + time.perf_counter() - tic
        bar.set_postfix(loss=f"{run.loss_sum / run.seen:.3f}", acc=f"{run.correct / run.seen:.3f}",
                        img_s=f"{run.seen / max(elapsed, 1e-9):,.0f}")
    run.seconds += time.perf_counter() - tic


def _progress_bar(total, epoch, epochs, enabled):
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=False, disable=not enabled)


def _save(path, run, model, optimizer, scheduler):
    if path is not None:
        serialization.save(run.checkpoint(model, optimizer, scheduler), path)


def _finish_epoch(run, model, test_loader, log):
    test_acc = evaluate(model, test_loader) if test_loader is not None else float("nan")
    values = (run.loss_sum / run.seen, run.correct / run.seen, test_acc,
              run.seen / max(run.seconds, 1e-9), run.seconds)
    for key, value in zip(HISTORY_KEYS, values):
        run.history[key].append(value)
    log(f"epoch {run.epoch + 1}: loss {values[0]:.3f}, train acc {values[1]:.3f}, "
        f"test acc {test_acc:.3f}, {values[3]:,.0f} examples/sec on {backend.current()}")


def fit(model, train_loader, test_loader, optimizer, epochs, loss_fn=cross_entropy,
        scheduler=None, scheduler_step="epoch", out_dir=None, resume=False, progress=True, plot=True,
        log=print):
    """Train ``model`` for ``epochs`` epochs and return the history dict (d2l §7.6 ``train_ch6``).

    With ``out_dir`` a checkpoint (``checkpoint.npz``) is written atomically after every
    epoch and on Ctrl-C, and the history is plotted to ``history.png`` beside it;
    ``resume=True`` continues from that checkpoint exactly (same weights, same data order).
    ``scheduler.step()`` is called once per epoch, or after every batch with
    ``scheduler_step="batch"`` (a warm-up or a schedule over a run of a few epochs).
    """
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit: scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    batch_scheduler = scheduler if scheduler_step == "batch" else None
    if len(train_loader) == 0:
        raise ValueError("fit: the training loader gives no batches; is its dataset empty?")
    checkpoint_path = os.path.join(out_dir, "checkpoint.npz") if out_dir else None
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    run = _Run()
    if resume:
        _resume(run, checkpoint_path, model, optimizer, scheduler, log)
        train_loader.load_state_dict(run.loader_state)
    while run.epoch < epochs:
        if run.step == 0:
            run.start_epoch(train_loader)
        bar = _progress_bar(len(train_loader), run.epoch, epochs, progress)
        bar.update(run.step)
        try:
            _train_epoch(model, train_loader, optimizer, loss_fn, run, checkpoint_path, bar, batch_scheduler)
        except KeyboardInterrupt:
            _save(checkpoint_path, run, model, optimizer, scheduler)
            log(f"interrupted: checkpoint saved to {checkpoint_path}; rerun with --resume to continue")
            raise
        finally:
            bar.close()
        _finish_epoch(run, model, test_loader, log)
        if scheduler is not None and batch_scheduler is None:
            scheduler.step()
        run.epoch, run.step = run.epoch + 1, 0
        run.loader_state = train_loader.state_dict()
        _save(checkpoint_path, run, model, optimizer, scheduler)
        if plot and out_dir:
            plot_history(run.history, os.path.join(out_dir, "history.png"))
    return run.history


def _resume(run, checkpoint_path, model, optimizer, scheduler, log):
    if checkpoint_path is None or not os.path.exists(checkpoint_path):
        raise FileNotFoundError(
            f"resume: no checkpoint at {checkpoint_path}; start without --resume, or point "
            "--out at the folder of the run you want to continue"
        )
    try:
        run.restore(serialization.load(checkpoint_path), model, optimizer, scheduler)
    except (serialization.SerializationError, RuntimeError, KeyError, TypeError, ValueError) as error:
        detail = f"it has no {error}" if isinstance(error, KeyError) else str(error)
        raise ResumeError(
            f"resume: cannot continue from {checkpoint_path}: {detail}\n"
            "Was it saved by a different network or settings? Resume with the same script and "
            "flags, or start afresh with another --out"
        ) from error
    log(f"resumed from {checkpoint_path} at epoch {run.epoch + 1}, step {run.step}")


def plot_history(history, path):
    """Save loss / train acc / test acc per epoch as a PNG (matplotlib Agg; works in a plain script)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    from matplotlib import pyplot

    epochs = range(1, len(history["loss"]) + 1)
    figure, axes = pyplot.subplots(figsize=(5, 3.5))
    for key, style in (("loss", "-"), ("train_acc", "--"), ("test_acc", "-.")):
        axes.plot(epochs, history[key], style, label=key.replace("_", " "))
    axes.set_xlabel("epoch")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path
