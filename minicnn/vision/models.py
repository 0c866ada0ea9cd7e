"""``torchvision.models.resnet18`` in torchvision's layout: the encoder that d2l's FCN (§13.11) cuts up.

torchvision's ResNet has the children conv1, bn1, relu, maxpool, layer1…layer4, avgpool, fc,
and flattens inside ``forward``; d2l's ``list(net.children())[:-2]`` relies on exactly that
order. The blocks are minicnn's torchvision-layout ones (``models/resnet_torchvision.py``),
so the state_dict keys equal torchvision's and its weights load by name.
"""
from .. import nn
from ..functional.shape import flatten
from ..models import BasicBlock, torchvision_resnet

_PRETRAINED_HELP = (
    "minicnn cannot download pretrained weights (no network access is assumed). Export them once "
    "where torchvision is installed:\n"
    "    import numpy, torchvision\n"
    "    net = torchvision.models.resnet18(weights='IMAGENET1K_V1')\n"
    "    numpy.savez('resnet18.npz', **{k: v.numpy() for k, v in net.state_dict().items()})\n"
    "then load the local .npz file into minicnn's copy:\n"
    "    net = minicnn.vision.models.resnet18(pretrained=False)\n"
    "    net.load_state_dict(minicnn.load('resnet18.npz'))"
)


class ResNet(nn.Module):
    """A ResNet with torchvision's children and names (He et al., 2016); ``forward`` flattens before ``fc``."""

    def __init__(self, block, layers, num_classes=1000, in_channels=3):
        super().__init__()
        for name, child in torchvision_resnet(block, layers, in_channels=in_channels, head=False).named_children():
            self.add_module(name, child)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        for name, child in self.named_children():
            x = self.fc(flatten(x, 1)) if name == "fc" else child(x)
        return x


def resnet18(pretrained=False, num_classes=1000, in_channels=3, weights=None):
    """ResNet-18 as ``torchvision.models.resnet18``: 11,689,512 parameters with 1000 classes.

    ``pretrained=True`` (or ``weights=``) raises an error that says how to bring torchvision's
    weights in through a local ``.npz`` file instead.
    """
    if pretrained or weights is not None:
        raise RuntimeError(f"resnet18(pretrained=True): {_PRETRAINED_HELP}")
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, in_channels)
