"""Thumbnails of each recorded run's accuracy per epoch, for the table of docs/results.md.

Reads the ``result.json`` files the example scripts write, kept in docs/runs/ (one per run),
and draws ``curve_<name>.png`` for each: train accuracy (dashed) and test accuracy (solid).
Usage: python docs/scripts/learning_curves_figure.py [out_dir]
"""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402

from _figure import run, save  # noqa: E402

RUNS = Path(__file__).resolve().parents[1] / "runs"


def thumbnail(history):
    """A 2.4×1.5-inch plot of train and test accuracy against the epoch."""
    epochs = range(1, len(history["test_acc"]) + 1)
    figure, axes = pyplot.subplots(figsize=(2.4, 1.5))
    if history.get("train_acc"):
        axes.plot(epochs, history["train_acc"], "--", color="tab:gray", linewidth=1, label="train")
    axes.plot(epochs, history["test_acc"], "-o", color="tab:blue", linewidth=1.5, markersize=2.5, label="test")
    axes.set_ylim(min(0.5, *history["test_acc"]) - 0.02, 1.0)
    axes.set_xticks(list(epochs) if len(epochs) <= 10 else list(epochs)[::2])
    axes.tick_params(labelsize=6)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=6, loc="lower right")
    figure.tight_layout(pad=0.2)
    return figure


def main(out_dir):
    paths = []
    for result in sorted(RUNS.glob("*.json")):
        history = json.loads(result.read_text())["history"]
        paths.append(save(thumbnail(history), out_dir, f"curve_{result.stem}.png"))
    return "\n".join(str(path) for path in paths)


if __name__ == "__main__":
    run(main)
