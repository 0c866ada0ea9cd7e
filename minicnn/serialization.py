"""Saving and loading state dicts and checkpoints as ``.npz`` files: no pickle, atomic writes.

An ``.npz`` file is a zip archive of ``.npy`` arrays. ``save`` flattens a nested dict
(``{"model": {"conv1.weight": ...}, "epoch": 3}``) into entries named by their path,
``"model/conv1.weight"`` and ``"epoch"`` ('/' never appears in PyTorch-style dotted
names), and stores the nesting itself, as JSON text, in one more entry,
``"__minicnn_tree__"``. Python numbers, strings and booleans become 0-d arrays and come
back as Python values; ``None``, lists and tuples come back as they went in.

Nothing is ever unpickled: arrays of Python objects are refused on save and on load, so
opening a file from someone else cannot run their code. A save writes a temporary file
next to the target, flushes it to disk and renames it over the target in one step, so a
crash or Ctrl-C midway leaves the previous file intact. The path is used exactly as given
(no ``.npz`` is appended), by ``save`` and ``load`` alike.
Idea: NumPy's ``.npy``/``.npz`` format (NEP 1); the safety of ``torch.load(weights_only=True)``.
"""
import json
import os
import secrets
import zipfile
import zlib

import numpy
from numpy.lib import format as npy_format

from . import backend
from .autograd import Tensor

TREE_ENTRY = "__minicnn_tree__"
SEPARATOR = "/"
_ZIP_MAGIC = b"PK\x03\x04"


class SerializationError(ValueError):
    """A file cannot be saved or loaded: the message names the file and what is wrong."""


def save(state, path):
    """Write ``state`` (a dict of arrays, numbers, strings, None, lists, dicts) to ``path`` atomically.

    Arrays on either backend are copied to NumPy for writing; the originals stay where they are.
    """
    path = os.fspath(path)
    if not isinstance(state, dict):
        raise SerializationError(
            f"save({path!r}): expected a dict to save, got {type(state).__name__}"
        )
    entries = {}
    tree = _encode(state, (), entries, path)
    entries[TREE_ENTRY] = numpy.asarray(json.dumps(tree))
    _write_atomically(path, entries)


def load(path, to_backend=False):
    """Read a file written by ``save`` and return the same nesting of arrays and Python values.

    Arrays come back as NumPy arrays, or, with ``to_backend=True``, as arrays of the active
    backend (``minicnn.backend.current()``). A plain ``.npz`` written by ``numpy.savez`` loads
    as a flat dict of arrays.
    """
    path = os.fspath(path)
    entries = _read_entries(path)
    move = backend.asarray if to_backend else (lambda array: array)
    if TREE_ENTRY not in entries:
        return {name: move(array) for name, array in entries.items()}
    try:
        tree = json.loads(str(entries.pop(TREE_ENTRY)))
        return _decode(tree, entries, move)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise SerializationError(
            f"cannot load {path!r}: its structure entry {TREE_ENTRY!r} is damaged or does not "
            f"match its arrays ({type(exc).__name__}: {exc})"
        ) from None


# -- flattening: a nested value <-> entries named by path plus a JSON tree --------------------

def _encode(value, keys, entries, path):
    """Describe ``value`` as a JSON tree node, storing its arrays and scalars in ``entries``."""
    if isinstance(value, dict):
        items = [[k, _encode(v, keys + (_check_key(k, keys, path),), entries, path)]
                 for k, v in value.items()]
        return {"type": "dict", "items": items}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, keys + (i,), entries, path) for i, v in enumerate(value)]
        return {"type": type(value).__name__, "items": items}
    if value is None:
        return {"type": "none"}
    kind, array = _leaf(value, keys, path)
    name = SEPARATOR.join(str(k) for k in keys)
    if name in entries or name == TREE_ENTRY:
        raise SerializationError(
            f"save({path!r}): two values would be stored under the name {name!r} "
            "(e.g. the keys 0 and '0' in one dict): rename one of them"
        )
    entries[name] = array
    return {"type": kind, "entry": name}


def _check_key(key, keys, path):
    """Keys are strings without '/' or integers (an optimiser's parameter positions)."""
    where = SEPARATOR.join(str(k) for k in keys) or "the top level"
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise SerializationError(
            f"save({path!r}): dict key {key!r} at {where} is a {type(key).__name__}; "
            "only str and int keys can be saved"
        )
    if isinstance(key, str) and SEPARATOR in key:
        raise SerializationError(
            f"save({path!r}): dict key {key!r} at {where} contains {SEPARATOR!r}, which "
            "separates nesting levels in the file: use '.' as PyTorch names do"
        )
    return key


def _leaf(value, keys, path):
    """``(kind, array)`` for a leaf: an array stays an array, a Python value becomes a 0-d array."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, numpy.generic):
        value = value.item()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        array = backend.to_numpy(value)
        if array.dtype.hasobject:
            raise SerializationError(
                f"save({path!r}): the array at {SEPARATOR.join(map(str, keys))!r} holds Python "
                "objects (dtype object), which could only be stored by pickling: convert it "
                "to a numeric or string dtype"
            )
        return "array", array
    if isinstance(value, bool):
        return "bool", numpy.asarray(value)
    if isinstance(value, int):  # an int beyond 64 bits (an RNG state) is kept as its digits
        fits = -2**63 <= value < 2**63
        return "int", numpy.asarray(value, dtype=numpy.int64) if fits else numpy.asarray(str(value))
    if isinstance(value, float):
        return "float", numpy.asarray(value, dtype=numpy.float64)
    if isinstance(value, str):
        return "str", numpy.asarray(value)
    raise SerializationError(
        f"save({path!r}): cannot store the {type(value).__name__} at "
        f"{SEPARATOR.join(map(str, keys))!r}: only arrays, Tensors, numbers, strings, None, "
        "and dicts/lists/tuples of them can be saved"
    )


_SCALAR_TYPES = {"bool": bool, "float": float, "str": str}


def _decode(node, entries, move):
    """Rebuild the value a tree node describes from the loaded entries; ``move`` places arrays."""
    kind = node["type"]
    if kind == "dict":
        return {key: _decode(child, entries, move) for key, child in node["items"]}
    if kind in ("list", "tuple"):
        items = [_decode(child, entries, move) for child in node["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "none":
        return None
    array = entries[node["entry"]]
    if kind == "array":
        return move(array)
    if kind == "int":
        return int(array.item())
    return _SCALAR_TYPES[kind](array.item())


# -- the file: atomic write, careful read ------------------------------------------------------

def _write_atomically(path, entries):
    """Write ``entries`` to a temporary file beside ``path``, fsync it, rename it over ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"cannot save to {path!r}: the folder {directory!r} does not exist")
    temp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _write_npz(file, entries)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:  # also Ctrl-C: never leave a half-written temporary file behind
        if os.path.exists(temp):
            os.remove(temp)
        raise
    _fsync_directory(directory)


def _write_npz(file, entries):
    """An ``.npz`` archive: one uncompressed ``name.npy`` member per entry."""
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in entries.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                npy_format.write_array(member, array, allow_pickle=False)


def _fsync_directory(directory):
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems refuse; the file's own data is already on disk
        pass
    finally:
        os.close(descriptor)


def _read_entries(path):
    """Every ``.npy`` member of the archive at ``path`` as a NumPy array, never unpickling."""
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"cannot load {path!r}: no such file (the path is used exactly as given; "
            "no '.npz' is added)"
        ) from None
    with file:
        head = file.read(len(_ZIP_MAGIC))
        if head != _ZIP_MAGIC:
            raise SerializationError(f"cannot load {path!r}: {_describe_non_zip(head)}")
        file.seek(0)
        try:
            with zipfile.ZipFile(file) as archive:
                return {name[:-len(".npy")]: _read_member(archive, name, path)
                        for name in archive.namelist() if name.endswith(".npy")}
        except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
            raise SerializationError(
                f"cannot load {path!r}: the file is truncated or corrupt, not a complete .npz "
                f"archive ({type(exc).__name__}: {exc}); save it again or use an older copy"
            ) from None


def _read_member(archive, name, path):
    """One array from the archive; object arrays (pickled data) are refused with a clear error."""
    with archive.open(name) as member:
        try:
            return npy_format.read_array(member, allow_pickle=False)
        except ValueError as exc:
            if "allow_pickle" in str(exc):
                raise SerializationError(
                    f"cannot load {path!r}: entry {name[:-4]!r} holds pickled Python objects; "
                    "minicnn never unpickles, because loading a pickle can run arbitrary code"
                ) from None
            raise SerializationError(
                f"cannot load {path!r}: entry {name[:-4]!r} is not a valid array ({exc})"
            ) from None


def _describe_non_zip(head):
    """Say what a file that is not a zip archive looks like instead."""
    if not head:
        return "the file is empty (0 bytes), not an .npz archive"
    if head.startswith(b"\x93NUM"):
        return "it is a single .npy array, not an .npz archive: read it with numpy.load"
    return "it is not an .npz archive (it does not start like a zip file); is it the right file?"
