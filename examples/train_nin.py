"""Train NiN (d2l §8.3) on Fashion-MNIST resized to 224: batch 128, lr 0.1, 10 epochs."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("nin", epochs=10, batch_size=128, lr=0.1, resize=224).parse_args()
    run("nin", lambda: models.nin(), args)
