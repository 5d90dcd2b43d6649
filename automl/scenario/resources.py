"""Cores, memory and wall time of the process running a scenario."""
from __future__ import annotations

import contextlib
import os
import resource
import sys
import time
from typing import Any, Iterator

__all__ = ["Stopwatch", "limit_threads", "peak_rss_mb", "reset_peak_rss"]

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    """Cap BLAS/OpenMP pools at the cores this task owns, so parallel tasks never oversubscribe."""
    for name in _THREAD_VARIABLES:  # for libraries that start pools later in this process
        os.environ[name] = str(threads)
    with _controller().limit(limits=threads):
        yield


_CONTROLLER: tuple[int, Any] | None = None  # (len(sys.modules) when built, ThreadpoolController)


def _controller() -> Any:
    """This process's ThreadpoolController, rebuilt only after new modules were imported.

    Building one scans every loaded shared library (3-14 ms, paid by every scenario when done per call);
    a new import may have loaded another BLAS/OpenMP runtime, so that rebuilds it.
    """
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _CONTROLLER is None or _CONTROLLER[0] != len(sys.modules):
        _CONTROLLER = (len(sys.modules), ThreadpoolController())
    return _CONTROLLER[1]


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


class Stopwatch:
    """Adds the wall time of each ``with watch("step"):`` block to ``seconds[step]``."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._step = ""

    def __call__(self, step: str) -> Stopwatch:
        self._step = step
        return self

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds[self._step] = self.seconds.get(self._step, 0.0) + time.perf_counter() - self._started
