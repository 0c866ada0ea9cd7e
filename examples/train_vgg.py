"""Train VGG-11 with channels divided by 4 (d2l §8.2) at 224: batch 128, lr 0.05, 10 epochs.

``--ratio 8`` halves the channels again; on a CPU use e.g. ``--resize 64 --train-subset 6000``
(32 pixels is the smallest VGG-11 takes: five 2×2 max-pools).
"""
from common import parser, positive_int, run

from minicnn import models

if __name__ == "__main__":
    cli = parser("vgg11", epochs=10, batch_size=128, lr=0.05, resize=224)
    cli.add_argument("--ratio", type=positive_int, default=4, help="divide every channel count by this")
    args = cli.parse_args()
    arch = tuple((convs, channels // args.ratio)
                 for convs, channels in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))
    run("vgg11", lambda side: models.vgg(arch, image_size=side), args)
