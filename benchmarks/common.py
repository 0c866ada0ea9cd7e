"""Shared pieces of the benchmarks: timing, thread settings, the machine line, PyTorch twins."""
import os
import platform
import statistics
import time


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
    """Peak resident memory of this process so far, in MiB (Linux ru_maxrss is in KiB)."""
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
