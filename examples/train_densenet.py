"""Train DenseNet (d2l §8.7) at 96×96: batch 256, lr 0.1, 10 epochs.

For a quicker run use e.g. ``--resize 32``: 29 pixels is the smallest DenseNet takes (its three
2×2 transitions need a 2×2 map each), so the 28×28 originals are one pixel short.
"""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("densenet", epochs=10, batch_size=256, lr=0.1, resize=96).parse_args()
    run("densenet", lambda side: models.densenet(), args)
