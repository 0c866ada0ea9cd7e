"""Train AlexNet (d2l §8.1) on Fashion-MNIST resized to 224: batch 128, lr 0.01, 10 epochs.

On two CPU cores: ``--recipe cpu`` (65 pixels, the smallest AlexNet takes: its 11×11/4
convolution and three 3×3/2 max-pools; the dense head adapts to the size), 3 epochs of SGD
with momentum and He initialisation, which leaves the chance-level plateau that d2l's plain
SGD with Xavier initialisation sits on for its first epochs (docs/results.md).
"""
from augment import augmentation
from common import parser, run

from minicnn import models

CPU_RECIPE = dict(resize=65, epochs=3, batch_size=128, lr=0.01, momentum=0.9, weight_decay=5e-4,
                  warmup=0.5, schedule="cosine", init="kaiming")

if __name__ == "__main__":
    cli = parser("alexnet", epochs=10, batch_size=128, lr=0.01, resize=224, cpu=CPU_RECIPE)
    cli.add_argument("--augment", action="store_true",
                     help="random flip, padded crop, brightness and contrast on the training images (d2l §14.1)")
    args = cli.parse_args()
    args.train_transform = augmentation(args.resize or 28) if args.augment else None
    run("alexnet", lambda side: models.alexnet(image_size=side), args)
