"""Train d2l's LeNet on Fashion-MNIST: sigmoid, average pooling, batch 256, lr 0.9, 10 epochs (d2l §7.6)."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("lenet", epochs=10, batch_size=256, lr=0.9).parse_args()
    run("lenet", lambda side: models.lenet(), args)
