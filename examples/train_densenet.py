"""Train DenseNet (d2l §8.7) at 96×96: batch 256, lr 0.1, 10 epochs (28×28 with ``--resize 0``)."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("densenet", epochs=10, batch_size=256, lr=0.1, resize=96).parse_args()
    run("densenet", lambda: models.densenet(), args)
