"""Train NiN (d2l §8.3) on Fashion-MNIST resized to 224: batch 128, lr 0.1, 10 epochs.

On two CPU cores: ``--recipe cpu`` (67 pixels, the smallest NiN takes: its 11×11/4 convolution
and three 3×3/2 max-pools, so not the 28×28 originals; 10 epochs of SGD with momentum, a
1-epoch warm-up, He initialisation and biases that centre each convolution's output, without
which a few of the last block's ten channels start dead and some classes are never predicted).
"""
from common import parser, run

from minicnn import models

CPU_RECIPE = dict(resize=67, epochs=10, batch_size=128, lr=0.05, momentum=0.9, weight_decay=5e-4,
                  warmup=1, schedule="cosine", init="kaiming-centred")

if __name__ == "__main__":
    args = parser("nin", epochs=10, batch_size=128, lr=0.1, resize=224, cpu=CPU_RECIPE).parse_args()
    run("nin", lambda side: models.nin(), args)
