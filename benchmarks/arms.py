"""The competitors of one benchmark run, all doing the same per-scenario work on the same rows.

Per-scenario work, identical in every arm: ``train_one`` (split, featuretools, selection, hyperopt,
refit, metrics) with ``threads=1``, then publishing through the framework's own
:class:`~automl.tracking.ModelPublisher` (pyfunc model saved to disk, MLflow child run under a parent run
in the same tracking store), then one checkpoint row per scenario. Only the driver around it
differs: a Python loop, joblib over every core, or ``automl.jobs.train`` on Spark.

Floors for the overhead variant: a plain pandas ``groupby`` loop calling a trivial fit, and a bare
``applyInPandas`` that returns one row per group and does nothing else.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.config import Config
from automl.rundir import RunDirectory, write_checkpoint
from automl.scenario.keys import scenario_slug
from automl.jobs.scenario_task import ScenarioContext, train_one
from automl.tracking import JobRun, ModelPublisher

__all__ = ["ArmResult", "ScenarioWork", "run_bare_apply", "run_framework", "run_joblib", "run_pandas_loop",
           "run_sequential"]

log = logging.getLogger(__name__)


@dataclass
class ArmResult:
    """What one arm measured: its wall time and one result row per scenario (with ``work_seconds``)."""

    name: str
    wall_seconds: float
    rows: pd.DataFrame
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        return int((self.rows["status"] == "ok").sum()) if "status" in self.rows else 0


class ScenarioWork:
    """One scenario's whole job outside Spark: train, publish, checkpoint (picklable, for joblib).

    ``publish=False`` keeps the fit only (the pure model work, for the overhead analysis).
    """

    def __init__(self, config: Config, run_id: str, publisher: ModelPublisher | None, checkpoints: str | None) -> None:
        self.config, self.run_id, self.publisher, self.checkpoints = config, run_id, publisher, checkpoints

    def __call__(self, key: Any, frame: pd.DataFrame) -> dict[str, Any]:
        started = time.perf_counter()
        keys = {self.config.scenario_keys[0]: key.item() if hasattr(key, "item") else key}
        context = ScenarioContext(self.config, run_id=self.run_id, threads=1, publish=self.publisher)
        row = train_one(frame, keys, context)
        checkpoint = 0.0
        if self.checkpoints is not None:
            written = time.perf_counter()
            write_checkpoint(self.checkpoints, scenario_slug(keys), row)
            checkpoint = time.perf_counter() - written
        row.update(work_seconds=time.perf_counter() - started, checkpoint_seconds=checkpoint, worker_pid=os.getpid(),
                   finished_at=time.time())
        return row


def _job(config: Config, name: str, publish: bool) -> tuple[str, ScenarioWork, JobRun | None]:
    """A parent MLflow run and a run directory, as ``jobs.train`` makes them, so the arms publish alike."""
    if not publish:
        return "", ScenarioWork(config, "", None, None), None
    job = JobRun(config, f"baseline-{name}")
    run_id = job.start()
    run_dir = RunDirectory(config.output_path, run_id)
    run_dir.prepare()
    publisher = ModelPublisher(job.uri, job.experiment_id, run_id, run_dir.models, config, config.mlflow.log_models)
    return run_id, ScenarioWork(config, run_id, publisher, run_dir.checkpoints), job


def _groups(path: str, key: str, only: set | None = None) -> list[tuple[Any, pd.DataFrame]]:
    frame = pd.read_parquet(path)
    if only is not None:
        frame = frame[frame[key].isin(only)]
    return [(k, g) for k, g in frame.groupby(key, sort=True)]


def run_sequential(config: Config, path: str, *, publish: bool = True, only: set | None = None) -> ArmResult:
    """(a) A plain Python loop over the pandas groups in this process, one core."""
    started = time.perf_counter()
    _, work, job = _job(config, "sequential", publish)
    rows = [work(key, group) for key, group in _groups(path, config.scenario_keys[0], only)]
    if job is not None:
        job.finish(succeeded=True)
    return ArmResult("sequential", time.perf_counter() - started, pd.DataFrame(rows))


def run_joblib(config: Config, path: str, *, cores: int, publish: bool = True) -> ArmResult:
    """(b) joblib (loky processes) over every core, each scenario with ``threads=1``: the single-machine limit.

    Largest scenarios first, one scenario per dispatch for the full pipeline (joblib's own auto-batching
    for tiny scenarios), the best a careful user of joblib would do.
    """
    from joblib import Parallel, delayed

    started = time.perf_counter()
    _, work, job = _job(config, "joblib", publish)
    groups = sorted(_groups(path, config.scenario_keys[0]), key=lambda kg: -len(kg[1]))
    batch = "auto" if len(groups) > 1000 else 1
    rows = Parallel(n_jobs=cores, batch_size=batch, pre_dispatch="2*n_jobs")(
        delayed(work)(key, group) for key, group in groups)
    if job is not None:
        job.finish(succeeded=True)
    return ArmResult("joblib", time.perf_counter() - started, pd.DataFrame(rows))


def run_framework(config: Config, spark: Any) -> ArmResult:
    """(c) ``automl.jobs.train`` on the given Spark session; rows are the framework's own results table."""
    from automl import jobs

    started = time.perf_counter()
    summary = jobs.train(config, spark=spark)
    wall = time.perf_counter() - started
    rows = pd.read_parquet(summary.outputs["results"])
    run_dir = RunDirectory(config.output_path, summary.run_id)
    rows = rows.merge(_checkpoint_times(run_dir.checkpoints, config.scenario_keys), on=config.scenario_keys,
                      how="left")
    return ArmResult("framework", wall, rows, {"run_id": summary.run_id, "status": summary.status,
                                               "counts": summary.counts, "summary_wall": summary.wall_seconds})


def _checkpoint_times(directory: str, keys: list[str]) -> pd.DataFrame:
    """When each scenario finished: its checkpoint's modification time (written right at the end)."""
    records = []
    for name in os.listdir(directory):
        if name.endswith(".json"):
            path = os.path.join(directory, name)
            with open(path, encoding="utf-8") as handle:
                row = json.load(handle)
            records.append({**{k: row[k] for k in keys}, "finished_at": os.stat(path).st_mtime})
    return pd.DataFrame(records, columns=[*keys, "finished_at"])


def _trivial_fit(group: pd.DataFrame) -> float:
    """A least-squares fit on the group's numeric inputs: the smallest honest 'model'."""
    x = group[["x1", "x2", "x3", "x4", "x5"]].to_numpy()
    coefficients, *_ = np.linalg.lstsq(np.c_[np.ones(len(x)), x], group["y"].to_numpy(), rcond=None)
    return float(coefficients[0])


def run_pandas_loop(path: str, key: str) -> ArmResult:
    """Floor: read the rows, ``groupby`` and a trivial least-squares fit per group, in this process."""
    started = time.perf_counter()
    rows = [{key: k, "value": _trivial_fit(g)} for k, g in pd.read_parquet(path).groupby(key, sort=True)]
    return ArmResult("pandas_loop", time.perf_counter() - started, pd.DataFrame(rows))


def run_bare_apply(spark: Any, path: str, key: str, partitions: int, *, fit: bool = False) -> ArmResult:
    """Floor: ``groupBy(key).applyInPandas`` over the same file, returning one row per group.

    ``fit=False`` does nothing in the group (Spark's shuffle, Arrow and worker round trip alone);
    ``fit=True`` runs the trivial least-squares fit, for comparison with the pandas loop.
    """
    def one_row(group: pd.DataFrame) -> pd.DataFrame:
        value = _trivial_fit(group) if fit else 0.0
        return pd.DataFrame({key: [group[key].iloc[0]], "value": [value]})

    frame = spark.read.parquet(path).repartition(partitions, key)
    started = time.perf_counter()
    rows = frame.groupBy(key).applyInPandas(one_row, f"{key} long, value double").toPandas()
    return ArmResult("bare_apply_fit" if fit else "bare_apply", time.perf_counter() - started, rows)
