"""Train ResNet-18 (d2l §8.6) at 96×96: batch 256, lr 0.05, 10 epochs (28×28 with ``--resize 0``)."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("resnet18", epochs=10, batch_size=256, lr=0.05, resize=96).parse_args()
    run("resnet18", lambda side: models.resnet18(), args)
