"""DataLoader: every sample once per epoch, seeded and resumable order, drop_last, the prefetch thread."""
import threading

import numpy as np
import pytest
from conftest import AVAILABLE_BACKENDS

from minicnn import backend
from minicnn import random as mrandom
from minicnn.data import (ArrayDataset, Compose, DataLoader, Normalize, RandomCrop,
                          RandomHorizontalFlip)


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.skipif(
    "cupy" not in AVAILABLE_BACKENDS, reason="CuPy with a CUDA device is not available"))])
def on_backend(request):
    previous = backend.current()
    backend.use(request.param)
    yield request.param
    backend.use(previous)


def numbered(count, size=4):
    """Image n is filled with the value n (mod 256) and labelled n, so a batch shows which samples it holds."""
    values = (np.arange(count) % 256).astype(np.uint8)
    images = np.broadcast_to(values[:, None, None, None], (count, 1, size, size)).copy()
    return ArrayDataset(images, np.arange(count))


class ItemsOnly:
    """A dataset with only __len__ and __getitem__ (the per-item path); item ``fail_at`` raises."""

    def __init__(self, count, fail_at=None):
        self.count, self.fail_at = count, fail_at

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if index == self.fail_at:
            raise ValueError(f"sample {index} is damaged")
        return np.full((1, 2, 2), index, dtype=np.float32), index


def labels_of(loader):
    return [backend.to_numpy(labels) for _, labels in loader]


def loader_threads():
    return [thread for thread in threading.enumerate() if thread.name == "minicnn-dataloader"]


@pytest.mark.parametrize("prefetch", [True, False])
@pytest.mark.parametrize("batch_size", [1, 7, 50, 64])
def test_every_sample_exactly_once_per_epoch(on_backend, batch_size, prefetch):
    loader = DataLoader(numbered(50), batch_size=batch_size, shuffle=True, seed=1, prefetch=prefetch)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-50 // batch_size)
    for images, labels in batches:
        assert backend.backend_of(images) == on_backend == backend.backend_of(labels)
        assert images.dtype == np.float32 and labels.dtype == np.int64
        assert images.shape[1:] == (1, 4, 4) and len(images) == len(labels)
        np.testing.assert_allclose(backend.to_numpy(images)[:, 0, 0, 0], backend.to_numpy(labels) / 255, rtol=1e-6)
    seen = np.concatenate([backend.to_numpy(labels) for _, labels in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(50))
    assert batch_size >= 50 or not np.array_equal(seen, np.arange(50))  # shuffled


def test_drop_last_drops_only_the_short_batch():
    loader = DataLoader(numbered(50), batch_size=16, shuffle=True, drop_last=True, seed=0)
    sizes = [len(labels) for labels in labels_of(loader)]
    assert sizes == [16, 16, 16] and len(loader) == 3
    assert len(DataLoader(numbered(10), batch_size=16, drop_last=True)) == 0


def test_without_shuffle_the_order_is_the_dataset_order():
    loader = DataLoader(numbered(10), batch_size=4)
    for _ in range(2):
        np.testing.assert_array_equal(np.concatenate(labels_of(loader)), np.arange(10))


def test_same_seed_same_order_new_epoch_new_order():
    first = DataLoader(numbered(40), batch_size=8, shuffle=True, seed=7)
    second = DataLoader(numbered(40), batch_size=8, shuffle=True, seed=7)
    other = DataLoader(numbered(40), batch_size=8, shuffle=True, seed=8)
    epoch0, epoch0_again, epoch0_other = (np.concatenate(labels_of(loader)) for loader in (first, second, other))
    np.testing.assert_array_equal(epoch0, epoch0_again)
    assert not np.array_equal(epoch0, epoch0_other)
    assert not np.array_equal(epoch0, np.concatenate(labels_of(first)))


def test_seed_none_follows_minicnn_manual_seed():
    mrandom.manual_seed(11)
    first = np.concatenate(labels_of(DataLoader(numbered(30), batch_size=30, shuffle=True)))
    mrandom.manual_seed(11)
    again = np.concatenate(labels_of(DataLoader(numbered(30), batch_size=30, shuffle=True)))
    np.testing.assert_array_equal(first, again)


def test_state_dict_resumes_the_exact_batches_and_augmentations():
    images = np.random.default_rng(0).integers(0, 256, (30, 1, 4, 4), dtype=np.uint8)
    dataset = ArrayDataset(images, np.arange(30))
    augment = Compose([RandomHorizontalFlip(), RandomCrop(4, padding=2)])
    straight = DataLoader(dataset, batch_size=8, shuffle=True, seed=5, transform=augment)
    list(straight)
    state = straight.state_dict()
    assert state == {"seed": 5, "epoch": 1}
    expected = [(backend.to_numpy(x), backend.to_numpy(y)) for x, y in straight]

    resumed = DataLoader(dataset, batch_size=8, shuffle=True, transform=augment)
    resumed.load_state_dict({"seed": np.int64(5), "epoch": np.int64(1)})  # as read back from a checkpoint
    for (images, labels), (want_images, want_labels) in zip(resumed, expected, strict=True):
        np.testing.assert_array_equal(backend.to_numpy(labels), want_labels)
        np.testing.assert_array_equal(backend.to_numpy(images), want_images)
    assert resumed.state_dict() == {"seed": 5, "epoch": 2}


def test_prefetch_does_not_change_the_batches():
    augment = RandomCrop(4, padding=1)
    with_thread = DataLoader(numbered(20), batch_size=6, shuffle=True, seed=2, transform=augment)
    without = DataLoader(numbered(20), batch_size=6, shuffle=True, seed=2, transform=augment, prefetch=False)
    for (a, la), (b, lb) in zip(with_thread, without, strict=True):
        np.testing.assert_array_equal(la, lb)
        np.testing.assert_array_equal(a, b)


def test_dataset_transform_runs_before_the_loader_transform():
    dataset = numbered(5)
    dataset.transform = Normalize(0.0, 0.5)  # doubles
    loader = DataLoader(dataset, batch_size=5, transform=lambda images: images + 1)
    images, _ = next(iter(loader))
    np.testing.assert_allclose(images[:, 0, 0, 0], np.arange(5) / 255 * 2 + 1, rtol=1e-6)


def test_float_images_are_not_rescaled():
    images = np.full((3, 1, 2, 2), 7.5, dtype=np.float32)
    batch, _ = next(iter(DataLoader(ArrayDataset(images, [0, 1, 2]), batch_size=3)))
    np.testing.assert_array_equal(batch, images)


@pytest.mark.parametrize("prefetch", [True, False])
def test_datasets_with_only_getitem_are_batched_item_by_item(prefetch):
    loader = DataLoader(ItemsOnly(10), batch_size=4, prefetch=prefetch)
    batches = list(loader)
    assert [len(labels) for _, labels in batches] == [4, 4, 2]
    images, labels = batches[1]
    assert images.shape == (4, 1, 2, 2) and labels.dtype == np.int64
    np.testing.assert_array_equal(images[:, 0, 1, 1], [4, 5, 6, 7])


def test_an_error_in_the_worker_is_raised_in_the_consumer_and_the_thread_ends():
    loader = DataLoader(ItemsOnly(100, fail_at=37), batch_size=8)
    delivered = 0
    with pytest.raises(ValueError, match="sample 37 is damaged"):
        for _ in loader:
            delivered += 1
    assert delivered == 4  # batches 0..3 hold samples 0..31; batch 4 holds sample 37
    assert loader_threads() == []


def test_an_abandoned_iterator_stops_its_thread():
    loader = DataLoader(numbered(400), batch_size=1)
    iterator = iter(loader)
    next(iterator)
    assert len(loader_threads()) == 1
    iterator.close()
    assert loader_threads() == []
    for _ in loader:
        break
    assert loader_threads() == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(numbered(3), batch_size=0)
    with pytest.raises(ValueError, match="N×C×H×W"):
        ArrayDataset(np.zeros((3, 4, 4)), [0, 1, 2])
    with pytest.raises(ValueError, match="labels"):
        ArrayDataset(np.zeros((3, 1, 4, 4)), [0, 1])
