"""FCN: bilinear transposed convolution, fcn_resnet18's shapes and size, gradients end to end, backbone loading, metrics."""
import math

import numpy
import pytest

import minicnn
import minicnn.functional as F
from minicnn import Tensor, gradcheck, nn
from minicnn.data.segmentation import VOC_COLORMAP
from minicnn.functional.conv import conv_transpose2d
from minicnn.metrics import confusion_matrix, iou_per_class, label_to_color, mean_iou, pixel_accuracy
from minicnn.models.fcn import FCN, SkipFCN, fcn8s_resnet18, fcn16s_resnet18, fcn_resnet18, load_backbone
from minicnn.models import BasicBlock, resnet18, torchvision_resnet


def _bilinear_by_hand(x, scale):
    """Upsample N×C×H×W by ``scale`` as align_corners=False does: source = (dest + 0.5) / scale − 0.5, clamped."""
    def axis_weights(size):
        source = numpy.clip((numpy.arange(size * scale) + 0.5) / scale - 0.5, 0, size - 1)
        low = numpy.floor(source).astype(int)
        high = numpy.minimum(low + 1, size - 1)
        matrix = numpy.zeros((size * scale, size))
        numpy.add.at(matrix, (numpy.arange(size * scale), low), 1 - (source - low))
        numpy.add.at(matrix, (numpy.arange(size * scale), high), source - low)
        return matrix

    rows, columns = axis_weights(x.shape[2]), axis_weights(x.shape[3])
    return numpy.einsum("ih,nchw,jw->ncij", rows, x, columns)


def _bilinear_reference(x, scale):
    try:
        import torch
    except ImportError:
        return _bilinear_by_hand(x, scale)
    upsampled = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=scale, mode="bilinear",
                                                align_corners=False)
    return upsampled.numpy()


def test_hand_written_bilinear_matches_torch():
    torch = pytest.importorskip("torch")
    x = numpy.random.default_rng(0).standard_normal((1, 2, 3, 5))
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=4, mode="bilinear",
                                               align_corners=False).numpy()
    assert numpy.allclose(_bilinear_by_hand(x, 4), expected)


@pytest.mark.parametrize("stride, size", [(2, (5, 6)), (32, (3, 4))])
def test_bilinear_transposed_conv_is_bilinear_interpolation_inside(stride, size):
    channels = 3
    x = numpy.random.default_rng(stride).standard_normal((2, channels) + size)
    weight = nn.init.bilinear_(Tensor(numpy.zeros((channels, channels, 2 * stride, 2 * stride))))
    out = conv_transpose2d(Tensor(x), weight, stride=stride, padding=stride // 2).numpy()
    assert out.shape == (2, channels, size[0] * stride, size[1] * stride)
    reference = _bilinear_reference(x, stride)
    inside = (slice(None), slice(None), slice(stride // 2, size[0] * stride - stride // 2),
              slice(stride // 2, size[1] * stride - stride // 2))
    assert numpy.allclose(out[inside], reference[inside], atol=1e-12)


def test_fcn_resnet18_parameter_count_and_head():
    net = fcn_resnet18()
    assert sum(p.size for p in net.parameters()) == 12_993_642
    assert net.transpose_conv.weight.shape == (21, 21, 64, 64)
    assert net.final_conv.weight.shape == (21, 512, 1, 1)
    keys = list(net.state_dict())
    assert keys[0] == "conv1.weight" and keys[-2:] == ["transpose_conv.weight", "transpose_conv.bias"]
    # Only conv1 depends on in_channels and only the head on num_classes.
    small = fcn_resnet18(num_classes=5, in_channels=1)
    difference = 64 * 2 * 7 * 7 + 512 * 16 + 16 + (21 * 21 - 5 * 5) * 64 * 64 + 16
    assert sum(p.size for p in small.parameters()) == 12_993_642 - difference


def test_fcn_transpose_conv_starts_as_bilinear_upsampling():
    weight = fcn_resnet18(num_classes=2, in_channels=1, width=1 / 32).transpose_conv.weight.numpy()
    profile = 1 - numpy.abs(numpy.arange(64) - 31.5) / 32
    assert numpy.allclose(weight[0, 0], numpy.outer(profile, profile))
    assert numpy.allclose(weight[1, 1], weight[0, 0]) and not weight[0, 1].any() and not weight[1, 0].any()


def test_fcn_resnet18_shapes_at_320x480():
    net = fcn_resnet18(num_classes=21, in_channels=3)
    net.eval()
    x = Tensor(numpy.random.default_rng(0).standard_normal((1, 3, 320, 480)).astype(numpy.float32))
    with minicnn.no_grad():
        features = net.backbone()(x)
        scores = net.transpose_conv(net.final_conv(features))
    assert features.shape == (1, 512, 10, 15)
    assert scores.shape == (1, 21, 320, 480) and scores.dtype == numpy.float32


def test_fcn_forward_keeps_the_input_size_and_rejects_other_sizes():
    net = fcn_resnet18(num_classes=4, in_channels=3, width=1 / 8)
    net.eval()
    x = Tensor(numpy.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(numpy.float32))
    with minicnn.no_grad():
        assert net.backbone()(x).shape == (2, 64, 2, 3)  # 512 × width channels at 1/32 of 64×96
        assert net(x).shape == (2, 4, 64, 96)
    with pytest.raises(ValueError, match="multiple of the backbone's stride 32"):
        net(Tensor(numpy.zeros((1, 3, 48, 64), dtype=numpy.float32)))


def _tiny_fcn(in_channels=2, num_classes=3):
    backbone = nn.Sequential(dict(conv=nn.Conv2d(in_channels, 4, kernel_size=3, stride=2, padding=1),
                                  bn=nn.BatchNorm2d(4), relu=nn.ReLU()))
    return FCN(backbone, backbone_channels=4, num_classes=num_classes, stride=2).double()


def test_gradcheck_tiny_fcn_end_to_end():
    minicnn.random.manual_seed(0)
    net = _tiny_fcn()
    rng = numpy.random.default_rng(1)
    x = Tensor(rng.standard_normal((2, 2, 6, 6)), requires_grad=True)
    target = rng.integers(0, 3, size=(2, 6, 6))
    params = list(net.parameters())
    assert gradcheck(lambda x, *_: F.cross_entropy(net(x), target), [x] + params)


def test_gradcheck_fcn_resnet18_backbone_to_loss():
    minicnn.random.manual_seed(0)
    net = fcn_resnet18(num_classes=2, in_channels=1, width=1 / 32).double()
    rng = numpy.random.default_rng(2)
    x = Tensor(rng.standard_normal((2, 1, 64, 64)))
    target = rng.integers(0, 2, size=(2, 64, 64))
    checked = [net.conv1.weight, net.layer4[1].bn2.weight, net.final_conv.weight, net.transpose_conv.bias]
    assert gradcheck(lambda *_: F.cross_entropy(net(x), target), checked)


def _classifier(in_channels=3, width=1 / 16):
    return torchvision_resnet(BasicBlock, (2, 2, 2, 2), num_classes=7, in_channels=in_channels, width=width)


def _randomise(module, seed):
    rng = numpy.random.default_rng(seed)
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.dtype.kind == "f":
            tensor.data[...] = rng.uniform(0.5, 1.5, size=tensor.shape)


def test_load_backbone_from_a_minicnn_classifier():
    classifier, net = _classifier(), fcn_resnet18(num_classes=4, width=1 / 16)
    _randomise(classifier, 0)
    head_before = net.final_conv.weight.numpy()
    pairs = load_backbone(net, classifier)
    source = classifier.state_dict()
    for name, value in net.backbone().state_dict().items():
        if not name.endswith("num_batches_tracked"):
            assert numpy.array_equal(value, source[name]), name
    assert ("conv1.weight", "conv1.weight") in pairs and all(not s.startswith("fc") for _, s in pairs)
    assert numpy.array_equal(net.final_conv.weight.numpy(), head_before)


def test_load_backbone_by_position_from_numpy_and_torch_state_dicts():
    torch = pytest.importorskip("torch")
    classifier = _classifier()
    _randomise(classifier, 1)
    # Keys renamed and BatchNorm counters dropped: only the order carries the meaning.
    renamed = {f"w{i}": value.copy() for i, (name, value) in enumerate(classifier.state_dict().items())
               if not name.endswith("num_batches_tracked")}
    from_numpy = fcn_resnet18(num_classes=4, width=1 / 16)
    load_backbone(from_numpy, renamed)
    as_torch = {name: torch.from_numpy(numpy.array(value)) for name, value in classifier.state_dict().items()}
    from_torch = fcn_resnet18(num_classes=4, width=1 / 16)
    load_backbone(from_torch, as_torch)
    expected = classifier.state_dict()
    for net in (from_numpy, from_torch):
        assert numpy.array_equal(net.layer3[1].conv2.weight.numpy(), expected["layer3.1.conv2.weight"])
        assert numpy.array_equal(net.layer4[0].downsample[1].running_var.numpy(),
                                 expected["layer4.0.downsample.1.running_var"])


def test_load_backbone_explains_a_mismatch():
    net = fcn_resnet18(num_classes=4, width=1 / 16)
    with pytest.raises(ValueError, match=r"'conv1.weight' has shape \(4, 3, 7, 7\).*same in_channels"):
        load_backbone(net, _classifier(in_channels=1))
    with pytest.raises(ValueError, match="d2l's resnet18"):
        load_backbone(fcn_resnet18(), resnet18(in_channels=3))
    with pytest.raises(ValueError, match="the source has 2 weight arrays"):
        load_backbone(net, {"a": numpy.zeros(1), "b": numpy.zeros(1)})


# Truth t (rows) × prediction p (columns), counted by hand for the 2×3 maps below.
TRUTH = numpy.array([[0, 0, 1], [1, 2, 2]])
GUESS = numpy.array([[0, 1, 1], [1, 2, 0]])
HAND = numpy.array([[1, 1, 0],
                    [0, 2, 0],
                    [1, 0, 1]])


def test_confusion_matrix_and_scores_by_hand():
    confusion = confusion_matrix(GUESS, TRUTH, num_classes=3)
    assert numpy.array_equal(confusion, HAND)
    assert pixel_accuracy(confusion) == pytest.approx(4 / 6)
    # IoU: class 0: 1 / (2 + 2 - 1), class 1: 2 / (2 + 3 - 2), class 2: 1 / (2 + 1 - 1)
    assert numpy.allclose(iou_per_class(confusion), [1 / 3, 2 / 3, 1 / 2])
    assert mean_iou(confusion) == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_confusion_matrix_ignores_void_and_skips_absent_classes():
    truth = numpy.where(TRUTH == 2, 255, TRUTH)
    guess = numpy.where(TRUTH == 2, 7, GUESS)  # whatever is predicted on void pixels is not counted
    confusion = confusion_matrix(Tensor(guess), Tensor(truth), num_classes=4, ignore_index=255)
    assert numpy.array_equal(confusion, [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    assert math.isnan(iou_per_class(confusion)[3])
    assert mean_iou(confusion) == pytest.approx((1 / 2 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="prediction holds values in"):
        confusion_matrix(guess, truth, num_classes=4)


def test_label_to_color_paints_each_class():
    colours = label_to_color(TRUTH, VOC_COLORMAP)
    assert colours.shape == (2, 3, 3) and colours.dtype == numpy.uint8
    assert tuple(colours[1, 1]) == (0, 128, 0) and tuple(colours[0, 2]) == (128, 0, 0)
    with pytest.raises(ValueError, match="colormap has 2 colours"):
        label_to_color(TRUTH, VOC_COLORMAP[:2])


# ---- FCN-16s and FCN-8s: skips from strides 16 and 8 ------------------------------------------

def test_skip_fcn_parameter_counts_follow_from_fcn32s():
    # The final upsampler's kernel shrinks from 64×64 to 32×32 (16s) or 16×16 (8s); each skip adds a
    # 4×4 ×2 upsampler (21·21·16 + 21) and a 1×1 score conv on 256 or 128 channels.
    upscore, k = 21 * 21 * 16 + 21, 21 * 21
    assert sum(p.size for p in fcn16s_resnet18().parameters()) == (
        12_993_642 - k * 64 * 64 + k * 32 * 32 + upscore + 256 * 21 + 21) == 11_651_364
    assert sum(p.size for p in fcn8s_resnet18().parameters()) == (
        12_993_642 - k * 64 * 64 + k * 16 * 16 + 2 * upscore + 256 * 21 + 21 + 128 * 21 + 21) == 11_322_462


def test_fcn8s_layers_start_bilinear_and_with_silent_skips():
    net = fcn8s_resnet18(num_classes=3, in_channels=1, width=1 / 16)
    assert net.stride == 8 and net.skips == ["layer3", "layer2"]
    assert net.transpose_conv.weight.shape == (3, 3, 16, 16) and net.upscore_layer2.weight.shape == (3, 3, 4, 4)
    profile = 1 - numpy.abs(numpy.arange(4) - 1.5) / 2
    assert numpy.allclose(net.upscore_layer3.weight.numpy()[1, 1], numpy.outer(profile, profile))
    assert not net.score_layer2.weight.numpy().any() and not net.score_layer3.bias.numpy().any()
    assert net.score_layer2.weight.shape == (3, 8, 1, 1) and net.score_layer3.weight.shape == (3, 16, 1, 1)


@pytest.mark.parametrize("make, stride", [(fcn16s_resnet18, 16), (fcn8s_resnet18, 8)])
def test_skip_fcn_keeps_the_input_size_and_rejects_other_sizes(make, stride):
    net = make(num_classes=4, in_channels=3, width=1 / 16)
    net.eval()
    x = Tensor(numpy.random.default_rng(0).standard_normal((2, 3, 64, 96)).astype(numpy.float32))
    with minicnn.no_grad():
        assert net(x).shape == (2, 4, 64, 96) and net(x).dtype == numpy.float32
        assert net.backbone()(x).shape == (2, 32, 2, 3)
    with pytest.raises(ValueError, match=f"FCN-{stride}s: input 48×64 is not a multiple of the backbone's stride 32"):
        net(Tensor(numpy.zeros((1, 3, 48, 64), dtype=numpy.float32)))
    with pytest.raises(ValueError, match="not layers of the backbone"):
        SkipFCN(nn.Sequential(dict(conv=nn.Conv2d(1, 2, 1))), 2, 3, skips=[("layer3", 2)])


def _randomise_skips(net, seed):
    rng = numpy.random.default_rng(seed)
    for stage in net.skips:
        score = getattr(net, f"score_{stage}")
        score.weight.data[...] = rng.standard_normal(score.weight.shape)
        score.bias.data[...] = rng.standard_normal(score.bias.shape)


def test_fcn8s_forward_float64_equals_the_skip_sum_in_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    minicnn.random.manual_seed(0)
    net = fcn8s_resnet18(num_classes=3, in_channels=3, width=1 / 16).double()
    _randomise_skips(net, 1)
    net.eval()
    x = numpy.random.default_rng(2).standard_normal((2, 3, 64, 64))
    with minicnn.no_grad():
        out = net(Tensor(x)).numpy()
        features, h = {}, Tensor(x)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            h = getattr(net, name)(h)
            features[name] = torch.from_numpy(h.numpy())

    def w(layer):
        return torch.from_numpy(layer.weight.numpy()), torch.from_numpy(layer.bias.numpy())

    def up(layer, scores, factor):
        return tf.conv_transpose2d(scores, *w(layer), stride=factor, padding=factor // 2)

    scores = tf.conv2d(features["layer4"], *w(net.final_conv))                      # stride 32
    scores = up(net.upscore_layer3, scores, 2) + tf.conv2d(features["layer3"], *w(net.score_layer3))  # 16
    scores = up(net.upscore_layer2, scores, 2) + tf.conv2d(features["layer2"], *w(net.score_layer2))  # 8
    expected = up(net.transpose_conv, scores, 8)
    assert out.shape == (2, 3, 64, 64)
    numpy.testing.assert_allclose(out, expected.numpy(), rtol=1e-10, atol=1e-12)


def test_gradcheck_fcn8s_end_to_end_through_the_skips():
    minicnn.random.manual_seed(0)
    net = fcn8s_resnet18(num_classes=2, in_channels=1, width=1 / 32).double()
    _randomise_skips(net, 3)
    rng = numpy.random.default_rng(4)
    x = Tensor(rng.standard_normal((2, 1, 32, 32)))
    target = rng.integers(0, 2, size=(2, 32, 32))
    checked = [net.layer2[1].bn2.weight, net.score_layer2.weight, net.score_layer3.bias,
               net.upscore_layer2.weight, net.upscore_layer3.bias, net.transpose_conv.bias]
    assert gradcheck(lambda *_: F.cross_entropy(net(x), target), checked)


def test_load_backbone_into_fcn8s():
    classifier, net = _classifier(), fcn8s_resnet18(num_classes=4, width=1 / 16)
    _randomise(classifier, 5)
    load_backbone(net, classifier)
    assert numpy.array_equal(net.layer2[0].conv1.weight.numpy(), classifier.state_dict()["layer2.0.conv1.weight"])
    assert not net.score_layer2.weight.numpy().any()
