"""The IDX file format of MNIST and Fashion-MNIST: a tiny header, then one big array.

Layout (all numbers big-endian), from LeCun et al.'s MNIST page:

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    then        d sizes, each a 4-byte unsigned integer
    then        the elements, row-major (C order)

Files may be gzip-compressed (as distributed) or raw; the reader looks at the first two
bytes to tell. Anything that does not add up raises ``DataFileError`` naming the file.
"""
import gzip
import zlib

import numpy

GZIP_MAGIC = b"\x1f\x8b"
ELEMENT_TYPES = {
    0x08: numpy.dtype("u1"),
    0x09: numpy.dtype("i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}


class DataFileError(ValueError):
    """A data file is damaged or not what it claims to be; the message names the file and the fault."""


def read_idx(path):
    """Read an IDX file (raw or gzip) into a native-endian NumPy array (LeCun et al., MNIST database)."""
    raw = read_bytes(path)
    dtype, shape, offset = _parse_header(raw, path)
    expected = offset + dtype.itemsize * int(numpy.prod(shape, dtype=numpy.int64))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataFileError(
            f"{path}: IDX file is {problem}: the header announces shape {tuple(shape)} of "
            f"{dtype.name}, i.e. {expected} bytes, but the file holds {len(raw)} bytes. "
            "Delete it and fetch it again."
        )
    array = numpy.frombuffer(raw, dtype=dtype, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_bytes(path):
    """The file's bytes, decompressed when it starts with the gzip signature."""
    with open(path, "rb") as handle:
        raw = handle.read()
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFileError(
            f"{path}: the gzip stream is damaged or truncated ({exc}). Delete it and fetch it again."
        ) from None


def _parse_header(raw, path):
    """(element dtype, shape, offset of the first element) from the IDX header in ``raw``."""
    if len(raw) < 4:
        raise DataFileError(f"{path}: too short to be an IDX file ({len(raw)} bytes, the header needs 4)")
    if raw[0] != 0 or raw[1] != 0:
        raise DataFileError(
            f"{path}: not an IDX file: its magic number starts with bytes "
            f"{raw[0]:#04x} {raw[1]:#04x}, expected 0x00 0x00"
        )
    code, ndim = raw[2], raw[3]
    if code not in ELEMENT_TYPES:
        known = ", ".join(f"{c:#04x}" for c in ELEMENT_TYPES)
        raise DataFileError(f"{path}: unknown IDX element type {code:#04x} (known: {known})")
    if ndim == 0:
        raise DataFileError(f"{path}: IDX header announces 0 dimensions; an IDX array needs at least 1")
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise DataFileError(
            f"{path}: IDX file is truncated inside its header: {ndim} dimension sizes need "
            f"{offset} bytes, the file holds {len(raw)}"
        )
    shape = numpy.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(numpy.int64)
    return ELEMENT_TYPES[code], tuple(int(size) for size in shape), offset
