"""Train VGG-11 with channels divided by 4 (d2l §8.2) at 224: batch 128, lr 0.05, 10 epochs.

``--ratio 8`` halves the channels again. On two CPU cores: ``--recipe cpu`` (32 pixels, the
smallest VGG-11 takes: five 2×2 max-pools; 4 epochs of SGD with momentum, He initialisation).
"""
from augment import multi_scale
from common import load_fashion_mnist, parser, positive_int, run

from minicnn import models


def dense_accuracy(model, args):
    """Test accuracy of the fully convolutional net averaged over positions, scales and flips (Simonyan & Zisserman 2015, §3.2)."""
    _, test_loader = load_fashion_mnist(args)
    net = models.fully_convolutional(model)
    correct = total = 0
    for images, labels in test_loader:
        posteriors = models.dense_evaluate(net, images, scales=args.dense_scales)
        correct, total = correct + int((posteriors.argmax(axis=1) == labels).sum()), total + len(labels)
    return correct / total

CPU_RECIPE = dict(resize=32, epochs=4, batch_size=128, lr=0.02, momentum=0.9, weight_decay=5e-4,
                  warmup=0.5, schedule="cosine", init="kaiming")

if __name__ == "__main__":
    cli = parser("vgg11", epochs=10, batch_size=128, lr=0.05, resize=224, cpu=CPU_RECIPE)
    cli.add_argument("--ratio", type=positive_int, default=4, help="divide every channel count by this")
    cli.add_argument("--multi-scale", action="store_true",
                     help="scale jittering: train on random crops of images rescaled to S in [side·256/224, 2×that]")
    cli.add_argument("--dense-eval", action="store_true",
                     help="also report the test accuracy of dense evaluation over --dense-scales and flips")
    cli.add_argument("--dense-scales", type=float, nargs="+", default=(1.0, 1.25, 1.5),
                     help="test image sizes as factors of the training size (at least 1)")
    args = cli.parse_args()
    args.train_transform = multi_scale(args.resize or 28) if args.multi_scale else None
    arch = tuple((convs, channels // args.ratio)
                 for convs, channels in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)))
    model, history = run("vgg11", lambda side: models.vgg(arch, image_size=side), args)
    if args.dense_eval and history is not None:
        print(f"vgg11: dense evaluation (scales {args.dense_scales}, with flips): "
              f"test acc {dense_accuracy(model, args):.3f}")
