"""The IDX reader: parsing of raw and gzip files, and a clear error for every kind of damage."""
import gzip
import struct

import numpy as np
import pytest

from minicnn.data import DataFileError, read_idx

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(array):
    """An IDX file's bytes, written by hand from the format description."""
    header = struct.pack(">BBBB", 0, 0, TYPE_CODES[array.dtype.type], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, payload, compress):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_reads_images_and_labels(tmp_path, compress):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    images_path = write(tmp_path / "images", idx_bytes(images), compress)
    labels_path = write(tmp_path / "labels", idx_bytes(labels), compress)
    read_images, read_labels = read_idx(images_path), read_idx(labels_path)
    assert read_images.dtype == np.uint8 and read_images.shape == (3, 4, 5)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, [7, 0, 9])
    read_images[0, 0, 0] = 1  # the result is an ordinary writable array
    assert read_images.flags.writeable


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_multibyte_types_are_big_endian_on_disk_and_native_in_memory(tmp_path, dtype):
    values = np.array([[-3, 2], [1000 if dtype != np.int8 else 100, -1]], dtype=dtype)
    path = write(tmp_path / "values", idx_bytes(values), compress=False)
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype) and result.dtype.isnative
    np.testing.assert_array_equal(result, values)


def test_known_header_bytes_give_known_shape(tmp_path):
    # magic 0x00000803 (uint8, 3 dims), sizes 2, 1, 3, then six pixels
    payload = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 3, 10, 20, 30, 40, 50, 60])
    path = write(tmp_path / "tiny-idx3-ubyte", payload, compress=False)
    np.testing.assert_array_equal(read_idx(path), [[[10, 20, 30]], [[40, 50, 60]]])


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_truncated_data_names_the_file_and_the_sizes(tmp_path, compress):
    payload = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))[:-100]
    path = write(tmp_path / "train-images-idx3-ubyte", payload, compress)
    with pytest.raises(DataFileError, match="truncated") as error:
        read_idx(path)
    assert str(path) in str(error.value) and "(4, 28, 28)" in str(error.value)


def test_extra_bytes_are_an_error(tmp_path):
    path = write(tmp_path / "labels", idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00", compress=False)
    with pytest.raises(DataFileError, match="longer than its header says"):
        read_idx(path)


def test_truncated_gzip_stream_names_the_file(tmp_path):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, dtype=np.uint8)))[:30])
    with pytest.raises(DataFileError, match="gzip") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_wrong_magic_names_the_file(tmp_path):
    payload = bytearray(idx_bytes(np.zeros(5, dtype=np.uint8)))
    payload[0] = 0x50  # e.g. a PNG or text file given by mistake
    path = write(tmp_path / "not-idx", bytes(payload), compress=False)
    with pytest.raises(DataFileError, match="magic number") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_unknown_element_type(tmp_path):
    payload = bytearray(idx_bytes(np.zeros(5, dtype=np.uint8)))
    payload[2] = 0x0A
    path = write(tmp_path / "odd", bytes(payload), compress=True)
    with pytest.raises(DataFileError, match="element type 0x0a"):
        read_idx(path)


@pytest.mark.parametrize("payload, message", [
    (b"\x00\x00", "too short"),
    (bytes([0, 0, 8, 0]), "0 dimensions"),
    (bytes([0, 0, 8, 3, 0, 0, 0, 2]), "inside its header"),
])
def test_broken_headers(tmp_path, payload, message):
    path = write(tmp_path / "broken", payload, compress=False)
    with pytest.raises(DataFileError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value)
