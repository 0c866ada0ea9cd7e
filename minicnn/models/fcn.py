"""FCN (Long, Shelhamer & Darrell 2015; d2l §14.11): a classifier's convolutions turned into a per-pixel classifier.

The network is the CNN's feature extractor (here ResNet-18 without its pooling and
classifier), a 1×1 convolution that turns each feature-map position into ``num_classes``
scores, and a transposed convolution that upsamples the scores back to the input size.
With kernel 2s, stride s and padding s/2 the transposed convolution maps an H/s × W/s
map to exactly H × W, and initialised with ``nn.init.bilinear_`` it starts out as
bilinear interpolation, so training begins from a sensible upsampler.
"""
from .. import nn
from ..autograd import Tensor
from ..backend import to_numpy
from ._width import scaled
from .resnet_torchvision import resnet18_backbone

HEAD = ("final_conv", "transpose_conv")
_COUNTER = "num_batches_tracked"


class FCN(nn.Sequential):
    """A backbone's layers, then ``final_conv`` (1×1) and ``transpose_conv`` (×stride upsampling) (d2l §14.11.1).

    Holds the backbone's children under their own names, so the state_dict keys of a
    torchvision-layout ResNet backbone carry over unchanged.
    """

    def __init__(self, backbone, backbone_channels, num_classes, stride):
        if stride < 2 or stride % 2:
            raise ValueError(f"FCN: the backbone's stride must be an even number ≥ 2 (kernel 2s, padding s/2), got {stride}")
        super().__init__(dict(backbone.named_children()))
        self.stride = stride
        self.add_module("final_conv", nn.Conv2d(backbone_channels, num_classes, kernel_size=1))
        self.add_module("transpose_conv", nn.ConvTranspose2d(
            num_classes, num_classes, kernel_size=2 * stride, padding=stride // 2, stride=stride))
        nn.init.bilinear_(self.transpose_conv.weight)

    def __getitem__(self, index):
        """``fcn[i]`` is one layer; a slice is a plain Sequential of those layers (e.g. ``fcn[:-2]``, the backbone)."""
        if isinstance(index, slice):
            return nn.Sequential(dict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def backbone(self):
        """The feature extractor alone (every layer before ``final_conv``), sharing this model's weights."""
        return self[:-len(HEAD)]

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"FCN expects images (N, C, H, W), got shape {tuple(x.shape)}; for one image use x[None]")
        height, width = x.shape[2:]
        if height % self.stride or width % self.stride:
            raise ValueError(
                f"FCN: input {height}×{width} is not a multiple of the backbone's stride {self.stride}, "
                f"so the output would not be {height}×{width}; crop or resize to a multiple of "
                f"{self.stride} (d2l uses 320×480)"
            )
        return super().forward(x)


def fcn_resnet18(num_classes=21, in_channels=3, width=1.0):
    """FCN-32s on a torchvision-layout ResNet-18 (d2l §14.11); 12,993,642 parameters for 3 channels and 21 classes.

    A 320×480 input gives backbone features [512, 10, 15] and scores [num_classes, 320, 480].
    ``width`` scales every backbone channel count (CPU-sized or test-sized copies).
    """
    backbone = resnet18_backbone(in_channels=in_channels, width=width)
    return FCN(backbone, scaled(512, width), num_classes, stride=32)


def _upsampling(channels, factor):
    """ConvTranspose2d(kernel 2f, stride f, padding f/2): an H×W map to exactly fH×fW, started as bilinear interpolation."""
    layer = nn.ConvTranspose2d(channels, channels, kernel_size=2 * factor, stride=factor, padding=factor // 2)
    nn.init.bilinear_(layer.weight)
    return layer


class SkipFCN(nn.Module):
    """FCN-16s / FCN-8s: coarse scores refined by scores from finer backbone stages (Long et al. 2015, §4.2; d2l §14.11).

    ``final_conv`` scores the stride-32 features; each skip ``(stage, channels)``, coarse to fine, adds a
    1×1 ``score_<stage>`` on that finer stage's features to the running scores upsampled ×2
    by ``upscore_<stage>`` (bilinear-initialised), and ``transpose_conv`` upsamples the sum
    to the input size. As in the paper the skip scores start at zero, so the untrained net
    predicts what FCN-32s would, and training learns how much of the finer detail to add.
    The backbone's children keep their own names, so ``load_backbone`` works as for ``FCN``.
    """

    def __init__(self, backbone, backbone_channels, num_classes, skips):
        super().__init__()
        for name, layer in backbone.named_children():
            self.add_module(name, layer)
        self._backbone_names = [name for name, _ in backbone.named_children()]
        self.skips = [stage for stage, _ in skips]
        missing = [stage for stage in self.skips if stage not in self._backbone_names]
        if missing:
            raise ValueError(f"SkipFCN: skip stages {missing} are not layers of the backbone {self._backbone_names}")
        self.stride = 32 // 2 ** len(skips)
        self.add_module("final_conv", nn.Conv2d(backbone_channels, num_classes, kernel_size=1))
        for stage, channels in skips:
            self.add_module(f"upscore_{stage}", _upsampling(num_classes, 2))
            score = nn.Conv2d(channels, num_classes, kernel_size=1)
            nn.init.zeros_(score.weight)
            nn.init.zeros_(score.bias)
            self.add_module(f"score_{stage}", score)
        self.add_module("transpose_conv", _upsampling(num_classes, self.stride))

    def backbone(self):
        """The feature extractor alone (conv1 … layer4), sharing this model's weights."""
        return nn.Sequential({name: getattr(self, name) for name in self._backbone_names})

    def forward(self, x):
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects images (N, C, H, W), got shape {tuple(x.shape)}; "
                             "for one image use x[None]")
        height, width = x.shape[2:]
        if height % 32 or width % 32:
            raise ValueError(
                f"FCN-{self.stride}s: input {height}×{width} is not a multiple of the backbone's stride 32, so "
                f"the skip maps would not line up; crop or resize to a multiple of 32 (d2l uses 320×480)"
            )
        features = {}
        for name in self._backbone_names:
            x = getattr(self, name)(x)
            features[name] = x
        scores = self.final_conv(x)
        for stage in self.skips:  # coarse to fine: stride 16, then stride 8
            scores = getattr(self, f"upscore_{stage}")(scores) + getattr(self, f"score_{stage}")(features[stage])
        return self.transpose_conv(scores)


def fcn16s_resnet18(num_classes=21, in_channels=3, width=1.0):
    """FCN-16s on a torchvision-layout ResNet-18: stride-32 scores ×2, plus scores of layer3 (stride 16), then ×16 (Long et al. 2015).

    11,651,364 parameters for 3 channels and 21 classes, fewer than FCN-32s's 12,993,642:
    the final upsampler's 64×64 kernel shrinks to 32×32 (−1,354,752), the skip adds 5,418.
    """
    return SkipFCN(resnet18_backbone(in_channels=in_channels, width=width), scaled(512, width), num_classes,
                   skips=[("layer3", scaled(256, width))])


def fcn8s_resnet18(num_classes=21, in_channels=3, width=1.0):
    """FCN-8s on a torchvision-layout ResNet-18: skips from layer3 (stride 16) and layer2 (stride 8), then ×8 (Long et al. 2015).

    11,322,462 parameters for 3 channels and 21 classes (the final upsampler's kernel is 16×16).
    """
    return SkipFCN(resnet18_backbone(in_channels=in_channels, width=width), scaled(512, width), num_classes,
                   skips=[("layer3", scaled(256, width)), ("layer2", scaled(128, width))])


def _numpy_value(value):
    """A NumPy array from a NumPy/CuPy array, a minicnn Tensor or a PyTorch tensor."""
    if isinstance(value, Tensor):
        return to_numpy(value.data)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    return to_numpy(value)


def _weights(state):
    """(name, array) of a state dict in order, without BatchNorm's batch counters (not weights)."""
    return [(name, value) for name, value in state.items() if not name.endswith(_COUNTER)]


def load_backbone(model, source):
    """Copy a trained classifier's weights into ``model``'s backbone by position (d2l §14.11.1: a pretrained encoder).

    ``source`` is a classification ResNet-18 in torchvision's layout (a minicnn Module,
    e.g. ``torchvision_resnet(BasicBlock, (2, 2, 2, 2), ...)``) or its state dict
    (NumPy arrays or PyTorch tensors, e.g. torchvision's ``resnet18().state_dict()``).
    The i-th weight of the source goes into the i-th weight of the backbone; the
    source's extra trailing entries (its ``fc``) are ignored and BatchNorm's
    ``num_batches_tracked`` counters are skipped on both sides. Returns the
    (backbone name, source name) pairs copied.
    """
    state = source.state_dict() if isinstance(source, nn.Module) else dict(source)
    targets, sources = _weights(model.backbone().state_dict()), _weights(state)
    if len(sources) < len(targets):
        raise ValueError(
            f"load_backbone: the source has {len(sources)} weight arrays but the backbone needs "
            f"{len(targets)}: is it a ResNet-18 (torchvision layout)?"
        )
    copies = {}
    for position, ((name, target), (source_name, value)) in enumerate(zip(targets, sources)):
        value = _numpy_value(value)
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(
                f"load_backbone: source entry {position} {source_name!r} has shape {tuple(value.shape)} but "
                f"the backbone's {name!r} has shape {tuple(target.shape)}: the source must be a "
                "torchvision-layout ResNet-18 (bias-free convolutions with BatchNorm) with the same "
                "in_channels and width (d2l's resnet18() keeps conv biases and does not fit)"
            )
        copies[name] = value
    model.load_state_dict(copies, strict=False)
    return [(name, source_name) for (name, _), (source_name, _) in zip(targets, sources)]
