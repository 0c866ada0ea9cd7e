"""Draw docs/images/normalization_axes.png: which values share one mean and variance in each normalisation.

A batch of N = 4 images with C = 6 channels is drawn as a grid: one row per image, one
column per channel, each cell an H × W plane of 3 × 3 pixels. Cells of one colour are
standardised together (one μ, one σ²). BatchNorm: a column (one channel over the batch and
space); LayerNorm: a row (one image, every channel); InstanceNorm: one cell (one image,
one channel); GroupNorm with G = 2: half a row.
Run from the repository root: ``python docs/scripts/normalization_axes_figure.py [output folder]``.
"""
import colorsys

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import pyplot  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from _figure import run, save  # noqa: E402  (docs/scripts/_figure.py)

N, C, SIDE, GROUPS = 4, 6, 3, 2

# For each layer: a function of (sample n, channel c) giving the index of its statistics.
LAYERS = (
    ("BatchNorm2d", "per channel, over N, H, W", lambda n, c: c),
    ("LayerNorm", "per image, over C, H, W", lambda n, c: n),
    ("InstanceNorm2d", "per image and channel, over H, W\n= GroupNorm(C, C)", lambda n, c: n * C + c),
    (f"GroupNorm({GROUPS}, {C})", f"per image and group of {C // GROUPS} channels,\nover those channels and H, W",
     lambda n, c: n * GROUPS + c // (C // GROUPS)),
)


def draw(ax, title, subtitle, statistic):
    """One panel: the N × C grid of H × W planes, each plane coloured by the statistics it shares."""
    ids = sorted({statistic(n, c) for n in range(N) for c in range(C)})
    palette = [colorsys.hls_to_rgb((k * 0.382) % 1, 0.5 if k % 2 else 0.72, 0.7) for k in range(len(ids))]
    for n in range(N):
        for c in range(C):
            colour = palette[ids.index(statistic(n, c))]
            x0, y0 = c * (SIDE + 1), (N - 1 - n) * (SIDE + 1)
            for i in range(SIDE):
                for j in range(SIDE):
                    ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=colour, edgecolor="white", lw=0.6))
    width, height = C * (SIDE + 1) - 1, N * (SIDE + 1) - 1
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(-0.5, height + 0.5)
    ax.set_aspect("equal")
    ax.set_xticks([c * (SIDE + 1) + SIDE / 2 for c in range(C)], [f"c{c}" for c in range(C)], fontsize=7)
    ax.set_yticks([(N - 1 - n) * (SIDE + 1) + SIDE / 2 for n in range(N)], [f"n{n}" for n in range(N)], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(f"{title}\n{len(ids)} means: {subtitle}", fontsize=8.5)


def main(out_dir):
    figure, axes = pyplot.subplots(1, len(LAYERS), figsize=(13, 3.6))
    for ax, layer in zip(axes, LAYERS):
        draw(ax, *layer)
    figure.suptitle("Which values share one mean and variance: rows are images (N), columns channels (C), "
                    "each cell an H×W plane; one colour = one set of statistics", fontsize=9.5)
    figure.tight_layout()
    return save(figure, out_dir, "normalization_axes.png")


if __name__ == "__main__":
    run(main)
