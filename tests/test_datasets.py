"""Datasets: where the files are looked for, what is read, downloads (with a fake network) and the errors."""
import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from minicnn.data import (CIFAR10, MNIST, DataFileError, DatasetNotFoundError, FashionMNIST,
                          Normalize, datasets)

REAL_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(array):
    """A uint8 IDX file written by hand: magic 0x0000 08 ndim, big-endian sizes, pixels."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_split(folder, split, images, labels, compress=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in ((f"{split}-images-idx3-ubyte", images), (f"{split}-labels-idx1-ubyte", labels)):
        payload = idx_bytes(np.asarray(array, dtype=np.uint8))
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)


def tiny_split(count, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8), rng.integers(0, 10, size=count)


def no_network(url):
    raise AssertionError(f"the test tried to reach the network: {url}")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $MINICNN_DATA, an empty cache and system folder under tmp_path, and no network."""
    monkeypatch.delenv("MINICNN_DATA", raising=False)
    monkeypatch.setattr(datasets, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(datasets, "SYSTEM_DATA_DIR", tmp_path / "system")
    monkeypatch.setattr(datasets, "_fetch", no_network)
    return tmp_path


def test_reads_gzip_and_raw_files_from_an_explicit_root(isolated):
    train_images, train_labels = tiny_split(5, seed=0)
    test_images, test_labels = tiny_split(3, seed=1)
    root = isolated / "data"
    write_split(root, "train", train_images, train_labels, compress=True)
    write_split(root, "t10k", test_images, test_labels, compress=False)

    train = FashionMNIST(root=root, download=False)
    test = FashionMNIST(root=root, train=False, download=False)
    assert len(train) == 5 and len(test) == 3
    assert train.data.dtype == np.uint8 and train.data.shape == (5, 28, 28)
    assert train.targets.dtype == np.int64
    np.testing.assert_array_equal(train.data, train_images)
    np.testing.assert_array_equal(train.targets, train_labels)
    np.testing.assert_array_equal(test.data, test_images)
    images, labels = train.arrays()
    assert images.shape == (5, 1, 28, 28)
    np.testing.assert_array_equal(images[:, 0], train_images)
    assert train.classes[9] == "Ankle boot" and len(train.classes) == 10


def test_getitem_gives_a_float_image_in_unit_range_with_the_transform_applied(isolated):
    images, labels = tiny_split(4, seed=2)
    write_split(isolated / "data", "train", images, labels)
    plain = FashionMNIST(root=isolated / "data", download=False)
    image, label = plain[2]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    np.testing.assert_allclose(image[0], images[2] / 255, rtol=1e-6)
    assert label == labels[2] and isinstance(label, int)
    np.testing.assert_array_equal(plain[-1][0][0] * 255, images[3].astype(np.float32))
    with pytest.raises(IndexError):
        plain[4]
    normalized = FashionMNIST(root=isolated / "data", transform=Normalize(0.5, 0.25), download=False)
    np.testing.assert_allclose(normalized[2][0][0], (images[2] / 255 - 0.5) / 0.25, rtol=1e-5, atol=1e-6)


def test_torchvision_folder_layout_under_root_is_found(isolated):
    images, labels = tiny_split(2, seed=3)
    write_split(isolated / "data" / "FashionMNIST" / "raw", "train", images, labels, compress=False)
    np.testing.assert_array_equal(FashionMNIST(root=isolated / "data", download=False).targets, labels)


def test_search_order_env_then_cache_then_system(isolated, monkeypatch):
    for place, label in (("system/fashion-mnist", 1), ("cache/fashion-mnist", 2), ("env/fashion-mnist", 3)):
        write_split(isolated / place, "train", np.zeros((1, 28, 28)), [label])
    monkeypatch.setenv("MINICNN_DATA", str(isolated / "env"))
    assert FashionMNIST(download=False).targets[0] == 3
    monkeypatch.delenv("MINICNN_DATA")
    assert FashionMNIST(download=False).targets[0] == 2
    for name in os.listdir(isolated / "cache/fashion-mnist"):
        os.remove(isolated / "cache/fashion-mnist" / name)
    assert FashionMNIST(download=False).targets[0] == 1


def test_env_folder_may_hold_the_files_directly(isolated, monkeypatch):
    write_split(isolated / "flat", "t10k", np.zeros((2, 28, 28)), [4, 5])
    monkeypatch.setenv("MINICNN_DATA", str(isolated / "flat"))
    np.testing.assert_array_equal(FashionMNIST(train=False, download=False).targets, [4, 5])


def test_explicit_root_is_authoritative(isolated, monkeypatch):
    write_split(isolated / "env", "train", np.zeros((1, 28, 28)), [3])
    write_split(isolated / "cache" / "fashion-mnist", "train", np.zeros((1, 28, 28)), [3])
    monkeypatch.setenv("MINICNN_DATA", str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError) as error:
        FashionMNIST(root=isolated / "elsewhere", download=False)
    message = str(error.value)
    assert str(isolated / "elsewhere") in message
    assert str(isolated / "env") not in message and str(isolated / "cache") not in message


def test_missing_data_message_lists_every_folder_and_how_to_get_the_files(isolated, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(isolated / "env"))
    with pytest.raises(DatasetNotFoundError) as error:
        FashionMNIST(download=False)  # no_network fails the test if the network is touched
    message = str(error.value)
    for folder in (isolated / "env" / "fashion-mnist", isolated / "env",
                   isolated / "cache" / "fashion-mnist", isolated / "system" / "fashion-mnist"):
        assert f"    {folder}\n" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" in message
    assert "train-images-idx3-ubyte" in message and "Traceback" not in message
    assert "download=True" in message  # it was off: turning it on is one way
    assert error.value.__cause__ is None and error.value.__context__ is None  # no chained traceback


def test_mismatched_image_and_label_counts_name_both_files(isolated):
    root = isolated / "data"
    write_split(root, "train", np.zeros((5, 28, 28)), [1, 2, 3, 4])
    with pytest.raises(DataFileError) as error:
        FashionMNIST(root=root, download=False)
    message = str(error.value)
    assert "5 images" in message and "4 labels" in message
    assert "train-images-idx3-ubyte.gz" in message and "train-labels-idx1-ubyte.gz" in message


def test_labels_out_of_range_and_swapped_files_are_errors(isolated):
    root = isolated / "data"
    write_split(root, "train", np.zeros((2, 28, 28)), [1, 12])
    with pytest.raises(DataFileError, match="label 12 is out of range"):
        FashionMNIST(root=root, download=False)
    write_split(root, "train", np.zeros((2, 28, 28)), [1, 2])
    os.replace(root / "train-labels-idx1-ubyte.gz", root / "tmp.gz")
    os.replace(root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz")
    os.replace(root / "tmp.gz", root / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataFileError, match="expected uint8 images N×H×W"):
        FashionMNIST(root=root, download=False)


class FakeMirror:
    """Serves the gzip bytes of a tiny dataset in place of the real mirror, and records what was asked."""

    def __init__(self, monkeypatch, dataset_class, images, labels, split="train"):
        self.files = {
            f"{split}-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
            f"{split}-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels)),
        }
        self.requested = []
        sums = {name: hashlib.sha256(payload).hexdigest() for name, payload in self.files.items()}
        monkeypatch.setattr(dataset_class, "sha256", sums)
        monkeypatch.setattr(datasets, "_fetch", self)

    def __call__(self, url):
        self.requested.append(url)
        return self.files[url.rsplit("/", 1)[1]]


def test_download_into_root_checks_sums_and_leaves_no_temporary_files(isolated, monkeypatch):
    images, labels = tiny_split(3, seed=4)
    mirror = FakeMirror(monkeypatch, FashionMNIST, images, labels.astype(np.uint8))
    root = isolated / "download-here"
    dataset = FashionMNIST(root=root, download=True)
    np.testing.assert_array_equal(dataset.data, images)
    np.testing.assert_array_equal(dataset.targets, labels)
    assert sorted(mirror.requested) == [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-labels-idx1-ubyte.gz",
    ]
    assert sorted(os.listdir(root)) == ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    FashionMNIST(root=root, download=True)  # second time: found, nothing fetched again
    assert len(mirror.requested) == 2


def test_download_without_root_goes_to_the_cache_folder(isolated, monkeypatch):
    images, labels = tiny_split(2, seed=5)
    FakeMirror(monkeypatch, MNIST, images, labels.astype(np.uint8), split="t10k")
    dataset = MNIST(train=False)
    assert dataset.root == isolated / "cache" / "mnist"
    assert dataset.classes[3] == "3 - three"
    np.testing.assert_array_equal(dataset.targets, labels)


def test_checksum_mismatch_saves_nothing(isolated, monkeypatch):
    images, labels = tiny_split(2, seed=6)
    mirror = FakeMirror(monkeypatch, FashionMNIST, images, labels.astype(np.uint8))
    mirror.files["train-images-idx3-ubyte.gz"] = mirror.files["train-images-idx3-ubyte.gz"][:-10]
    root = isolated / "download-here"
    with pytest.raises(DataFileError, match="SHA-256") as error:
        FashionMNIST(root=root, download=True)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    assert not root.exists() or not [name for name in os.listdir(root) if "images" in name]


def test_network_failure_becomes_the_how_to_message(isolated, monkeypatch):
    def unreachable(url):
        raise OSError("Temporary failure in name resolution")
    monkeypatch.setattr(datasets, "_fetch", unreachable)
    with pytest.raises(DatasetNotFoundError, match="name resolution") as error:
        FashionMNIST(download=True)
    assert "apt-get install dataset-fashion-mnist" in str(error.value)
    assert "download=True" not in str(error.value)  # it was on, and just failed
    assert error.value.__suppress_context__  # the OSError's traceback is not chained on


def test_unwritable_download_folder_becomes_the_how_to_message(isolated, monkeypatch):
    images, labels = tiny_split(2, seed=7)
    FakeMirror(monkeypatch, FashionMNIST, images, labels.astype(np.uint8))

    def read_only(path, payload):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(datasets, "_write_atomically", read_only)
    with pytest.raises(DatasetNotFoundError, match="Permission denied") as error:
        FashionMNIST(download=True)
    assert "Saving train-" in str(error.value) and "apt-get install" in str(error.value)
    assert "download=True" not in str(error.value)


def test_interrupted_write_leaves_neither_file_nor_temporary(tmp_path, monkeypatch):
    def crash(source, destination):
        raise OSError("disk full")
    monkeypatch.setattr(datasets.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        datasets._write_atomically(tmp_path / "file.gz", b"payload")
    assert os.listdir(tmp_path) == []


def cifar_records(labels, seed):
    """Binary CIFAR-10 records: a label byte, then 3×32×32 pixel bytes; and the images written."""
    images = np.random.default_rng(seed).integers(0, 256, size=(len(labels), 3, 32, 32), dtype=np.uint8)
    rows = np.concatenate([np.asarray(labels, dtype=np.uint8)[:, None], images.reshape(len(labels), -1)], axis=1)
    return rows.tobytes(), images


def test_cifar10_reads_the_binary_batches(tmp_path):
    folder = tmp_path / "cifar" / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    expected_images, expected_labels = [], []
    for number in range(1, 6):
        labels = [number, 9 - number]
        payload, images = cifar_records(labels, seed=number)
        (folder / f"data_batch_{number}.bin").write_bytes(payload)
        expected_images.append(images)
        expected_labels += labels
    payload, test_images = cifar_records([3], seed=0)
    (folder / "test_batch.bin").write_bytes(payload)

    train = CIFAR10(tmp_path / "cifar")
    assert len(train) == 10 and train.targets.dtype == np.int64
    np.testing.assert_array_equal(train.targets, expected_labels)
    np.testing.assert_array_equal(train.arrays()[0], np.concatenate(expected_images))
    assert train.data.shape == (10, 32, 32, 3)  # torchvision's H×W×C view
    np.testing.assert_array_equal(train.data[4, 5, 6], expected_images[2][0, :, 5, 6])
    test = CIFAR10(tmp_path / "cifar", train=False, download=False)  # accepted, as FashionMNIST's and torchvision's
    assert test.classes[test.targets[0]] == "cat"
    np.testing.assert_array_equal(test.arrays()[0], test_images)


def test_cifar10_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path, train=False)
    with pytest.raises(DatasetNotFoundError, match="does not download CIFAR-10 itself"):
        CIFAR10(tmp_path, train=False, download=True)
    payload, _ = cifar_records([1, 2], seed=0)
    (tmp_path / "test_batch.bin").write_bytes(payload[:-1])
    with pytest.raises(DataFileError, match="3073-byte") as error:
        CIFAR10(tmp_path, train=False)
    assert str(tmp_path / "test_batch.bin") in str(error.value)
    payload, _ = cifar_records([1, 10], seed=0)
    (tmp_path / "test_batch.bin").write_bytes(payload)
    with pytest.raises(DataFileError, match="label 10"):
        CIFAR10(tmp_path, train=False)


@pytest.mark.skipif(not (REAL_FASHION_MNIST / "train-labels-idx1-ubyte.gz").exists(),
                    reason="real Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_real_fashion_mnist():
    train = FashionMNIST(root=REAL_FASHION_MNIST, download=False)
    test = FashionMNIST(root=REAL_FASHION_MNIST, train=False, download=False)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert train.classes[train.targets[0]] == "Ankle boot"
    np.testing.assert_array_equal(test.targets[:10], [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
    np.testing.assert_array_equal(np.bincount(train.targets), [6000] * 10)
