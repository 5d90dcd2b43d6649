"""What runs inside Spark's Python workers: one ``applyInPandas`` group (a pack of scenarios) in, rows out.

The per-scenario work itself is the job layer's (a picklable callable taking ``(rows, keys)``); this module
only splits a pack back into scenarios, checkpoints each row as it finishes, and says where it ran.
"""
from __future__ import annotations

import functools
import logging
import os
import socket
from typing import Any, Callable, Iterator

import pandas as pd

from automl.results import blank_row
from automl.rundir import read_checkpoint, write_checkpoint
from automl.scenario.keys import scenario_id, scenario_label, scenario_slug, to_python
from automl.spark.planning import BUCKET, PACK

__all__ = ["PredictPacks", "SummaryPacks", "TrainPacks", "executor_id", "one_argument", "scenarios_of"]

log = logging.getLogger(__name__)

TrainTask = Callable[..., dict[str, Any]]  # (rows, keys, *, retry) -> results-row columns
PredictTask = Callable[[pd.DataFrame, dict[str, Any]], pd.DataFrame]
SummaryTask = Callable[[pd.DataFrame, list[str]], pd.DataFrame]  # (rows, key columns) -> a row per scenario


class TrainPacks:
    """Trains every scenario of a pack; each row is checkpointed as soon as its scenario finishes.

    A task Spark retries (a lost Python worker) finds the rows this attempt already checkpointed and
    returns them instead of training those scenarios again.
    """

    def __init__(self, task: TrainTask, keys: list[str], columns: list[str], checkpoints: str,
                 fingerprints: dict[str, str], attempt: int) -> None:
        self.task, self.keys, self.columns = task, keys, columns
        self.checkpoints, self.fingerprints, self.attempt = checkpoints, fingerprints, attempt

    def __call__(self, pack: pd.DataFrame) -> pd.DataFrame:
        rows = [self._train(keys, frame) for keys, frame in scenarios_of(pack, self.keys)]
        return pd.DataFrame(rows, columns=self.columns)

    def _train(self, keys: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
        slug = scenario_slug(keys)
        earlier = self._checkpointed(slug)
        if earlier is not None:
            log.info("scenario %s: already finished by an earlier try of this task", scenario_label(keys))
            return {**blank_row(self.columns), **earlier, **keys}  # keys keep their types (JSON has no dates)
        log.info("training scenario %s (%d rows)", scenario_label(keys), len(frame))
        row = {**blank_row(self.columns), **self.task(frame, keys, retry=self._retrying())}
        identity = scenario_id(keys)
        row.update(scenario_id=identity, data_fingerprint=self.fingerprints.get(identity, ""),
                   executor_id=executor_id(), partition_id=_partition_id(), attempt=self.attempt)
        try:
            write_checkpoint(self.checkpoints, slug, row)
        except (OSError, TypeError, ValueError) as exc:  # the row still reaches the driver through Spark
            log.warning("checkpoint of %s failed: %s", scenario_label(keys), exc)
        return row

    def _retrying(self) -> bool:
        """A resumed run, or Spark's retry of a task that lost its worker."""
        from pyspark import TaskContext

        context = TaskContext.get()
        return self.attempt > 1 or (context is not None and context.attemptNumber() > 0)

    def _checkpointed(self, slug: str) -> dict[str, Any] | None:
        row = read_checkpoint(self.checkpoints, slug)
        return row if row is not None and row.get("attempt") == self.attempt else None


class SummaryPacks:
    """One row per scenario of a pack, from ``task`` given the whole pack at once (it is written to summarise
    thousands of tiny scenarios faster than one call each could; no checkpoint: cheap to compute again)."""

    def __init__(self, task: SummaryTask, keys: list[str], columns: list[str]) -> None:
        self.task, self.keys, self.columns = task, keys, columns

    def __call__(self, pack: pd.DataFrame) -> pd.DataFrame:
        del pack[BUCKET], pack[PACK]
        return self.task(pack, self.keys)[self.columns]


class PredictPacks:
    """Scores every scenario of a pack; every input row comes back as exactly one output row."""

    def __init__(self, task: PredictTask, keys: list[str], columns: list[str]) -> None:
        self.task, self.keys, self.columns = task, keys, columns

    def __call__(self, pack: pd.DataFrame) -> pd.DataFrame:
        scored = [self.task(frame, keys) for keys, frame in scenarios_of(pack, self.keys)]
        out = pd.concat(scored, ignore_index=True) if len(scored) > 1 else scored[0]
        return out[self.columns]


def scenarios_of(pack: pd.DataFrame, keys: list[str]) -> Iterator[tuple[dict[str, Any], pd.DataFrame]]:
    """The scenarios of one ``applyInPandas`` group: ``(key values, rows)`` without the planning columns.

    A pack holding one scenario (every large one) is passed on as it is: splitting would copy its rows.
    Null key values form their own scenario, as they do in Spark's aggregation.
    """
    del pack[BUCKET], pack[PACK]  # in place: pandas splits the block rather than copying the rows
    groups = pack.groupby(keys, sort=False, dropna=False)
    if groups.ngroups == 1:
        yield {k: to_python(pack[k].iloc[0]) for k in keys}, pack
        return
    for _, frame in groups:
        yield {k: to_python(frame[k].iloc[0]) for k in keys}, frame


def one_argument(function: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """pyspark counts ``self`` of a callable object and would pass ``(key, frame)``; a plain function avoids it."""
    def apply(group: pd.DataFrame) -> pd.DataFrame:
        return function(group)

    return apply


@functools.lru_cache(maxsize=1)
def executor_id() -> str:
    """Which executor runs this Python worker: ``<executor>@<host>`` (standalone work dir) or ``jvm-<pid>@<host>``.

    Python workers are not told their executor id, so we identify the JVM that owns this process (once: a
    worker never changes executors).
    """
    host = socket.gethostname()
    cwd = os.getcwd()
    if os.path.basename(os.path.dirname(cwd)).startswith("app-"):
        return f"{os.path.basename(cwd)}@{host}"
    pid = os.getppid()
    for _ in range(4):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)
            with open(f"/proc/{pid}/comm") as handle:
                name = handle.read().strip()
        except OSError:
            break
        if name == "java":
            return f"jvm-{pid}@{host}"
        pid = int(fields[1].split()[1])
    return f"pid-{os.getpid()}@{host}"


def _partition_id() -> int:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context.partitionId() if context is not None else -1
