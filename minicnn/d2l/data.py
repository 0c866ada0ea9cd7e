"""The book's data loaders: Fashion-MNIST (d2l §3.5) and Pascal VOC 2012 segmentation (d2l §13.9), as Tensor batches.

VOC is read from a local copy only: minicnn does not download it, and says where to put it.
"""
import numpy

from .. import backend
from ..autograd import Tensor
from ..data import DataLoader, FashionMNIST
from ..data import transforms as batch_transforms
from ..data.datasets import DatasetNotFoundError, search_folders
from ..data.segmentation import VOC_CLASSES, VOC_COLORMAP, VOC_URL, VOCSegmentation, _find_voc_root  # noqa: F401


class TensorBatches:
    """A DataLoader whose batches come out as Tensors, as torch's DataLoader gives them (d2l calls ``X.to(device)``)."""

    def __init__(self, loader):
        self.loader = loader
        self.dataset = loader.dataset

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for X, y in self.loader:
            yield Tensor(X), Tensor(y)


def load_data_fashion_mnist(batch_size, resize=None, root=None):
    """Fashion-MNIST as (train, test) batches of float32 N×1×H×W images and int64 labels (d2l §3.5).

    ``resize`` scales the 28×28 images bilinearly (AlexNet wants 224); ``root`` is a folder
    holding the four IDX files, else minicnn's usual search applies (see ``data.FashionMNIST``).
    """
    transform = batch_transforms.Resize(resize) if resize else None
    train, test = FashionMNIST(root, train=True), FashionMNIST(root, train=False)
    return (TensorBatches(DataLoader(train, batch_size, shuffle=True, transform=transform)),
            TensorBatches(DataLoader(test, batch_size, shuffle=False, transform=transform)))


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VOCSegDataset(VOCSegmentation):
    """Pascal VOC crops normalised with ImageNet's statistics, as d2l's ``VOCSegDataset`` (d2l §13.9.2)."""

    def __init__(self, is_train, crop_size, voc_dir):
        self.normalize = batch_transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
        super().__init__(voc_dir, "train" if is_train else "val", crop_size, transform=self.normalize)

    def normalize_image(self, img):
        """A uint8 C×H×W image Tensor as the normalised float32 input the network saw in training."""
        images = backend.asarray(img.data[None], dtype="float32") / 255
        return Tensor(self.normalize(images)[0])


def download_extract(name="voc2012", folder="VOCdevkit/VOC2012"):
    """The local VOC 2012 folder; minicnn does not download it (d2l §13.9 downloads here)."""
    return str(_voc_dir(name))


def _voc_dir(name="voc2012"):
    """The first folder of minicnn's data search that holds VOC 2012, or an error that says where to put it."""
    folders = search_folders(name)
    for folder in folders:
        try:
            return _find_voc_root(folder, "train")
        except DatasetNotFoundError:
            continue
    looked = "\n".join(f"    {folder}" for folder in folders)
    raise DatasetNotFoundError(
        f"Pascal VOC 2012 is not on this machine (minicnn does not download it); looked in:\n{looked}\n"
        f"Fetch {VOC_URL} and unpack it into one of those folders "
        "(e.g. `mkdir -p ~/.cache/minicnn/voc2012 && tar xf VOCtrainval_11-May-2012.tar -C "
        "~/.cache/minicnn/voc2012`), or set MINICNN_DATA to the folder that holds voc2012/"
    )


def read_voc_images(voc_dir, is_train=True):
    """Every image and label picture of the VOC split as uint8 3×H×W Tensors (labels in colour) (d2l §13.9.1)."""
    from PIL import Image
    dataset = VOCSegmentation(voc_dir, "train" if is_train else "val", crop_size=(1, 1))
    features, labels = [], []
    for name in dataset.ids:
        for path, store in zip(dataset._paths(name), (features, labels)):
            with Image.open(path) as picture:
                rgb = numpy.asarray(picture.convert("RGB")).transpose(2, 0, 1)
            store.append(Tensor(backend.asarray(numpy.ascontiguousarray(rgb))))
    return features, labels


def load_data_voc(batch_size, crop_size):
    """Pascal VOC 2012 segmentation batches (train, val) of random crops (d2l §13.9.4), from a local copy."""
    voc_dir = _voc_dir()
    train = VOCSegDataset(True, crop_size, voc_dir)
    test = VOCSegDataset(False, crop_size, voc_dir)
    return (TensorBatches(DataLoader(train, batch_size, shuffle=True, drop_last=True)),
            TensorBatches(DataLoader(test, batch_size, drop_last=True)))
