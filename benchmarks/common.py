"""Shared pieces of the benchmarks: timing, thread settings, the machine line, weights copied into a PyTorch twin.

Import this module before NumPy, PyTorch or minicnn: it notes the environment as the user
left it, so that PyTorch can later be timed in a process minicnn's settings never touched.
"""
import json
import os
import platform
import statistics
import subprocess
import sys
import time

# minicnn.tune_process() sets OMP_WAIT_POLICY=PASSIVE and GOMP_SPINCOUNT (minicnn/process.py);
# the variables are inherited by child processes, so remember the user's
_THREAD_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_USER_THREAD_SETTINGS = {name: os.environ.get(name) for name in _THREAD_SETTINGS}


# tune_process() also asks glibc to keep freed memory, which PyTorch in the same process then
# enjoys; these variables give a fresh PyTorch process the same settings
KEPT_MEMORY = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str((1 << 31) - 1)}

# Each contender alone in fresh processes: {column: (worker, environment)}. PyTorch is timed
# four ways, the last with every setting minicnn makes for itself, and the ratio is taken
# against the fastest (docs/performance.md says why).
MINICNN_SETTINGS = {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "3000", **KEPT_MEMORY}
ALONE = {
    "minicnn alone": ("minicnn-time", {}),
    "PyTorch alone": ("torch-time", {}),
    "PyTorch alone, PASSIVE": ("torch-time", {"OMP_WAIT_POLICY": "PASSIVE"}),
    "PyTorch alone, kept memory": ("torch-time", KEPT_MEMORY),
    "PyTorch alone, minicnn's settings": ("torch-time", MINICNN_SETTINGS),
}
TORCH_ALONE = [column for column in ALONE if column.startswith("PyTorch")]


def machine():
    """One line naming the CPU, core count and date, for docs/performance.md."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}"


def try_import_torch(threads):
    """PyTorch with ``threads`` intra-op threads, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def blas_threads_from_args(args):
    """Set OpenBLAS's thread count from ``args.blas_threads``; it must run before NumPy loads.

    OpenBLAS reads OPENBLAS_NUM_THREADS once, when NumPy (or SciPy) loads it. On a machine
    whose cores are busy with other work, two OpenBLAS threads that spin-wait for each other
    make a small matrix product many times slower (docs/performance.md); one thread avoids that.
    """
    if "numpy" in sys.modules:
        raise RuntimeError("blas_threads_from_args must run before NumPy is imported")
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)


def set_threads(threads):
    """minicnn's process settings, then Numba's thread count (minicnn's parallel kernels).

    ``minicnn.tune_process()`` sets OMP_WAIT_POLICY=PASSIVE, which OpenMP reads once, when
    Numba starts its threads (here). Started before that, Numba's idle threads spin, and on a
    busy 2-core machine a LeNet step took 4× the CPU time.
    """
    import minicnn
    import numba
    minicnn.tune_process()
    numba.set_num_threads(threads)


def clean_subprocess(script, argv, **environment):
    """Run ``python script *argv`` with the user's OpenMP settings (or the ``environment`` given);
    return its last line of output, parsed as JSON."""
    env = {k: v for k, v in os.environ.items() if k not in _THREAD_SETTINGS}
    env.update({k: v for k, v in _USER_THREAD_SETTINGS.items() if v is not None})
    env.update(environment)
    done = subprocess.run([sys.executable, script, *argv], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{os.path.basename(script)} {' '.join(argv)} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def alone_runs(script, argv, repeats):
    """{column: [the JSON each run printed]}: every ``ALONE`` contender ``repeats`` times, each in
    a fresh process of ``script --worker ...``, taking turns so a neighbour's load reaches all."""
    runs = {column: [] for column in ALONE}
    for _ in range(repeats):
        for column, (side, environment) in ALONE.items():
            runs[column].append(clean_subprocess(script, ["--worker", side] + argv, **environment))
    return runs


def median_time(fn, repeats, warmup=1):
    """Median wall time of ``fn()`` over ``repeats`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        fn()
        times.append(time.perf_counter() - tic)
    return statistics.median(times)


def interleaved_medians(fns, repeats, warmup=1):
    """Median time of each of ``fns`` ({name: fn}), run in turn so drift hits all alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            tic = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - tic)
    return {name: statistics.median(values) for name, values in times.items()}


def peak_rss_mib():
    """Peak resident memory of this process so far, in MiB.

    Linux's VmHWM belongs to this program alone; ``ru_maxrss`` (the fallback elsewhere) can
    carry the peak of the parent that forked it, so a child started by a big benchmark
    process would report the parent's memory.
    """
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_weights_to_torch(model, torch_model, torch):
    """Copy minicnn parameters into a PyTorch model of the same layout, by position."""
    from minicnn.backend import to_numpy
    ours = list(model.parameters())
    theirs = list(torch_model.parameters())
    if [tuple(p.shape) for p in ours] != [tuple(p.shape) for p in theirs]:
        raise ValueError("the two models do not have the same parameter shapes in the same order")
    with torch.no_grad():
        for mine, other in zip(ours, theirs):
            other.copy_(torch.from_numpy(to_numpy(mine.data)))
