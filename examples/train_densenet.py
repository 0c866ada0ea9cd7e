"""Train DenseNet (d2l §8.7) at 96×96: batch 256, lr 0.1, 10 epochs.

On two CPU cores: ``--recipe cpu`` (32 pixels, 3 epochs of SGD with momentum): 29 pixels is the
smallest DenseNet takes (its three 2×2 transitions need a 2×2 map each), so the 28×28 originals
are one pixel short.
"""
from common import parser, run

from minicnn import models

CPU_RECIPE = dict(resize=32, epochs=3, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                  warmup=0.2, schedule="cosine")

if __name__ == "__main__":
    args = parser("densenet", epochs=10, batch_size=256, lr=0.1, resize=96, cpu=CPU_RECIPE).parse_args()
    run("densenet", lambda side: models.densenet(), args)
