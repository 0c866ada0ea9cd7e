"""Draw docs/images/im2col.png: the worked 1×1×4×4 example of docs/im2col.md.

Panels: the input with its first window, the 2×2 kernel, the column matrix built by
minicnn's own im2col, the output of the GEMM, and the input gradient folded back by col2im.
Run from the repository root: ``python docs/scripts/im2col_figure.py [output folder]``.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import patches, pyplot  # noqa: E402
from _figure import run, save  # noqa: E402  (docs/scripts/_figure.py)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from minicnn.kernels import reference as K  # noqa: E402

HIGHLIGHT = "#f4a261"


def draw_grid(axes, values, title, box=None):
    """A matrix as a grid of numbered cells; ``box`` = (row, col, height, width) is outlined."""
    rows, cols = values.shape
    axes.imshow(np.zeros_like(values), cmap="Greys", vmin=0, vmax=1)
    for r in range(rows):
        for c in range(cols):
            axes.text(c, r, f"{values[r, c]:g}", ha="center", va="center", fontsize=10)
    for r in range(1, rows):
        axes.axhline(r - 0.5, color="#888888", linewidth=0.8)
    for c in range(1, cols):
        axes.axvline(c - 0.5, color="#888888", linewidth=0.8)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title, fontsize=10)
    if box is not None:
        r, c, h, w = box
        axes.add_patch(patches.Rectangle((c - 0.5, r - 0.5), w, h, fill=True, alpha=0.35,
                                         facecolor=HIGHLIGHT, edgecolor="#e76f51", linewidth=2))


def main(out_dir):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([1.0, 2.0, 3.0, 4.0]).reshape(1, 1, 2, 2)
    cols = K.im2col(x, (2, 2), (1, 1), (0, 0), (1, 1))
    y = (w.reshape(1, 4) @ cols).reshape(3, 3)
    grad_x = K.col2im(w.reshape(1, 4).T @ np.ones((1, 9)), x.shape, (2, 2), (1, 1), (0, 0), (1, 1))

    figure, axes = pyplot.subplots(1, 5, figsize=(15, 3.4),
                                   gridspec_kw={"width_ratios": [4, 2, 9, 3, 4]})
    draw_grid(axes[0], x[0, 0], "input x (4×4)", box=(0, 0, 2, 2))
    draw_grid(axes[1], w[0, 0], "kernel w (2×2)")
    draw_grid(axes[2], cols, "im2col(x): taps × windows (4×9)", box=(0, 0, 4, 1))
    draw_grid(axes[3], y, "w · cols → y (3×3)", box=(0, 0, 1, 1))
    draw_grid(axes[4], grad_x[0, 0], "col2im(wᵀ · 1): dL/dx", box=(1, 1, 2, 2))
    figure.suptitle("Convolution as one matrix product; its input gradient folds the columns back",
                    fontsize=11)
    figure.tight_layout()
    return save(figure, out_dir, "im2col.png")


if __name__ == "__main__":
    run(main)
