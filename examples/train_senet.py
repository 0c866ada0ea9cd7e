"""Train SE-ResNet-18 (Hu et al. 2018) with ResNet-18's d2l settings: 96×96, batch 256, lr 0.05."""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("se_resnet18", epochs=10, batch_size=256, lr=0.05, resize=96).parse_args()
    run("se_resnet18", lambda side: models.se_resnet18(), args)
