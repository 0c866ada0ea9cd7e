"""Train the small Inception-v3-style network (Szegedy et al. 2016) on 28×28 Fashion-MNIST: batch 128, lr 0.1.

Cross-entropy with label smoothing 0.1, Inception v3's regulariser (``--label-smoothing 0``
turns it off). ``--resize 96`` trains at d2l's GoogLeNet size; on a CPU try
``--epochs 1 --train-subset 10240 --test-subset 2000``.
"""
from functools import partial

from common import parser, run

import minicnn.functional as F
from minicnn import models

if __name__ == "__main__":
    cli = parser("inception_v3", epochs=10, batch_size=128, lr=0.1)
    cli.add_argument("--label-smoothing", type=float, default=0.1, help="ε of the smoothed one-hot targets")
    args = cli.parse_args()
    loss = partial(F.cross_entropy, label_smoothing=args.label_smoothing)
    run("inception_v3", lambda side: models.inception_v3(), args, loss_fn=loss)
