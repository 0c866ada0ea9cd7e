"""Image-classification datasets: Fashion-MNIST, MNIST and CIFAR-10, read from their original files.

Each dataset holds its whole image array in memory as uint8 (as torchvision does) and
hands it to the DataLoader through ``arrays()``, so a batch is one fancy-index of that
array instead of ``batch_size`` calls to ``__getitem__``.

Where the files are looked for: an explicit ``root`` is the only place searched; otherwise
``$MINICNN_DATA`` (itself or its ``fashion-mnist``/``mnist`` subfolder),
``~/.cache/minicnn/<name>`` and ``/usr/share/datasets/<name>`` (the Debian package
``dataset-fashion-mnist``). Missing files are downloaded (SHA-256 checked, written
atomically) when ``download=True``; otherwise ``DatasetNotFoundError`` says how to get them.
"""
import contextlib
import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy

from .. import backend
from .idx import DataFileError, read_bytes, read_idx

SYSTEM_DATA_DIR = Path("/usr/share/datasets")
CACHE_DIR = Path("~/.cache/minicnn")


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are in none of the searched folders; the message lists them and how to get the files."""


def _fetch(url):
    """The bytes at ``url``: the only line that touches the network (tests replace it)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def search_folders(name, root=None):
    """The folders searched, in order, for dataset folder ``name``; a given ``root`` is the only one."""
    if root is not None:
        return [Path(root).expanduser()]
    folders = []
    env = os.environ.get("MINICNN_DATA")
    if env:
        folders += [Path(env).expanduser() / name, Path(env).expanduser()]
    return folders + [CACHE_DIR.expanduser() / name, SYSTEM_DATA_DIR / name]


def _find(folders, filenames, subfolder):
    """The first folder (or its ``subfolder``) holding every file of ``filenames`` (each raw or .gz)."""
    for base in folders:
        for folder in (base, base / subfolder):
            paths = [_existing(folder, filename) for filename in filenames]
            if all(paths):
                return paths
    return None


def _existing(folder, filename):
    for candidate in (folder / (filename + ".gz"), folder / filename):
        if candidate.is_file():
            return candidate
    return None


def _not_found_message(title, folders, filenames, reason, howto):
    """The text of DatasetNotFoundError: what was looked for, where, and how to get it."""
    names = ", ".join(f"{name}[.gz]" for name in filenames)
    lines = [f"{title} files not found: looked for {names} in"]
    lines += [f"    {folder}" for folder in folders]
    if reason:
        lines.append(reason)
    lines.append("Get them in one of these ways:")
    lines += [f"  - {way}" for way in howto]
    return "\n".join(lines)


def _write_atomically(path, payload):
    """Write ``payload`` to ``path`` via a temporary file and a rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class ImageDataset:
    """Images (uint8, N×C×H×W) with integer labels; ``dataset[i]`` is a float image in [0, 1] (d2l §4.2)."""

    classes = ()

    def __init__(self, images, targets, transform=None):
        self.images = images
        self.targets = numpy.asarray(targets, dtype=numpy.int64)
        self.transform = transform

    def arrays(self):
        """(images N×C×H×W, labels int64) as NumPy arrays: what the DataLoader batch-indexes."""
        return self.images, self.targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        index = range(len(self))[index]  # negative indices count from the end; IndexError past it
        image = backend.asarray(self.images[index : index + 1])
        if image.dtype == numpy.uint8:
            image = image.astype(numpy.float32) / 255
        if self.transform is not None:
            image = self.transform(image)
        return image[0], int(self.targets[index])

    def __repr__(self):
        return f"{type(self).__name__}({len(self)} images of shape {tuple(self.images.shape[1:])})"


class ArrayDataset(ImageDataset):
    """A dataset made from arrays already in memory (like ``torch.utils.data.TensorDataset``)."""

    def __init__(self, images, labels, transform=None, classes=()):
        images = backend.to_numpy(images)
        labels = backend.to_numpy(labels)
        if images.ndim != 4 or len(images) != len(labels):
            raise ValueError(
                f"ArrayDataset: images must be N×C×H×W and labels N, got images {images.shape} "
                f"and labels {labels.shape}"
            )
        super().__init__(images, labels, transform)
        self.classes = tuple(classes)


class _IDXDataset(ImageDataset):
    """A dataset stored as four IDX files: train/t10k images and labels (LeCun et al. 1998)."""

    folder_name = ""
    title = ""
    mirror = ""
    sha256 = {}
    apt_package = None

    def __init__(self, root=None, train=True, transform=None, download=True):
        self.train = bool(train)
        split = "train" if self.train else "t10k"
        filenames = [f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"]
        folders = search_folders(self.folder_name, root)
        paths = _find(folders, filenames, Path(type(self).__name__) / "raw")
        if paths is None:
            paths = self._obtain(root, folders, filenames, download)
        images, labels = self._read(*paths)
        self.root = paths[0].parent
        super().__init__(images[:, None], labels, transform)
        self.data = images

    def _obtain(self, root, folders, filenames, download):
        """Download the missing files into ``root`` (or the cache folder), or explain how to get them."""
        target = Path(root).expanduser() if root is not None else CACHE_DIR.expanduser() / self.folder_name
        if not download:
            raise DatasetNotFoundError(self._not_found(folders, filenames, target, reason=None))
        for filename in filenames:
            if _existing(target, filename) is None:
                self._download(filename + ".gz", target, folders, filenames)
        return [_existing(target, filename) for filename in filenames]

    def _download(self, filename, target, folders, filenames):
        url = self.mirror + filename
        try:
            payload = _fetch(url)
        except OSError as exc:
            reason = f"Downloading {url} failed: {exc}"
            raise DatasetNotFoundError(self._not_found(folders, filenames, target, reason)) from None
        digest = hashlib.sha256(payload).hexdigest()
        if digest != self.sha256[filename]:
            raise DataFileError(
                f"{url}: the download is corrupt (SHA-256 {digest}, expected "
                f"{self.sha256[filename]}); nothing was saved in {target}. Try again later."
            )
        try:
            _write_atomically(target / filename, payload)
        except OSError as exc:
            reason = f"Saving {filename} into {target} failed: {exc}"
            raise DatasetNotFoundError(self._not_found(folders, filenames, target, reason)) from None

    def _not_found(self, folders, filenames, target, reason):
        howto = []
        if self.apt_package:
            howto.append(f"sudo apt-get install {self.apt_package}   (puts them in "
                         f"{SYSTEM_DATA_DIR / self.folder_name}, searched when no root is given)")
        howto.append(f"download the .gz files from {self.mirror} into {target}")
        if reason is None:  # download=False; after a failed download, trying it again is no advice
            howto.append("create the dataset with download=True to let minicnn fetch them")
        return _not_found_message(self.title, folders, filenames, reason, howto)

    def _read(self, images_path, labels_path):
        """Images N×H×W uint8 and labels N, checked against each other."""
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != numpy.uint8:
            raise DataFileError(f"{images_path}: expected uint8 images N×H×W, found {images.dtype} "
                                f"of shape {images.shape}")
        if labels.ndim != 1 or labels.dtype != numpy.uint8:
            raise DataFileError(f"{labels_path}: expected uint8 labels of shape (N,), found "
                                f"{labels.dtype} of shape {labels.shape}")
        if len(images) != len(labels):
            raise DataFileError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                                f"{len(labels)} labels: the two files do not belong together")
        if labels.size and labels.max() >= len(self.classes):
            raise DataFileError(f"{labels_path}: label {labels.max()} is out of range for "
                                f"{len(self.classes)} classes")
        return images, labels

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}, {len(self)} images of 28×28, root={str(self.root)!r})"


class FashionMNIST(_IDXDataset):
    """Fashion-MNIST: 70,000 28×28 grey images of clothing in 10 classes (Xiao et al. 2017; d2l §4.2)."""

    folder_name = "fashion-mnist"
    title = "Fashion-MNIST"
    mirror = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    apt_package = "dataset-fashion-mnist"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
    sha256 = {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    }


class MNIST(_IDXDataset):
    """MNIST: 70,000 28×28 grey images of handwritten digits (LeCun et al. 1998)."""

    folder_name = "mnist"
    title = "MNIST"
    mirror = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    classes = ("0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine")
    sha256 = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }


class CIFAR10(ImageDataset):
    """CIFAR-10, binary version: 60,000 32×32 colour images in 10 classes (Krizhevsky 2009; d2l §14.13)."""

    folder_name = "cifar-10"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    classes = ("airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck")
    record_bytes = 1 + 3 * 32 * 32  # one label byte, then the red, green and blue 32×32 planes

    def __init__(self, root=None, train=True, transform=None, download=False):
        self.train = bool(train)
        filenames = [f"data_batch_{i}.bin" for i in range(1, 6)] if self.train else ["test_batch.bin"]
        folders = search_folders(self.folder_name, root)
        paths = _find(folders, filenames, Path("cifar-10-batches-bin"))
        if paths is None:
            reason = "minicnn does not download CIFAR-10 itself (download=True)" if download else None
            howto = [f"download {self.url} and unpack it: "
                     f"`tar xzf cifar-10-binary.tar.gz -C {folders[0]}`"]
            raise DatasetNotFoundError(_not_found_message(
                "CIFAR-10 (binary version)", folders, filenames, reason, howto))
        parts = [self._read(path) for path in paths]
        images = numpy.concatenate([images for images, _ in parts])
        labels = numpy.concatenate([labels for _, labels in parts])
        self.root = paths[0].parent
        super().__init__(images, labels, transform)
        self.data = images.transpose(0, 2, 3, 1)  # N×H×W×C, torchvision's layout

    def _read(self, path):
        """Images N×3×32×32 and labels N from one batch file of 3073-byte records."""
        raw = numpy.frombuffer(read_bytes(path), dtype=numpy.uint8)
        if raw.size == 0 or raw.size % self.record_bytes:
            raise DataFileError(
                f"{path}: {raw.size} bytes is not a whole number of {self.record_bytes}-byte CIFAR-10 "
                "records (1 label byte + 3×32×32 pixels): the file is truncated, or not the binary version"
            )
        records = raw.reshape(-1, self.record_bytes)
        labels = records[:, 0]
        if labels.max() >= len(self.classes):
            raise DataFileError(
                f"{path}: record {int(labels.argmax())} has label {labels.max()}, but CIFAR-10 labels "
                "are 0..9 (a CIFAR-100 file has two label bytes per record)"
            )
        return records[:, 1:].reshape(-1, 3, 32, 32), labels

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"CIFAR10({split}, {len(self)} images of 32×32×3, root={str(self.root)!r})"
