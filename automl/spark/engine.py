"""The Spark engine: the master DataFrame's statistics, scenarios over cores with ``applyInPandas``, tables.

Everything the job layer (:mod:`automl.jobs`) asks of Spark goes through :class:`SparkEngine` and the
:class:`SparkScenarios` it opens; nothing above this module imports pyspark. Scenarios are planned into
partitions and packs (:mod:`automl.spark.planning`) and run by :mod:`automl.spark.worker` inside Python workers.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from automl.config import Config
from automl.data.master import build_master, scenario_filter
from automl.errors import DataError
from automl.jobs.engine import Selection
from automl.results import to_ddl
from automl.rundir import staging_path, swap_into_place
from automl.scenario.keys import scenario_id, to_python
from automl.spark.planning import BUCKET, PACK, distribute, plan_partitions
from automl.spark.session import cores_of, get_spark, task_cpus
from automl.spark.warmup import warm_up_workers
from automl.spark.worker import (PredictPacks, PredictTask, SummaryPacks, SummaryTask, TrainPacks, TrainTask,
                                 one_argument)

__all__ = ["SparkEngine", "SparkScenarios"]

log = logging.getLogger(__name__)


class SparkEngine:
    """One Spark session working for one use case."""

    def __init__(self, spark: SparkSession, config: Config) -> None:
        self.spark, self.config = spark, config
        self.cores = cores_of(spark, config.execution.cores)
        self.threads = task_cpus(spark)

    @classmethod
    def start(cls, config: Config, *, remote: str | None = None, log_dir: str | None = None,
              verbose: bool = False) -> SparkEngine:
        """The active session (Databricks, notebooks), a Connect session, or a new one from ``config.spark``."""
        return cls(get_spark(config.spark, remote=remote, log_dir=log_dir, verbose=verbose), config)

    def warm_up(self) -> None:
        """Start Python workers importing the pipeline's libraries while the driver plans (background)."""
        warm_up_workers(self.spark, self.config, self.cores)

    def scenarios(self, selection: Selection, *, for_prediction: bool) -> SparkScenarios:
        """The lazy master DataFrame (training or prediction input) restricted to ``selection``."""
        master = build_master(self.spark, self.config, for_prediction=for_prediction, scenarios=selection.where)
        if selection.scenarios:
            master = master.where(scenario_filter(master.schema, self.config.scenario_keys, selection.scenarios))
        return SparkScenarios(self, master, for_prediction=for_prediction)

    def write_table(self, rows: pd.DataFrame, columns: list[tuple[str, str]], path: str) -> str:
        """Write ``rows`` (typed by ``columns``) to ``path`` in ``output.format``, atomically, plus the
        configured catalog table for results; returns where it went."""
        frame = self.spark.createDataFrame(rows, schema=self.schema(columns))
        return self._save(frame, path, self.config.output.results_table)

    def write_catalog_table(self, rows: pd.DataFrame, table: str) -> None:
        """Replace catalog ``table`` with ``rows`` (the model set's champions, ``output.champions_table``)."""
        self.spark.createDataFrame(rows).write.format(self.config.output.format).mode("overwrite").saveAsTable(table)

    def schema(self, columns: list[tuple[str, str]]) -> StructType:
        """Parse a DDL schema through the session itself. ``DataType.fromDDL`` needs a SparkContext or a
        process-wide Connect flag that only ``SparkSession.builder.remote()`` sets and any Connect ``stop()``
        clears."""
        return self.spark.createDataFrame([], to_ddl(columns)).schema

    def _save(self, frame: DataFrame, path: str, table: str | None) -> str:
        """``frame`` to the run directory (atomic swap; delta and parquet alike); then, when ``table`` is
        configured, the same rows also to that catalog table, read back from the files just written so the
        work behind ``frame`` runs once."""
        output = self.config.output
        staging = staging_path(path)
        frame.write.format(output.format).save(staging)
        swap_into_place(staging, path)
        if table:
            written = self.spark.read.format(output.format).load(path)
            written.write.format(output.format).mode(output.mode).saveAsTable(table)
            log.info("also written to catalog table %s", table)
        return path


class SparkScenarios:
    """The scenarios of one master DataFrame: statistics, training, prediction."""

    def __init__(self, engine: SparkEngine, master: DataFrame, *, for_prediction: bool) -> None:
        self.engine, self.master, self.for_prediction = engine, master, for_prediction
        self.config = engine.config
        self.column_types = {f.name: f.dataType.simpleString() for f in master.schema.fields}

    def statistics(self) -> pd.DataFrame:
        """One aggregation: per scenario its keys, ``scenario_id``, rows, a content fingerprint and, for
        training, target_rows/min/max and distinct_times (what validation and planning need)."""
        config = self.config
        keys = config.scenario_keys
        columns = sorted(self.master.columns)
        aggregates = [F.count(F.lit(1)).alias("rows"),
                      # Order-independent content hash: what data each model saw, for audits and reruns.
                      F.sum(F.xxhash64(*[F.col(f"`{c}`") for c in columns]).cast("decimal(38,0)"))
                      .cast("string").alias("fingerprint")]
        if not self.for_prediction:
            target = F.col(f"`{config.target}`")
            aggregates += [F.count(target).alias("target_rows"), F.min(target).cast("string").alias("target_min"),
                           F.max(target).cast("string").alias("target_max")]
        if config.time_column:
            aggregates.append(F.countDistinct(F.col(f"`{config.time_column}`")).alias("distinct_times"))
        frame = self.master.groupBy(*keys).agg(*aggregates).toPandas()
        if frame.empty:
            kind = "prediction" if self.for_prediction else "training"
            raise DataError(f"{config.name}: the {kind} input has no rows (check the stream paths and filters)")
        frame["scenario_id"] = [scenario_id({k: to_python(v) for k, v in zip(keys, values)})
                                for values in frame[keys].itertuples(index=False, name=None)]
        return frame.sort_values("scenario_id", kind="stable").reset_index(drop=True)

    def snapshot(self, path: str) -> None:
        """Save the master DataFrame once at ``path`` and read from that copy from now on (reproducible reruns)."""
        if not os.path.exists(path):
            staging = staging_path(path)
            self.master.write.parquet(staging)
            swap_into_place(staging, path)
            log.info("master DataFrame snapshot saved: %s", path)
        self.master = self.engine.spark.read.parquet(path)

    def to_pandas(self) -> pd.DataFrame:
        """Every selected row on the driver (``automl debug``: one scenario)."""
        return self.master.toPandas()

    def head(self, n: int) -> pd.DataFrame:
        """A few rows (a registered model's input example)."""
        return self.master.limit(n).toPandas()

    def summarise(self, todo: pd.DataFrame, task: SummaryTask, columns: list[tuple[str, str]]) -> pd.DataFrame:
        """Run ``task`` on the packs of ``todo``'s scenarios (statistics rows); ``scenario_id`` and ``columns`` of
        each scenario."""
        columns = [("scenario_id", "string"), *columns]
        schema = self.engine.schema(columns)
        packs = SummaryPacks(task, self.config.scenario_keys, schema.fieldNames())
        return self._distributed(todo, "summary").groupBy(BUCKET, PACK).applyInPandas(one_argument(packs),
                                                                                       schema).toPandas()

    def train(self, todo: pd.DataFrame, task: TrainTask, columns: list[tuple[str, str]], *, checkpoints: str,
              attempt: int) -> pd.DataFrame:
        """Run ``task`` on each scenario of ``todo`` (statistics rows); returns their result rows."""
        if todo.empty:
            return pd.DataFrame()
        schema = self.engine.schema(columns)
        distributed = self._distributed(todo, "training")
        fingerprints = dict(zip(todo["scenario_id"], todo["fingerprint"]))
        packs = TrainPacks(task, self.config.scenario_keys, schema.fieldNames(), checkpoints, fingerprints, attempt)
        # Arrow all the way: collect() would build a Row object per scenario on the driver (seconds at 10,000).
        return distributed.groupBy(BUCKET, PACK).applyInPandas(one_argument(packs), schema).toPandas()

    def predict(self, scenarios: pd.DataFrame, task: PredictTask, columns: list[tuple[str, str]],
                path: str, *, progress: Callable[[int, int], None] | None = None) -> tuple[str, pd.DataFrame]:
        """Score every input row with ``task`` and write the predictions to ``path`` (and the configured
        catalog table); returns where they went and rows / rows with an error per scenario. ``progress`` is
        told Spark's finished and total tasks while that runs."""
        schema = self.engine.schema(columns)
        distributed = self._distributed(scenarios, "prediction")
        packs = PredictPacks(task, self.config.scenario_keys, schema.fieldNames())
        predictions = distributed.groupBy(BUCKET, PACK).applyInPandas(one_argument(packs), schema)
        with _TaskWatch(self.engine.spark, progress):
            where = self.engine._save(predictions, path, self.config.output.predictions_table)
        written = self.engine.spark.read.format(self.config.output.format).load(path)
        keys = self.config.scenario_keys
        tally = (written.groupBy(*keys)
                 .agg(F.count(F.lit(1)).alias("rows_out"),
                      F.sum((F.coalesce(F.col("error"), F.lit("")) != "").cast("long")).alias("rows_failed"))
                 .toPandas())
        tally["scenario_id"] = [scenario_id({k: to_python(v) for k, v in zip(keys, values)})
                                for values in tally[keys].itertuples(index=False, name=None)]
        return where, tally

    def _distributed(self, scenarios: pd.DataFrame, what: str) -> DataFrame:
        config, keys = self.config, self.config.scenario_keys
        rows = dict(zip(scenarios["scenario_id"], scenarios["rows"].astype(int)))
        plan = plan_partitions(rows, cores=self.engine.cores, partitions_per_core=config.execution.partitions_per_core,
                               pack_rows=config.execution.pack_rows)
        log.info("%s plan: %s", what, plan.describe(self.engine.cores))
        # Rows per Arrow batch between the JVM and Python workers: bounds the conversion memory of big scenarios.
        self.engine.spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(config.execution.arrow_batch_rows))
        key_rows: list[dict[str, Any]] = [
            {"scenario_id": sid, **{k: to_python(v) for k, v in zip(keys, values)}}
            for sid, *values in scenarios[["scenario_id", *keys]].itertuples(index=False, name=None)]
        return distribute(self.engine.spark, self.master, plan, keys, key_rows)


class _TaskWatch:
    """Polls Spark's status tracker while a job runs and reports finished / total tasks of the stages that
    ran meanwhile. Silent where there is no tracker (Spark Connect) and never fails the job."""

    def __init__(self, spark: SparkSession, report: Callable[[int, int], None] | None, every: float = 1.0) -> None:
        self.spark, self.report, self.every = spark, report, every
        self._stop = threading.Event()
        self._stages: dict[int, tuple[int, int]] = {}

    def __enter__(self) -> _TaskWatch:
        self._thread = None
        if self.report is not None:
            try:
                self._tracker = self.spark.sparkContext.statusTracker()
            except Exception:  # Spark Connect: no SparkContext on the client
                return self
            self._thread = threading.Thread(target=self._poll, daemon=True, name="automl-task-progress")
            self._thread.start()
        return self

    def __exit__(self, failure: type[BaseException] | None, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            total = sum(t for _, t in self._stages.values())
            if failure is None and total and self.report is not None:
                self.report(total, total)  # the job ended well: every task it ran finished

    def _poll(self) -> None:
        while not self._stop.wait(self.every):
            try:
                for stage in self._tracker.getActiveStageIds():
                    info = self._tracker.getStageInfo(stage)
                    if info is not None:
                        self._stages[stage] = (info.numCompletedTasks, info.numTasks)
                done = sum(d for d, _ in self._stages.values())
                total = sum(t for _, t in self._stages.values())
                if total and self.report is not None:
                    self.report(done, total)
            except Exception as exc:  # progress is a courtesy
                log.debug("task progress stopped: %s", exc)
                return
