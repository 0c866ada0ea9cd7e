"""Train ResNet-18 (d2l §8.6) at 96×96: batch 256, lr 0.05, 10 epochs (28×28 with ``--resize 0``)."""
from augment import augmentation
from common import parser, run

from minicnn import models

if __name__ == "__main__":
    cli = parser("resnet18", epochs=10, batch_size=256, lr=0.05, resize=96)
    cli.add_argument("--augment", action="store_true",
                     help="random flip, padded crop, brightness and contrast on the training images (d2l §14.1)")
    args = cli.parse_args()
    args.train_transform = augmentation(args.resize or 28) if args.augment else None
    run("resnet18", lambda side: models.resnet18(), args)
