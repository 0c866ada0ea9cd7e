"""Train AlexNet (d2l §8.1) on Fashion-MNIST resized to 224: batch 128, lr 0.01, 10 epochs.

On a CPU use e.g. ``--resize 64 --train-subset 6000``: the dense head adapts to the size.
"""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("alexnet", epochs=10, batch_size=128, lr=0.01, resize=224).parse_args()
    run("alexnet", lambda: models.alexnet(image_size=args.resize or 28), args)
