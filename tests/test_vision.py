"""minicnn.vision: torchvision's resnet18 layout and the single-image transforms d2l's FCN section uses."""
import numpy
import pytest

import minicnn
from minicnn import nn
from minicnn import vision as torchvision
from minicnn.data import transforms as batch_transforms

TORCHVISION_CHILDREN = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"]


def test_resnet18_has_torchvisions_children_names_and_size():
    net = torchvision.models.resnet18(pretrained=False)
    assert [name for name, _ in net.named_children()] == TORCHVISION_CHILDREN
    assert sum(p.numel() for p in net.parameters()) == 11_689_512  # torchvision's published count
    keys = list(net.state_dict())
    assert keys[:3] == ["conv1.weight", "bn1.weight", "bn1.bias"] and keys[-2:] == ["fc.weight", "fc.bias"]
    assert "layer2.0.downsample.0.weight" in keys and "layer1.0.downsample.0.weight" not in keys


def test_resnet18_runs_and_cuts_as_d2l_cuts_it():
    net = torchvision.models.resnet18(num_classes=5, in_channels=1)
    x = minicnn.rand(size=(2, 1, 64, 96))
    assert net(x).shape == (2, 5)
    body = nn.Sequential(*list(net.children())[:-2])
    assert body(x).shape == (2, 512, 2, 3)


def test_pretrained_weights_name_the_local_npz_route():
    with pytest.raises(RuntimeError, match=r"\.npz") as error:
        torchvision.models.resnet18(pretrained=True)
    assert "load_state_dict" in str(error.value)


def test_to_tensor_scales_uint8_and_moves_channels_first():
    image = numpy.arange(2 * 3 * 3, dtype=numpy.uint8).reshape(2, 3, 3) * 10
    tensor = torchvision.transforms.ToTensor()(image)
    assert tensor.shape == (3, 2, 3) and tensor.dtype == numpy.float32
    numpy.testing.assert_allclose(tensor.numpy(), image.transpose(2, 0, 1) / 255, rtol=1e-6)
    assert torchvision.transforms.ToTensor()(numpy.zeros((4, 5), numpy.uint8)).shape == (1, 4, 5)


def test_to_tensor_reads_pil_images():
    Image = pytest.importorskip("PIL.Image")
    picture = Image.fromarray(numpy.full((4, 6, 3), 255, numpy.uint8))
    tensor = torchvision.transforms.ToTensor()(picture)
    assert tensor.shape == (3, 4, 6) and float(tensor.min()) == 1.0


def test_resize_sets_the_shorter_side_and_agrees_with_the_batch_resize():
    image = minicnn.rand(3, 10, 20)
    out = torchvision.transforms.Resize(5)(image)
    assert out.shape == (3, 5, 10)
    expected = batch_transforms.Resize(5)(image.data[None])[0]
    numpy.testing.assert_array_equal(out.numpy(), minicnn.backend.to_numpy(expected))
    assert torchvision.transforms.Resize((4, 7))(image).shape == (3, 4, 7)


def test_compose_normalize_and_crop():
    image = numpy.full((4, 6, 3), 51, numpy.uint8)
    pipeline = torchvision.transforms.Compose([torchvision.transforms.ToTensor(),
                                               torchvision.transforms.Normalize((0.1, 0.2, 0.3), (0.5, 0.5, 0.5))])
    out = pipeline(image)
    numpy.testing.assert_allclose(out.numpy()[:, 0, 0], [(0.2 - 0.1) / 0.5, 0.0, (0.2 - 0.3) / 0.5], atol=1e-6)
    crop = torchvision.transforms.functional.crop(out, 1, 2, 2, 3)
    assert crop.shape == (3, 2, 3)
    numpy.testing.assert_array_equal(crop.numpy(), out.numpy()[:, 1:3, 2:5])
