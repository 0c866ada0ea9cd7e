"""``width`` is the one size knob of every model constructor (issue 18); ``vgg11(ratio=r)`` stays d2l's alias."""
import inspect

import pytest

from minicnn import models, nn
from model_checks import count_parameters

CONSTRUCTORS = ["lenet", "lenet_bn", "alexnet", "vgg", "vgg11", "vgg16", "nin", "googlenet", "resnet",
                "resnet18", "resnet34", "resnet50", "torchvision_resnet", "resnet18_backbone", "densenet",
                "densenet121", "se_resnet18", "fcn_resnet18"]


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_every_constructor_takes_width_defaulting_to_full_size(name):
    parameter = inspect.signature(getattr(models, name)).parameters.get("width")
    assert parameter is not None and parameter.default == 1


@pytest.mark.parametrize("build", [
    lambda width: models.lenet(width=width),
    lambda width: models.lenet_bn(width=width),
    lambda width: models.vgg16(width=width),
    lambda width: models.resnet18(width=width),
    lambda width: models.resnet34(width=width),
    lambda width: models.se_resnet18(width=width),
    lambda width: models.densenet(width=width),
    lambda width: models.densenet121(width=width),
])
def test_half_width_scales_every_convolution(build):
    full, half = build(1.0), build(0.5)
    full_convs = [m.out_channels for m in full.modules() if isinstance(m, nn.Conv2d)]
    half_convs = [m.out_channels for m in half.modules() if isinstance(m, nn.Conv2d)]
    assert len(full_convs) == len(half_convs) > 0
    assert [max(1, round(c / 2)) for c in full_convs] == half_convs
    assert count_parameters(half) < count_parameters(full)


def _block_channels(net):
    return [m.out_channels for m in net.modules() if isinstance(m, nn.Conv2d)]


def test_vgg11_ratio_is_an_alias_of_width():
    assert count_parameters(models.vgg11(width=1 / 4)) == count_parameters(models.vgg11(ratio=4)) == 43_093_322
    assert _block_channels(models.vgg11(width=1 / 4)) == _block_channels(models.vgg11(4))


def test_vgg11_ratio_keeps_d2ls_integer_division():
    # 128 / 3 = 42.7: ratio divides with // as d2l's "channels // ratio" does
    assert _block_channels(models.vgg11(ratio=3)) == [64 // 3, 128 // 3, 256 // 3, 256 // 3] + [512 // 3] * 4


def test_vgg11_refuses_both_ratio_and_width():
    with pytest.raises(ValueError, match="give only width"):
        models.vgg11(ratio=4, width=0.5)
