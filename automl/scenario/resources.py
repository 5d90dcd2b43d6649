"""Cores and memory of the process running a scenario."""
from __future__ import annotations

import contextlib
import os
import resource
from typing import Iterator

__all__ = ["limit_threads", "peak_rss_mb", "reset_peak_rss"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Cap BLAS/OpenMP pools at the cores this task owns, so parallel tasks never oversubscribe."""
    from threadpoolctl import threadpool_limits

    for name in _THREAD_VARIABLES:  # for libraries that start pools later in this process
        os.environ[name] = str(threads)
    with threadpool_limits(limits=threads):
        yield


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark (Linux), so the next reading covers one scenario only."""
    with contextlib.suppress(OSError):
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")


def peak_rss_mb() -> float:
    """Peak resident memory since the last reset (Linux VmHWM), else since the process started."""
    with contextlib.suppress(OSError):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
