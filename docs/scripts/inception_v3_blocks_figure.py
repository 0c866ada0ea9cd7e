"""Draw docs/images/inception_v3_blocks.png: the paths of Inception v3's three blocks, read from the code.

Each panel walks the branches of one minicnn block (``FactorizedInception``,
``AsymmetricInception``, ``GridReduction``) and draws one box per convolution or pooling
layer, bottom to top, with its kernel, stride and output channels; BatchNorm and ReLU,
which follow every convolution, are left out. Run from the repository root:
``python docs/scripts/inception_v3_blocks_figure.py [output folder]``.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib import pyplot  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402
from _figure import run, save  # noqa: E402  (docs/scripts/_figure.py)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from minicnn import models, nn  # noqa: E402

BLOCKS = (
    ("FactorizedInception (Fig. 5)\n5×5 as two 3×3", models.FactorizedInception(64, 32, (32, 48), (16, 32), 16)),
    ("AsymmetricInception (Fig. 6)\nn×n as 1×n then n×1, n = 7", models.AsymmetricInception(288, 64, (48, 64), (48, 64), 64)),
    ("GridReduction (Fig. 10)\nstride-2 convolutions beside a stride-2 pool", models.GridReduction(128, (64, 96), (32, 64))),
)
COLOURS = {"conv": "#9ecae1", "asym": "#fdd0a2", "pool": "#c7e9c0", "io": "#eeeeee"}


def _label(layer):
    """(text, colour) of one box, or None for BatchNorm and ReLU."""
    if isinstance(layer, nn.Conv2d):
        (kh, kw), (stride, _) = layer.kernel_size, layer.stride
        text = f"{kh}×{kw} conv{'' if stride == 1 else f' /{stride}'}\n→ {layer.out_channels}"
        return text, COLOURS["asym" if kh != kw else "conv"]
    if isinstance(layer, nn.MaxPool2d):
        kernel = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
        stride = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
        return f"{kernel}×{kernel} max-pool{'' if stride == 1 else f' /{stride}'}", COLOURS["pool"]
    return None


def _path_boxes(branch):
    layers = list(branch.modules()) if isinstance(branch, nn.Sequential) else [branch]
    return [label for label in map(_label, layers) if label is not None]


def _box(ax, x, y, text, colour, half_width=0.42):
    ax.add_patch(FancyBboxPatch((x - half_width, y - 0.3), 2 * half_width, 0.6, boxstyle="round,pad=0.02",
                                facecolor=colour, edgecolor="#555555"))
    ax.text(x, y, text, ha="center", va="center", fontsize=7)


def _arrow(ax, x, y_from, y_to):
    ax.annotate("", (x, y_to), (x, y_from), arrowprops=dict(arrowstyle="->", color="#555555"))


def draw(ax, title, block):
    """The input as a bar at the bottom, one column per path, the concatenation as a bar on top."""
    paths = [_path_boxes(branch) for branch in block]
    top = max(len(p) for p in paths) + 1
    centre, half_width = (len(paths) - 1) / 2, len(paths) / 2 - 0.08
    _box(ax, centre, 0, "input", COLOURS["io"], half_width)
    _box(ax, centre, top, f"concatenate along channels → {block.out_channels}", COLOURS["io"], half_width)
    for column, boxes in enumerate(paths):
        for row, (text, colour) in enumerate(boxes, start=1):
            _box(ax, column, row, text, colour)
            _arrow(ax, column, row - 0.7, row - 0.3)
        _arrow(ax, column, len(boxes) + 0.3, top - 0.3)
    ax.set_xlim(-0.6, len(paths) - 0.4)
    ax.set_ylim(-0.5, top + 0.5)
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)


def main(out_dir):
    figure, axes = pyplot.subplots(1, len(BLOCKS), figsize=(13, 6.2), gridspec_kw={"width_ratios": [4, 4, 3]})
    for ax, (title, block) in zip(axes, BLOCKS):
        draw(ax, title, block)
    figure.suptitle("Inception v3's blocks as minicnn builds them (BatchNorm and ReLU after every convolution "
                    "not drawn)", fontsize=10)
    figure.tight_layout()
    return save(figure, out_dir, "inception_v3_blocks.png")


if __name__ == "__main__":
    run(main)
