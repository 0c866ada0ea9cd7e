"""Train GoogLeNet (d2l §8.4) at 96×96: batch 128, lr 0.1, 10 epochs.

``--aux-logits`` adds Inception v1's two auxiliary classifiers (loss weight 0.3);
``--batch-norm`` gives the Inception-v2 variant. The network also accepts 28×28 (``--resize 0``):
on two CPU cores ``--recipe cpu`` trains it there for 4 epochs (SGD with momentum, He initialisation).
"""
from common import parser, run

from minicnn import models

CPU_RECIPE = dict(resize=0, epochs=4, batch_size=128, lr=0.02, momentum=0.9, weight_decay=5e-4,
                  warmup=0.5, schedule="cosine", init="kaiming")

if __name__ == "__main__":
    cli = parser("googlenet", epochs=10, batch_size=128, lr=0.1, resize=96, cpu=CPU_RECIPE)
    cli.add_argument("--aux-logits", action="store_true", help="add the two auxiliary classifiers")
    cli.add_argument("--batch-norm", action="store_true", help="BatchNorm after every convolution (Inception v2)")
    args = cli.parse_args()
    loss = models.googlenet_loss if args.aux_logits else None
    run("googlenet", lambda side: models.googlenet(aux_logits=args.aux_logits, batch_norm=args.batch_norm),
        args, loss_fn=loss)
