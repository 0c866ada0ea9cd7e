"""Draw docs/images/fcn_upsampling.png: what FCN's bilinear transposed convolution does.

A SyntheticShapes image and its label map are shrunk 8× (average pooling, as a backbone
would), then brought back to full size two ways: by copying each coarse pixel (nearest) and
by minicnn's ConvTranspose2d(kernel 16, stride 8, padding 4) initialised with ``bilinear_``.
For the labels, the pooled one-hot maps play the class scores and each pixel takes the
argmax, as FCN's prediction does. Run from the repository root:
``python docs/scripts/fcn_upsampling_figure.py [output folder]``.
"""
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib import pyplot  # noqa: E402
from _figure import run, save  # noqa: E402  (docs/scripts/_figure.py)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import minicnn  # noqa: E402
import minicnn.functional as F  # noqa: E402
from minicnn import nn  # noqa: E402
from minicnn.data.segmentation import SyntheticShapes  # noqa: E402
from minicnn.metrics import label_to_color  # noqa: E402

FACTOR = 8


def bilinear_upsampler(channels):
    """FCN's upsampling layer: kernel 2s, stride s, padding s/2, bilinear weights, no learning needed."""
    layer = nn.ConvTranspose2d(channels, channels, kernel_size=2 * FACTOR, stride=FACTOR,
                               padding=FACTOR // 2, bias=False)
    nn.init.bilinear_(layer.weight)
    return layer


def shrink_and_grow(maps):
    """(coarse map copied back to full size, coarse map upsampled by the bilinear layer)."""
    with minicnn.no_grad():
        coarse = F.avg_pool2d(minicnn.Tensor(maps), FACTOR).data
        smooth = bilinear_upsampler(maps.shape[1])(minicnn.Tensor(coarse)).data
    nearest = coarse.repeat(FACTOR, axis=2).repeat(FACTOR, axis=3)
    return nearest, smooth


def main(out_dir):
    shapes = SyntheticShapes(train=False, num_images=1, size=96, max_shapes=3, seed=9)
    image = shapes.images[:1].astype(np.float32) / 255
    label = shapes.labels[0].astype(np.int64)
    classes = len(shapes.classes)
    one_hot = (np.arange(classes)[:, None, None] == label).astype(np.float32)[None]

    image_rows = (image,) + shrink_and_grow(image)
    label_rows = (one_hot,) + shrink_and_grow(one_hot)
    titles = ("full size (96×96)", "8× smaller, copied back (nearest)",
              "8× smaller, bilinear ConvTranspose2d")
    figure, axes = pyplot.subplots(2, 3, figsize=(9, 6.2))
    for column, (picture, scores, title) in enumerate(zip(image_rows, label_rows, titles)):
        axes[0, column].imshow(np.clip(picture[0].transpose(1, 2, 0), 0, 1))
        axes[1, column].imshow(label_to_color(scores[0].argmax(axis=0), shapes.colormap))
        axes[0, column].set_title(title, fontsize=9)
    for ax in axes.ravel():
        ax.set_axis_off()
    figure.suptitle("Top: the image. Bottom: per-pixel argmax of the class maps (FCN's prediction).",
                    fontsize=10)
    figure.tight_layout()
    return save(figure, out_dir, "fcn_upsampling.png")


if __name__ == "__main__":
    run(main)
