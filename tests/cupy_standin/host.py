"""CUDA C sources compiled for the CPU by g++, and called with CuPy's argument rules, checked.

A three-line shim makes a kernel ordinary C++: one block of one thread, so a grid-stride loop
visits every element and a block reduction reduces over that one thread (``__shared__``
arrays become function statics, ``__syncthreads`` does nothing). This checks a kernel's index
arithmetic and its wrapper's argument order and types on any Linux machine with g++; it says
nothing about speed, races between threads, or the GPU itself.

Each source is compiled once: libraries are kept on disk under a name that is the hash of the
source, so every test process and every later session reuses them.
"""
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy

HOST_SHIM = """
#include <algorithm>
#include <cmath>
using std::max; using std::min; using std::sqrt; using std::exp; using std::abs;
struct Index { unsigned int x, y, z; };
static const Index threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0};
static const Index blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static
static inline void __syncthreads() {}
static inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
static inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
"""

# the C type of a kernel parameter -> the NumPy dtype CuPy must be handed for it
C_TYPES = {
    "float": numpy.float32, "double": numpy.float64, "int": numpy.int32,
    "unsigned int": numpy.uint32, "long long": numpy.int64, "unsigned char": numpy.uint8,
    "bool": numpy.bool_,
}
CTYPES = {
    numpy.float32: ctypes.c_float, numpy.float64: ctypes.c_double, numpy.int32: ctypes.c_int,
    numpy.uint32: ctypes.c_uint, numpy.int64: ctypes.c_longlong, numpy.uint8: ctypes.c_ubyte,
    numpy.bool_: ctypes.c_bool,
}


def available():
    """True where g++ on Linux can build the host libraries."""
    return shutil.which("g++") is not None and sys.platform.startswith("linux")


def _cache_folder():
    folder = os.environ.get("CUPY_STANDIN_CACHE") or os.path.join(
        tempfile.gettempdir(), f"cupy-standin-{os.getuid()}")
    os.makedirs(folder, exist_ok=True)
    return folder


_libraries = {}


def library(source):
    """The shared library of ``source`` (CUDA C) built for the host, compiled on first use."""
    text = HOST_SHIM + source
    key = hashlib.sha256(text.encode()).hexdigest()[:24]
    if key not in _libraries:
        path = os.path.join(_cache_folder(), f"kernels_{key}.so")
        if not os.path.exists(path):
            _compile(text, path)
        _libraries[key] = ctypes.CDLL(path)
    return _libraries[key]


def _compile(text, path):
    if not available():
        raise RuntimeError("the CuPy stand-in runs CUDA kernels through g++ on Linux; g++ was not found")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "kernels.cpp"
        source.write_text(text)
        built = Path(folder) / "kernels.so"
        done = subprocess.run(["g++", "-O2", "-shared", "-fPIC", "-o", str(built), str(source)],
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"g++ could not compile the CUDA source for the host:\n{done.stderr}")
        shutil.move(str(built), path + f".{os.getpid()}")
        os.replace(path + f".{os.getpid()}", path)  # atomic: another process may race us


def parameters(source, name):
    """[(C type, is_pointer, parameter name)] of kernel ``name`` in ``source``."""
    match = re.search(r'extern\s+"C"\s+__global__\s+void\s+' + re.escape(name) + r"\s*\(([^)]*)\)",
                      source)
    if match is None:
        raise ValueError(f"no `extern \"C\" __global__ void {name}(...)` in the kernel source")
    typedefs = dict((alias, real) for real, alias in
                    re.findall(r"typedef\s+([\w ]+?)\s+(\w+)\s*;", source))
    found = []
    for declaration in match.group(1).split(","):
        words = declaration.replace("*", " * ").replace("__restrict__", " ").split()
        words = [w for w in words if w != "const"]
        pointer = "*" in words
        words = [w for w in words if w != "*"]
        c_type = " ".join(words[:-1])
        found.append((typedefs.get(c_type, c_type), pointer, words[-1]))
    return found


def check_and_convert(name, params, args, unwrap):
    """The ctypes arguments for ``args``, or TypeError where CuPy would pass the wrong bytes.

    CuPy copies each argument into the kernel's parameter buffer as it is: a NumPy scalar with
    its own width, a Python int as a 64-bit integer, a Python float as a double. So an ``int``
    parameter needs a numpy.int32 and a ``float*`` an array of float32, C-contiguous.
    """
    if len(args) != len(params):
        raise TypeError(f"kernel {name} takes {len(params)} arguments, got {len(args)}")
    converted = []
    for value, (c_type, pointer, pname) in zip(args, params):
        wanted = C_TYPES.get(c_type)
        if wanted is None:
            raise TypeError(f"kernel {name}: the stand-in does not know C type {c_type!r} of {pname}")
        where = f"kernel {name}, parameter {pname} ({c_type}{'*' if pointer else ''})"
        if pointer:
            array = unwrap(value)
            if array is None:
                raise TypeError(f"{where}: needs a device array, got {type(value).__name__}")
            if array.dtype != wanted:
                raise TypeError(f"{where}: got an array of {array.dtype}")
            if not array.flags.c_contiguous:
                raise ValueError(f"{where}: the array is not C-contiguous; the kernel would read it "
                                 "as if it were")
            converted.append(ctypes.c_void_p(array.ctypes.data))
        else:
            converted.append(CTYPES[wanted](_scalar(value, wanted, where)))
    return converted


def _scalar(value, wanted, where):
    if isinstance(value, numpy.generic):
        if value.dtype != wanted:
            raise TypeError(f"{where}: got a numpy.{value.dtype} scalar")
        return value.item()
    python_type = {bool: numpy.bool_, int: numpy.int64, float: numpy.float64}.get(type(value))
    if python_type is None:
        raise TypeError(f"{where}: got {type(value).__name__}")
    if python_type is not wanted:
        raise TypeError(f"{where}: a Python {type(value).__name__} goes to the GPU as "
                        f"{numpy.dtype(python_type).name}; pass numpy.{numpy.dtype(wanted).name}(...)")
    return value
