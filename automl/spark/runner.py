"""Training and prediction over all scenarios with ``groupBy(bucket, pack).applyInPandas``.

The driver does one cheap aggregation (rows, target range, distinct times, a content fingerprint per
scenario), rejects scenarios that cannot be modelled with a reason, plans partitions and packs (see
:mod:`automl.spark.planning`), then runs the pandas pipeline for the rest, one scenario at a time inside each
pack. Executors write each scenario's row as soon as it finishes (see :mod:`automl.outputs`).
"""
from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from automl.config import Config
from automl.errors import DataError
from automl.outputs import RunDirectory, write_checkpoint
from automl.jobs.scenario_task import ScenarioContext, train_one
from automl.results import Published, blank_row, prediction_columns, result_columns, to_ddl
from automl.scenario.keys import scenario_label, scenario_slug, to_python
from automl.scenario.pipeline import predict_scenario
from automl.scenario.split import holdout_rows
from automl.spark.planning import BUCKET, PACK, distribute, plan_partitions

__all__ = ["ScenarioStats", "arrow_schema", "predict_all", "result_schema", "scenario_stats", "scenarios_of",
           "train_all"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScenarioStats:
    """Per-scenario facts from one aggregation: what planning and validation need."""

    frame: pd.DataFrame  # keys + rows, target_rows, target_min, target_max, distinct_times, fingerprint
    keys: list[str]

    def key_tuples(self) -> list[tuple]:
        return [tuple(r) for r in self.frame[self.keys].itertuples(index=False, name=None)]


def scenario_stats(master: DataFrame, config: Config, *, for_prediction: bool = False) -> ScenarioStats:
    """One aggregation over the master DataFrame; raises :class:`DataError` when it is empty."""
    keys = config.scenario_keys
    columns = sorted(master.columns)
    aggregates = [F.count(F.lit(1)).alias("rows"),
                  # Order-independent content hash: what data each model saw, for audits and reruns.
                  F.sum(F.xxhash64(*[F.col(f"`{c}`") for c in columns]).cast("decimal(38,0)"))
                  .cast("string").alias("fingerprint")]
    if not for_prediction:
        target = F.col(f"`{config.target}`")
        aggregates += [F.count(target).alias("target_rows"), F.min(target).cast("string").alias("target_min"),
                       F.max(target).cast("string").alias("target_max")]
    if config.time_column:
        aggregates.append(F.countDistinct(F.col(f"`{config.time_column}`")).alias("distinct_times"))
    frame = master.groupBy(*keys).agg(*aggregates).toPandas()
    if frame.empty:
        raise DataError(f"{config.name}: the {'prediction' if for_prediction else 'training'} input has no rows "
                        f"(check the stream paths and filters)")
    return ScenarioStats(frame.sort_values(keys, kind="stable").reset_index(drop=True), keys)


def unmodellable(stats: ScenarioStats, config: Config) -> dict[tuple, str]:
    """Scenarios the pipeline cannot train, with the reason (checked in Spark, before any training)."""
    reasons = {}
    for key, row in zip(stats.key_tuples(), stats.frame.to_dict("records")):
        n = int(row["target_rows"])
        n_train = n - holdout_rows(config.split.test_size, n) if n else 0
        if n == 0:
            reason = f"target {config.target!r} is null in all {row['rows']} rows"
        elif n_train < config.split.min_train_rows:
            reason = (f"too few rows: {n} rows with a target leave {n_train} for training; "
                      f"split.min_train_rows is {config.split.min_train_rows}")
        elif row["target_min"] == row["target_max"]:
            kind = "a single class" if config.task == "classification" else "a constant target"
            reason = f"{kind} ({row['target_min']!r}): nothing to learn"
        elif config.time_column and int(row["distinct_times"]) < int(row["rows"]):
            reason = (f"duplicated (scenario, {config.time_column}) rows: {row['rows']} rows but "
                      f"{row['distinct_times']} distinct times")
        else:
            continue
        reasons[key] = reason
    return reasons


def train_all(spark: SparkSession, master: DataFrame, config: Config, *, run_dir: RunDirectory,
              schema: StructType, stats: ScenarioStats, todo: list[tuple], threads: int, cores: int,
              deadline: float | None, publish: Callable[[dict[str, Any], Any], Published] | None,
              attempt: int) -> pd.DataFrame:
    """Train the scenarios in ``todo``; returns their result rows (``schema``), also checkpointed one by one."""
    keys = config.scenario_keys
    if not todo:
        return pd.DataFrame()
    rows_by_key = dict(zip(stats.key_tuples(), stats.frame["rows"].astype(int)))
    fingerprints = dict(zip(stats.key_tuples(), stats.frame["fingerprint"]))
    plan = plan_partitions({k: rows_by_key[k] for k in todo}, cores=cores,
                           partitions_per_core=config.execution.partitions_per_core,
                           pack_rows=config.execution.pack_rows)
    log.info("plan: %s", plan.describe(cores))
    wanted = set(todo)
    key_rows = [r for r in stats.frame[keys].to_dict("records") if tuple(r[k] for k in keys) in wanted]
    _limit_arrow_batches(spark, config)
    distributed = distribute(spark, master, plan, keys, key_rows)
    context = ScenarioContext(config, run_id=run_dir.run_id, threads=threads, deadline=deadline, publish=publish,
                              fault_fraction=ScenarioContext.injected_faults())
    udf = _TrainGroup(context, keys, schema, run_dir.checkpoints, {k: v for k, v in fingerprints.items()
                                                                    if k in wanted}, attempt)
    with _Progress(run_dir, already=run_dir.count_checkpoints(), total=len(stats.frame)):
        # Arrow all the way: collect() would build a Row object per scenario on the driver (seconds at 10,000).
        return distributed.groupBy(BUCKET, PACK).applyInPandas(_one_argument(udf), schema).toPandas()


def skipped_rows(reasons: dict[tuple, str], stats: ScenarioStats, config: Config, run_dir: RunDirectory,
                 schema: StructType, attempt: int) -> list[dict[str, Any]]:
    """Result rows (``schema``) for scenarios rejected before training; checkpointed like any other row."""
    by_key = {k: r for k, r in zip(stats.key_tuples(), stats.frame.to_dict("records"))}
    rows = []
    for key, reason in reasons.items():
        row = blank_row(schema.fieldNames())
        row.update(dict(zip(config.scenario_keys, key)), run_id=run_dir.run_id, status="skipped", error=reason,
                   error_type="DataValidation", primary_metric=config.primary_metric,
                   n_rows=int(by_key[key]["rows"]), data_fingerprint=by_key[key]["fingerprint"],
                   executor_id="driver", attempt=attempt)
        write_checkpoint(run_dir.checkpoints, scenario_slug(dict(zip(config.scenario_keys, key))), row)
        rows.append(row)
    return rows


def predict_all(spark: SparkSession, master: DataFrame, config: Config, *, models: dict[tuple, tuple[str, str]],
                target_type: str, cores: int, stats: ScenarioStats, threads: int) -> DataFrame:
    """Lazy predictions for every input row; rows of scenarios without a usable model carry an error."""
    keys = config.scenario_keys
    column_types = {f.name: f.dataType.simpleString() for f in master.schema.fields}
    column_types.setdefault(config.target, target_type)
    schema = _schema(spark, to_ddl(prediction_columns(config, column_types)))
    rows_by_key = dict(zip(stats.key_tuples(), stats.frame["rows"].astype(int)))
    plan = plan_partitions(rows_by_key, cores=cores, partitions_per_core=config.execution.partitions_per_core,
                           pack_rows=config.execution.pack_rows)
    log.info("prediction plan: %s", plan.describe(cores))
    _limit_arrow_batches(spark, config)
    distributed = distribute(spark, master, plan, keys, stats.frame[keys].to_dict("records"))
    udf = _PredictGroup(config, keys, schema, models, threads)
    return distributed.groupBy(BUCKET, PACK).applyInPandas(_one_argument(udf), schema)


class _TrainGroup:
    """The ``applyInPandas`` function for training (a class, so Spark pickles plain state, not a closure)."""

    def __init__(self, context: ScenarioContext, keys: list[str], schema: StructType, checkpoints: str,
                 fingerprints: dict[tuple, str], attempt: int) -> None:
        self.context, self.keys, self.schema = context, keys, schema
        self.checkpoints, self.fingerprints, self.attempt = checkpoints, fingerprints, attempt

    def __call__(self, pack: pd.DataFrame) -> pd.DataFrame:
        rows = [self._train(keys, frame) for keys, frame in scenarios_of(pack, self.keys)]
        return pd.DataFrame(rows, columns=self.schema.fieldNames())

    def _train(self, keys: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
        log.info("training scenario %s (%d rows)", scenario_label(keys), len(frame))
        row = {**blank_row(self.schema.fieldNames()), **train_one(frame, keys, self.context)}
        row.update(data_fingerprint=self.fingerprints.get(tuple(keys.values()), ""), executor_id=executor_id(),
                   partition_id=_partition_id(), attempt=self.attempt)
        try:
            write_checkpoint(self.checkpoints, scenario_slug(keys), row)
        except (OSError, TypeError, ValueError) as exc:  # the row still reaches the driver through Spark
            log.warning("checkpoint of %s failed: %s", scenario_label(keys), exc)
        return row


class _PredictGroup:
    """The ``applyInPandas`` function for prediction."""

    def __init__(self, config: Config, keys: list[str], schema: StructType, models: dict[tuple, tuple[str, str]],
                 threads: int) -> None:
        self.config, self.keys, self.schema, self.models, self.threads = config, keys, schema, models, threads

    def __call__(self, pack: pd.DataFrame) -> pd.DataFrame:
        scored = [self._predict(keys, frame) for keys, frame in scenarios_of(pack, self.keys)]
        return pd.concat(scored, ignore_index=True) if len(scored) > 1 else scored[0]

    def _predict(self, keys: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
        from automl.scenario.resources import limit_threads
        from automl.tracking import load_scenario_model

        model_ref = self.models.get(tuple(keys.values()))
        try:
            if model_ref is None:
                raise LookupError(f"scenario {scenario_label(keys)} has no successfully trained model in the "
                                  f"training run")
            with limit_threads(self.threads):
                scored = predict_scenario(frame, load_scenario_model(model_ref[0]), self.config)
            scored = scored.assign(model_run_id=model_ref[1], error="")
        except Exception as exc:  # every input row is still returned, with the reason it has no prediction
            ids = frame[[c for c in self.config.sample_id_columns if c in frame.columns]].reset_index(drop=True)
            scored = ids.assign(model_run_id=model_ref[1] if model_ref else "", error=f"{type(exc).__name__}: {exc}")
        for name, value in keys.items():
            scored[name] = value
        for name in self.schema.fieldNames():
            if name not in scored.columns:
                scored[name] = None
        return scored[self.schema.fieldNames()]


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


class _Progress:
    """Logs scenarios finished so far (from the checkpoint directory) while a Spark job runs."""

    def __init__(self, run_dir: RunDirectory, *, already: int, total: int, every: float = 15.0) -> None:
        self.run_dir, self.already, self.total, self.every = run_dir, already, total, every
        self._stop = threading.Event()

    def __enter__(self) -> _Progress:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._report, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _report(self) -> None:
        while not self._stop.wait(self.every):
            done = self.run_dir.count_checkpoints()
            new = done - self.already
            elapsed = time.monotonic() - self.started
            remaining = self.total - done
            eta = f", about {remaining * elapsed / new:.0f}s left" if new > 0 else ""
            log.info("progress: %d/%d scenarios done%s", done, self.total, eta)


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
            name = open(f"/proc/{pid}/comm").read().strip()
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


def _limit_arrow_batches(spark: SparkSession, config: Config) -> None:
    """Rows per Arrow batch between the JVM and Python workers: bounds the conversion memory of big scenarios."""
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(config.execution.arrow_batch_rows))


def _one_argument(function: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """pyspark counts ``self`` of a callable object and would pass ``(key, frame)``; a plain function avoids it."""
    def apply(group: pd.DataFrame) -> pd.DataFrame:
        return function(group)

    return apply


def _schema(spark: SparkSession, ddl: str) -> StructType:
    """Parse a DDL schema through ``spark`` itself. ``DataType.fromDDL`` needs a SparkContext or a process-wide
    Connect flag that only ``SparkSession.builder.remote()`` sets and any Connect ``stop()`` clears."""
    return spark.createDataFrame([], ddl).schema


def result_schema(spark: SparkSession, config: Config, key_types: dict[str, str]) -> StructType:
    """The results table's schema (one parse per job: rows, checkpoints and the table all use it)."""
    return _schema(spark, to_ddl(result_columns(config, key_types)))


def arrow_schema(schema: StructType):
    """``schema`` in Arrow terms: what checkpoints are read back as."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, timezone="UTC")
