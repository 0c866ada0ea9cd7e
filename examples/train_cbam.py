"""Train CBAM-ResNet-18 (Woo et al. 2018) with ResNet-18's d2l settings: 96×96, batch 256, lr 0.05.

On a CPU try ``--resize 0 --epochs 1 --train-subset 10240 --test-subset 2000`` (28×28),
the setting of SE-ResNet-18's row in docs/results.md.
"""
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    args = parser("cbam_resnet18", epochs=10, batch_size=256, lr=0.05, resize=96).parse_args()
    run("cbam_resnet18", lambda side: models.cbam_resnet18(), args)
