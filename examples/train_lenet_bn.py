"""Train LeNet with BatchNorm (d2l §8.5.4): batch 256, lr 1.0, 10 epochs, 28×28."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("lenet_bn", epochs=10, batch_size=256, lr=1.0).parse_args()
    run("lenet_bn", lambda side: models.lenet_bn(), args)
