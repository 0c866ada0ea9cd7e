"""Train SE-ResNet-18 (Hu et al. 2018) with ResNet-18's d2l settings: 96×96, batch 256, lr 0.05.

On two CPU cores: ``--recipe cpu`` (28×28, 4 epochs of SGD with momentum).
"""
from common import parser, run

from minicnn import models

CPU_RECIPE = dict(resize=0, epochs=4, batch_size=128, lr=0.1, momentum=0.9, weight_decay=5e-4,
                  warmup=0.2, schedule="cosine")

if __name__ == "__main__":
    args = parser("se_resnet18", epochs=10, batch_size=256, lr=0.05, resize=96, cpu=CPU_RECIPE).parse_args()
    run("se_resnet18", lambda side: models.se_resnet18(), args)
