"""The library calls behind every entry point (CLI, spark-submit jobs, Databricks notebooks).

Each job function takes a validated :class:`~automl.config.Config` and returns a :class:`JobSummary`
whose JSON form is the last line a job prints.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from automl.config import Config, secret_values
from automl.data.master import build_master, scenario_filter
from automl.errors import AutoMLError, DataError
from automl.outputs import RunDirectory, latest_run, read_manifest, staging_path, swap_into_place, write_checkpoint
from automl.results import STATUSES
from automl.scenario.keys import scenario_label, scenario_slug, to_python
from automl.scenario.pipeline import ScenarioFit, fit_scenario
from automl.spark.runner import (arrow_schema, predict_all, result_schema, scenario_stats, skipped_rows,
                                 train_all, unmodellable)
from automl.spark.session import cores_of, get_spark, task_cpus
from automl.spark.warmup import warm_up_workers
from automl.tracking import JobRun, ModelPublisher, _redacted

__all__ = ["JobSummary", "debug", "list_scenarios", "predict", "train"]

log = logging.getLogger(__name__)


@dataclass
class JobSummary:
    """What a job did; ``to_json()`` is the machine-readable last line of every job."""

    kind: str
    run_id: str
    status: str
    counts: dict[str, int]
    outputs: dict[str, str]
    wall_seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


def train(config: Config, *, spark: SparkSession | None = None, resume: str | None = None,
          scenarios: list[dict[str, str]] | None = None, where: str | None = None) -> JobSummary:
    """Train every scenario, or the listed ``scenarios`` / those matching the SQL filter ``where``.

    With ``resume`` (a run id), only scenarios without an ``ok`` row in that run are trained again.

    Example:
        >>> summary = train(load_config("configs/demand.yaml"))  # doctest: +SKIP
        >>> summary.counts
        {'ok': 20, 'failed': 0, 'skipped': 0}
    """
    started = time.time()
    spark = spark or get_spark(config.spark)
    cores = cores_of(spark, config.execution.cores)
    warm_up_workers(spark, config, cores)
    master = _master(spark, config, scenarios, where, for_prediction=False)
    job = JobRun(config, "train")
    run_id = job.start(resume_run_id=resume)
    run_dir = RunDirectory(config.output_path, run_id)
    run_dir.prepare()
    attempt = int(read_manifest(run_dir.root).get("attempt", 0)) + 1
    key_types = {f.name: f.dataType.simpleString() for f in master.schema.fields}
    run_dir.write_manifest(kind="train", status="running", use_case=config.name, attempt=attempt,
                           started_at=started, scenarios=scenarios, where=where, tracking_uri=job.uri,
                           experiment_id=job.experiment_id, target_type=key_types[config.target],
                           config=_redacted(config.model_dump(mode="json"), secret_values(config)))
    try:
        stats = scenario_stats(master, config)
        fingerprint = _fingerprint(stats.frame)
        if config.data.snapshot:
            master = _snapshot(spark, master, config, fingerprint)
        reasons = unmodellable(stats, config)
        schema = result_schema(spark, config, key_types)
        checkpoint_schema = arrow_schema(schema)
        previous = run_dir.read_checkpoints(schema=checkpoint_schema) if resume else pd.DataFrame()
        finished = _ok_keys(previous, config)
        todo = [k for k in stats.key_tuples() if k not in reasons and k not in finished]
        log.info("%d scenarios: %d to train, %d rejected by validation, %d already done", len(stats.frame),
                 len(todo), len(reasons), len(finished))
        skipped_rows({k: r for k, r in reasons.items() if k not in finished}, stats, config, run_dir, schema,
                     attempt)
        publisher = ModelPublisher(job.uri, job.experiment_id, run_id, run_dir.models, config,
                                   config.mlflow.log_models)
        deadline = started + config.execution.deadline_seconds if config.execution.deadline_seconds else None
        trained = train_all(spark, master, config, run_dir=run_dir, schema=schema, stats=stats, todo=todo,
                            threads=task_cpus(spark), cores=cores,
                            deadline=deadline, publish=publisher, attempt=attempt)
        _relog_models(previous, config, publisher, run_dir)
        results = _current_rows(run_dir, stats, config, trained, checkpoint_schema)
        table = spark.createDataFrame(results, schema=schema)
        outputs = {"results": _write_table(table, run_dir.table("results"), config, config.output.results_table)}
    except BaseException as exc:
        run_dir.write_manifest(status="failed", finished_at=time.time(), error=f"{type(exc).__name__}: {exc}")
        job.finish(succeeded=False)
        raise
    counts = {status: int((results["status"] == status).sum()) for status in STATUSES}
    failed_fraction = counts["failed"] / max(1, len(results))
    status = "succeeded" if failed_fraction <= config.execution.max_failed_fraction else "failed"
    ok = results[results["status"] == "ok"]
    unlogged = int((ok["logging_error"].fillna("") != "").sum())
    details = {"failed_fraction": round(failed_fraction, 4), "data_fingerprint": fingerprint,
               "beats_baseline_fraction": round(float(ok["beats_baseline"].mean()), 4) if len(ok) else 0.0,
               "attempt": attempt, "tracking_uri": job.uri, "logging_errors": unlogged}
    if unlogged:
        log.warning("%d trained scenarios could not be logged to MLflow (their models are saved under %s): "
                    "'automl train --resume %s' uploads them", unlogged, run_dir.models, run_id)
    tracking_error = job.finish(
        succeeded=status == "succeeded",
        metrics={"scenarios_ok": counts["ok"], "scenarios_failed": counts["failed"],
                 "scenarios_skipped": counts["skipped"], "wall_seconds": time.time() - started,
                 "beats_baseline_fraction": details["beats_baseline_fraction"]},
        tags={"automl.data_fingerprint": fingerprint, "automl.results": outputs["results"]})
    if tracking_error:
        details["tracking_error"] = tracking_error
    run_dir.write_manifest(status=status, finished_at=time.time(), counts=counts, outputs=outputs, **details)
    return JobSummary("train", run_id, status, counts, outputs, round(time.time() - started, 2), details)


def predict(config: Config, *, spark: SparkSession | None = None, run_id: str | None = None,
            scenarios: list[dict[str, str]] | None = None, where: str | None = None) -> JobSummary:
    """Score the prediction input with the models of training run ``run_id`` (default: latest successful)."""
    started = time.time()
    spark = spark or get_spark(config.spark)
    train_run = run_id or latest_run(config.output_path, kind="train")
    cores = cores_of(spark, config.execution.cores)
    warm_up_workers(spark, config, cores)
    train_dir = RunDirectory(config.output_path, train_run)
    manifest = read_manifest(train_dir.root)
    if manifest.get("kind") != "train":
        raise AutoMLError(f"{train_dir.root} is not a training run of this output path")
    results = _read_results(train_dir)
    ok = results[results["status"] == "ok"]
    keys = config.scenario_keys
    models = {tuple(r[k] for k in keys): (r["model_path"] or r["model_uri"], r["mlflow_run_id"] or "")
              for r in ok.to_dict("records")}
    master = _master(spark, config, scenarios, where, for_prediction=True)
    stats = scenario_stats(master, config, for_prediction=True)
    unknown = [k for k in stats.key_tuples() if k not in models]
    if unknown:
        log.warning("%d scenarios in the prediction input have no trained model (e.g. %s): their rows get an "
                    "error", len(unknown), scenario_label(dict(zip(keys, unknown[0]))))
    job = JobRun(config, "predict")
    predict_run = job.start(tags={"automl.train_run_id": train_run})
    run_dir = RunDirectory(config.output_path, predict_run)
    run_dir.write_manifest(kind="predict", status="running", use_case=config.name, train_run_id=train_run,
                           started_at=started)
    try:
        predictions = predict_all(spark, master, config, models=models, target_type=manifest["target_type"],
                                  cores=cores, stats=stats,
                                  threads=task_cpus(spark))
        path = _write_table(predictions, run_dir.table("predictions"), config, config.output.predictions_table)
        written = spark.read.format(config.output.format).load(path) if config.output.format != "delta" \
            else predictions
        tally = written.groupBy(*keys).agg(F.max((F.col("error") != "").cast("int")).alias("bad"),
                                           F.count(F.lit(1)).alias("rows")).toPandas()
    except BaseException as exc:
        run_dir.write_manifest(status="failed", finished_at=time.time(), error=f"{type(exc).__name__}: {exc}")
        job.finish(succeeded=False)
        raise
    counts = {"ok": int((tally["bad"] == 0).sum()), "failed": int((tally["bad"] == 1).sum()),
              "rows": int(tally["rows"].sum())}
    failed_fraction = counts["failed"] / max(1, len(tally))
    status = "succeeded" if failed_fraction <= config.execution.max_failed_fraction else "failed"
    outputs = {"predictions": path}
    tracking_error = job.finish(
        succeeded=status == "succeeded",
        metrics={"scenarios_ok": counts["ok"], "scenarios_failed": counts["failed"], "rows": counts["rows"],
                 "wall_seconds": time.time() - started})
    details = {"train_run_id": train_run, "failed_fraction": round(failed_fraction, 4)}
    if tracking_error:
        details["tracking_error"] = tracking_error
    run_dir.write_manifest(status=status, finished_at=time.time(), counts=counts, outputs=outputs, **details)
    return JobSummary("predict", predict_run, status, counts, outputs, round(time.time() - started, 2), details)


def debug(config: Config, selection: dict[str, str], *, spark: SparkSession | None = None) -> ScenarioFit:
    """Fit one scenario in this Python process, with no UDF in between: ``breakpoint()`` works anywhere.

    Only that scenario's rows are read (the key filter is pushed down to the sources); errors propagate
    so a debugger can open on them.
    """
    spark = spark or get_spark(config.spark)
    rows = _master(spark, config, [selection], None, for_prediction=False).toPandas()
    if rows.empty:
        raise DataError(f"no rows for scenario {scenario_label(selection)}; list the valid keys with "
                        f"'automl scenarios --config <file>'")
    keys = {k: to_python(rows[k].iloc[0]) for k in config.scenario_keys}
    log.info("scenario %s: %d rows", scenario_label(keys), len(rows))
    return fit_scenario(rows, keys, config, threads=os.cpu_count() or 1)


def list_scenarios(config: Config, *, spark: SparkSession | None = None, limit: int = 50) -> pd.DataFrame:
    """Scenario keys with their row counts, largest first (to pick one for ``automl debug``)."""
    spark = spark or get_spark(config.spark)
    master = build_master(spark, config)
    counts = master.groupBy(*config.scenario_keys).count().orderBy(F.desc("count"))
    return counts.limit(limit).toPandas()


def _master(spark: SparkSession, config: Config, scenarios: list[dict[str, str]] | None, where: str | None, *,
            for_prediction: bool) -> DataFrame:
    """The master DataFrame, restricted to the selected scenarios (Spark pushes key filters to the sources)."""
    master = build_master(spark, config, for_prediction=for_prediction, scenarios=where)
    if scenarios:
        master = master.where(scenario_filter(master.schema, config.scenario_keys, scenarios))
    return master


def _fingerprint(stats: pd.DataFrame) -> str:
    """The whole input's fingerprint: a hash over every scenario's content hash."""
    digest = hashlib.sha256()
    for value in sorted(stats["fingerprint"].astype(str)):
        digest.update(value.encode())
    return digest.hexdigest()[:16]


def _snapshot(spark: SparkSession, master: DataFrame, config: Config, fingerprint: str) -> DataFrame:
    """Save the master DataFrame once per fingerprint and train from that copy (reproducible reruns)."""
    path = os.path.join(os.path.abspath(config.output_path), "snapshots", fingerprint)
    if not os.path.exists(path):
        staging = staging_path(path)
        master.write.parquet(staging)
        swap_into_place(staging, path)
        log.info("master DataFrame snapshot saved: %s", path)
    return spark.read.parquet(path)


def _ok_keys(previous: pd.DataFrame, config: Config) -> set[tuple]:
    if previous.empty:
        return set()
    ok = previous[previous["status"] == "ok"]
    return {tuple(r) for r in ok[config.scenario_keys].itertuples(index=False, name=None)}


def _relog_models(previous: pd.DataFrame, config: Config, publisher: ModelPublisher, run_dir: RunDirectory) -> None:
    """On resume, upload models that trained but whose MLflow logging failed last time."""
    if previous.empty:
        return
    pending = previous[(previous["status"] == "ok") & (previous["logging_error"].fillna("") != "")]
    for row in pending.to_dict("records"):
        keys = {k: row[k] for k in config.scenario_keys}
        published = publisher.relog(keys, row)
        row.update(model_uri=published.model_uri, mlflow_run_id=published.mlflow_run_id,
                   logging_error=published.logging_error)
        write_checkpoint(run_dir.checkpoints, scenario_slug(keys), row)
    if len(pending):
        log.info("re-logged %d models whose MLflow logging had failed", len(pending))


def _current_rows(run_dir: RunDirectory, stats: Any, config: Config, trained: pd.DataFrame,
                  checkpoint_schema: pa.Schema) -> pd.DataFrame:
    """Exactly one row per scenario of this run's input.

    The rows Spark just returned for the scenarios trained now; the checkpoints for the others (rejected by
    validation, or finished by an earlier attempt): the driver opens no file for a scenario trained now.
    """
    keys = config.scenario_keys
    done = set(trained[keys].itertuples(index=False, name=None)) if len(trained) else set()
    others = [scenario_slug(dict(zip(keys, k))) for k in stats.key_tuples() if k not in done]
    earlier = run_dir.read_checkpoints(others, checkpoint_schema) if others else pd.DataFrame()
    parts = [part for part in (trained, earlier) if len(part)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    wanted = pd.DataFrame(stats.key_tuples(), columns=config.scenario_keys)
    if rows.empty:
        raise AutoMLError(f"no scenario finished: nothing was written to {run_dir.checkpoints}")
    current = wanted.merge(rows, on=config.scenario_keys, how="left", validate="one_to_one")
    missing = current["status"].isna()
    if missing.any():
        example = scenario_label(dict(zip(config.scenario_keys, stats.key_tuples()[int(missing.idxmax())])))
        raise AutoMLError(f"{int(missing.sum())} scenarios have no result row (e.g. {example}); "
                          f"resume the run to finish them")
    return current


def _write_table(frame: DataFrame, path: str, config: Config, table: str | None) -> str:
    """Write a table to the catalog ``table`` when configured, else to ``path`` atomically."""
    if table:
        frame.write.format(config.output.format).mode(config.output.mode).saveAsTable(table)
        return table
    staging = staging_path(path)
    frame.write.format(config.output.format).save(staging)
    swap_into_place(staging, path)
    return path


def _read_results(run_dir: RunDirectory) -> pd.DataFrame:
    path = run_dir.table("results")
    if os.path.exists(path):
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pandas()
        except Exception:  # a non-parquet results format: the checkpoints hold the same rows
            pass
    rows = run_dir.read_checkpoints()
    if rows.empty:
        raise AutoMLError(f"training run {run_dir.run_id} has no results under {run_dir.root}")
    return rows
