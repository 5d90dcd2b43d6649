"""What the benchmark watches while an arm runs: memory, Spark tasks per stage, machine load."""
from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

__all__ = ["MemorySampler", "StageSampler", "load_average", "machine"]


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages (``uptime``)."""
    return os.getloadavg()


def machine() -> dict[str, Any]:
    """The facts docs/benchmarks.md reports next to every figure."""
    import lightgbm
    import mlflow
    import pandas
    import pyarrow
    import pyspark
    import sklearn

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "?")
    except OSError:
        pass
    java = os.environ.get("JAVA_HOME", "")
    return {"nproc": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": cpu, "python": platform.python_version(), "pyspark": pyspark.__version__,
            "lightgbm": lightgbm.__version__, "scikit_learn": sklearn.__version__, "mlflow": mlflow.__version__,
            "pandas": pandas.__version__, "pyarrow": pyarrow.__version__, "java_home": java,
            "load_average": load_average(), "automl": automl_source()}


def automl_source() -> dict[str, Any]:
    """Which framework code is measured: its directory, the commit, and a hash of the code as it is on disk."""
    import hashlib
    import subprocess

    import automl

    package = os.path.dirname(os.path.abspath(automl.__file__))
    digest = hashlib.sha256()
    for folder, _, names in sorted(os.walk(package)):
        for name in sorted(n for n in names if n.endswith(".py")):
            with open(os.path.join(folder, name), "rb") as handle:
                digest.update(name.encode() + handle.read())

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", "-C", package, *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"path": package, "commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_files": len(git("status", "--porcelain", "--", ".").splitlines()),
            "code_sha256": digest.hexdigest()[:12]}


@dataclass
class _Peaks:
    driver_mb: float = 0.0          # this Python process
    jvm_mb: float = 0.0             # the Spark driver JVM (driver and executor in local mode)
    worker_mb: float = 0.0          # the largest single Python worker (Spark or joblib)
    workers_total_mb: float = 0.0   # all Python workers together
    workers_seen: set = field(default_factory=set)


class _Poller:
    """Calls ``poll()`` every ``interval`` seconds in a daemon thread between ``start()`` and ``stop()``;
    a ``poll()`` that returns False ends the polling."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.poll() is False:
                return

    def poll(self) -> bool | None:
        raise NotImplementedError


class MemorySampler(_Poller):
    """Samples resident memory and CPU time of this process, its JVM and every Python worker below them.

    Python workers are this process's descendants that run Python (pyspark.daemon forks, loky workers);
    the JVM is a descendant named ``java``. Sampled every ``interval`` seconds in a daemon thread.
    """

    def __init__(self, interval: float = 0.2) -> None:
        super().__init__(interval)
        self.peaks = _Peaks()
        self._me = psutil.Process()
        # CPU seconds (user + system) per process: at the start, and the latest reading. Their difference,
        # summed, is the CPU the arm used, whatever else the machine was running meanwhile.
        self._cpu_start: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._kind: dict[int, str] = {self._me.pid: "driver"}

    def __enter__(self) -> MemorySampler:
        self.driver_start_mb = self._me.memory_info().rss / 2**20  # arms share this process: its earlier peak stays
        for process in [self._me, *self._me.children(recursive=True)]:
            with _quiet():
                self._cpu_start[process.pid] = _cpu(process)
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self.poll()

    def poll(self) -> None:
        peaks = self.peaks
        try:
            peaks.driver_mb = max(peaks.driver_mb, self._me.memory_info().rss / 2**20)
            self._cpu_last[self._me.pid] = _cpu(self._me)
            children = self._me.children(recursive=True)
        except psutil.Error:
            return
        total = 0.0
        for child in children:
            try:
                name = child.name()
                rss = child.memory_info().rss / 2**20
                self._cpu_last[child.pid] = _cpu(child)
            except psutil.Error:
                continue
            self._kind[child.pid] = "jvm" if name == "java" else "workers" if name.startswith("python") else "other"
            if name == "java":
                peaks.jvm_mb = max(peaks.jvm_mb, rss)
            elif name.startswith("python"):
                total += rss
                peaks.worker_mb = max(peaks.worker_mb, rss)
                peaks.workers_seen.add(child.pid)
        peaks.workers_total_mb = max(peaks.workers_total_mb, total)

    def summary(self) -> dict[str, Any]:
        p = self.peaks
        return {"driver_rss_mb": round(p.driver_mb, 1), "driver_rss_at_start_mb": round(self.driver_start_mb, 1),
                "jvm_rss_mb": round(p.jvm_mb, 1),
                "worker_rss_mb": round(p.worker_mb, 1), "workers_total_rss_mb": round(p.workers_total_mb, 1),
                "python_workers_seen": len(p.workers_seen), "cpu_seconds": round(self.cpu_seconds(), 2),
                "cpu_seconds_by_process": self.cpu_by_kind()}

    def cpu_by_kind(self) -> dict[str, float]:
        """CPU seconds of the driver (this process), the JVM and the Python workers, apart."""
        out: dict[str, float] = {}
        for pid, last in self._cpu_last.items():
            kind = self._kind.get(pid, "other")
            out[kind] = round(out.get(kind, 0.0) + max(0.0, last - self._cpu_start.get(pid, 0.0)), 2)
        return out

    def cpu_seconds(self) -> float:
        """CPU seconds used by this process and its descendants while sampling (a worker that exited
        between two samples loses at most its last ``interval``)."""
        return sum(max(0.0, last - self._cpu_start.get(pid, 0.0)) for pid, last in self._cpu_last.items())


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class _quiet:
    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, *_: Any) -> bool:
        return kind is not None and issubclass(kind, psutil.Error)


class StageSampler(_Poller):
    """Polls Spark's status tracker: tasks per stage, and how many ran at once over time.

    The trace ``(seconds since start, running tasks)`` shows whether every core stayed busy until the end
    of the training stage; ``stages`` lists each stage's task count (jobs of the run's job group).
    """

    def __init__(self, spark: Any, group: str, interval: float = 0.25) -> None:
        super().__init__(interval)
        self.spark, self.group = spark, group
        self.trace: list[tuple[float, int, int]] = []  # (t, stage id, active tasks)

    def __enter__(self) -> StageSampler:
        self.spark.sparkContext.setJobGroup(self.group, "benchmark arm")
        self.started = time.monotonic()
        self.started_epoch = time.time()
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
        self.ended = time.monotonic()
        self.spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)

    def poll(self) -> bool:
        try:
            tracker = self.spark.sparkContext.statusTracker()
            now = time.monotonic() - self.started
            for stage in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage)
                if info is not None:
                    self.trace.append((round(now, 2), stage, info.numActiveTasks))
        except Exception:  # the session may be stopping; the trace is best effort
            return False
        return True

    def stages(self) -> list[dict[str, Any]]:
        tracker = self.spark.sparkContext.statusTracker()
        out = []
        for job in sorted(tracker.getJobIdsForGroup(self.group)):
            info = tracker.getJobInfo(job)
            for stage in (info.stageIds if info else []):
                s = tracker.getStageInfo(stage)
                if s is not None:
                    out.append({"job": job, "stage": stage, "name": s.name.split(" at ")[0], "tasks": s.numTasks,
                                "completed": s.numCompletedTasks, "failed": s.numFailedTasks})
        return out

    def phases(self, stage: int, first_scenario_start: float | None = None) -> dict[str, float]:
        """Seconds before the stage ran, while it ran, and after it (until the arm ended).

        With the epoch time the first scenario started, the stage's start-up (Python workers started,
        imports, the pickled function read, the first group shuffled in) is split out.
        """
        times = [t for t, s, _ in self.trace if s == stage]
        if not times:
            return {}
        total = self.ended - self.started
        out = {"before_training_stage": round(times[0], 2), "training_stage": round(times[-1] - times[0], 2),
               "after_training_stage": round(total - times[-1], 2)}
        if first_scenario_start is not None:
            out["training_stage_until_first_scenario"] = round(first_scenario_start - self.started_epoch - times[0], 2)
        return out

    def busy_profile(self, stage: int, cores: int) -> dict[str, float]:
        """For one stage: seconds sampled with all ``cores`` busy, with fewer, and the idle tail at the end."""
        points = [(t, n) for t, s, n in self.trace if s == stage]
        if len(points) < 2:
            return {}
        full = partial = 0.0
        last_full = points[0][0]
        for (t0, n0), (t1, _) in zip(points, points[1:]):
            if n0 >= cores:
                full += t1 - t0
                last_full = t1
            else:
                partial += t1 - t0
        end = points[-1][0]
        return {"sampled_seconds": round(end - points[0][0], 2), "all_cores_busy_seconds": round(full, 2),
                "fewer_cores_seconds": round(partial, 2), "tail_after_last_full_seconds": round(end - last_full, 2),
                "max_running_tasks": max(n for _, n in points)}
