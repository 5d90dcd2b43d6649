"""The training job: decide what to train, train it through the engine, record the run and the champions.

Data flow: config -> master frame (engine) -> statistics -> what to train (checks, resume, changed-only)
-> slopes pooled across scenarios (a first pass, when they share them) -> scenario rows (engine, in parallel)
-> results row per scenario -> results table, holdout table, model set,
report, manifest, MLflow parent run.
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from automl.config import Config, redact, redact_config, secret_values
from automl.errors import AutoMLError, DataError
from automl.jobs.engine import Engine, Selection
from automl.jobs.outputs import publish_report, write_holdout
from automl.jobs.pooling import pooled_evidence
from automl.jobs.progress import Progress
from automl.jobs.scenario_task import ScenarioContext, train_one
from automl.jobs.summary import JobSummary, human_summary, train_outcome
from automl.modelset import ModelSet, config_hash, promote
from automl.results import STATUSES, TABLE_ONLY, arrow_schema, blank_row, check_key_names, result_columns
from automl.rundir import RunDirectory, read_manifest, write_checkpoint
from automl.scenario.checks import reason_from_statistics
from automl.scenario.keys import scenario_label, scenario_slug, to_python

if TYPE_CHECKING:
    from automl.tracking import ModelPublisher

__all__ = ["record_failure", "run_url", "spark_engine", "train"]

log = logging.getLogger(__name__)


@dataclass
class _Todo:
    """What this run does with each scenario of its input (by scenario_id)."""

    train: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)      # reason it cannot be modelled
    finished: set[str] = field(default_factory=set)             # ok in an earlier attempt of this run
    unchanged: dict[str, dict[str, Any]] = field(default_factory=dict)  # its champion (--changed-only)


def train(config: Config, *, engine: Engine | None = None, spark: Any = None, selection: Selection | None = None,
          resume: str | None = None, changed_only: bool = False, progress: bool | None = None) -> JobSummary:
    """Train every selected scenario; returns the job's summary (its JSON is the job's last line).

    With ``resume`` (a run id) only scenarios without an ``ok`` row in that run, or whose data changed since,
    are trained. With ``changed_only`` scenarios whose champion saw the same data and modelling settings are
    reported ``unchanged`` and cost nothing. ``engine`` defaults to Spark on ``spark`` (a notebook's session),
    else on the session ``config.spark`` describes. ``progress`` draws a bar (default: on a terminal).

    Example:
        >>> summary = train(load_config("configs/demand.yaml"))  # doctest: +SKIP
        >>> summary.counts["ok"]
        20
    """
    from automl.tracking import JobRun, ModelPublisher  # mlflow imports pyspark: only when a job runs

    started = time.time()
    check_key_names(config)
    selection = selection or Selection()
    engine = engine or spark_engine(config, spark)
    secrets = secret_values(config)
    engine.warm_up()
    scenarios = engine.scenarios(selection, for_prediction=False)
    keys = config.scenario_keys
    key_types = {k: scenarios.column_types[k] for k in keys}
    job = JobRun(config, "train")
    run_id = job.start(resume_run_id=resume)
    run_dir = RunDirectory(config.output_path, run_id)
    run_dir.prepare()
    attempt = int(read_manifest(run_dir.root).get("attempt", 0)) + 1
    record = functools.partial(_record, run_dir, secrets)
    record(kind="train", status="running", use_case=config.name, attempt=attempt, started_at=started,
           changed_only=changed_only, tracking_uri=job.uri, experiment_id=job.experiment_id,
           target_type=scenarios.column_types[config.target], key_types=key_types,
           sample_id=config.sample_id_columns, config=redact_config(config), **selection.describe())
    columns = result_columns(config, key_types)
    try:
        stats = scenarios.statistics()
        _refuse_identity_collisions(stats, keys)
        fingerprint = _fingerprint(stats)
        if config.data.snapshot:
            scenarios.snapshot(os.path.join(os.path.abspath(config.output_path), "snapshots", fingerprint))
        previous = run_dir.read_checkpoints(schema=arrow_schema(columns)) if resume else pd.DataFrame()
        champions = ModelSet.read(config.output_path, required=False)
        todo = _decide(stats, config, previous, champions if changed_only else None)
        log.info("%d scenarios: %d to train, %d rejected by validation, %d already done, %d unchanged",
                 len(stats), len(todo.train), len(todo.rejected), len(todo.finished), len(todo.unchanged))
        _checkpoint_untrained(todo, stats, config, run_dir, columns, attempt)
        publisher = ModelPublisher(job.uri, job.experiment_id, run_id, run_dir.models, config,
                                   config.mlflow.log_models)
        deadline = started + config.execution.deadline_seconds if config.execution.deadline_seconds else None
        to_train = stats[stats["scenario_id"].isin(set(todo.train))]
        # Pooled over every scenario it can model, also those an earlier attempt finished: the same slopes.
        pooled = pooled_evidence(scenarios, stats[~stats["scenario_id"].isin(set(todo.rejected))], config) \
            if len(to_train) else None
        context = ScenarioContext(config, run_id=run_id, threads=engine.threads, deadline=deadline,
                                  publish=publisher, fault_fraction=ScenarioContext.injected_faults(),
                                  pooled=pooled)
        with Progress(run_dir.checkpoints, total=len(stats), todo=len(to_train), bar=progress):
            trained = scenarios.train(to_train, functools.partial(train_one, context=context), columns,
                                      checkpoints=run_dir.checkpoints, attempt=attempt)
        _relog_models(previous, todo, publisher, run_dir)
        results = _current_rows(run_dir, stats, trained, columns, keys)
        model_set, notes = promote(champions, results, config, run_id=run_id,
                                   meta={"use_case": config.name, "key_types": key_types,
                                         "target_type": scenarios.column_types[config.target],
                                         "sample_id": config.sample_id_columns})
        results["champion_run_id"] = results["scenario_id"].map(lambda s: notes.get(s, ("", ""))[0])
        results["champion_note"] = results["scenario_id"].map(lambda s: notes.get(s, ("", ""))[1])
        outputs = {"holdout": write_holdout(results, run_dir, config)}
        table = results.drop(columns=list(TABLE_ONLY))
        outputs["results"] = engine.write_table(table, [c for c in columns if c[0] not in TABLE_ONLY],
                                                run_dir.table("results"))
        model_set.write(config.output_path)
        outputs["model_set"] = ModelSet.directory(config.output_path)
        if config.output.champions_table:
            engine.write_catalog_table(model_set.champions, config.output.champions_table)
            outputs["champions_table"] = config.output.champions_table
    except BaseException as exc:
        record_failure(record, job, exc)
        raise
    counts = {status: int((results["status"] == status).sum()) for status in STATUSES}
    outcome = train_outcome(results, config)
    unlogged = int((results["logging_error"].fillna("") != "").sum())
    if unlogged:
        log.warning("%d trained scenarios could not be logged to MLflow (their models are saved under %s): "
                    "'automl train --resume %s' uploads them", unlogged, run_dir.models, run_id)
    details = {**outcome.details, "data_fingerprint": fingerprint, "attempt": attempt,
               "tracking_uri": redact(job.uri, secrets), "mlflow_run_url": redact(run_url(job), secrets),
               "logging_errors": unlogged, "pooled_slopes": pooled.describe() if pooled is not None else None}
    wall = round(time.time() - started, 2)
    manifest = record(status=outcome.status, finished_at=time.time(), wall_seconds=wall, counts=counts,
                      outputs=outputs, message=outcome.message, **details)
    outputs["report"] = publish_report(run_dir, manifest, config, job, table=table)
    # The parent run holds the results table too: with mlflow.scenario_runs none it is all MLflow has.
    results_error = job.log_results(table, keys)
    finish_error = job.finish(
        succeeded=outcome.status == "succeeded",
        metrics={"scenarios_ok": counts["ok"], "scenarios_failed": counts["failed"],
                 "scenarios_skipped": counts["skipped"], "scenarios_unchanged": counts["unchanged"],
                 "wall_seconds": wall, "beats_baseline_fraction": details["beats_baseline_fraction"]},
        tags={"automl.data_fingerprint": fingerprint, "automl.results": outputs["results"]})
    tracking_error = "; ".join(error for error in (results_error, finish_error) if error)
    if tracking_error:
        details["tracking_error"] = redact(tracking_error, secrets)
    if outcome.status == "succeeded" and config.mlflow.registered_model:
        _register(config, engine, outputs, details)
    record(outputs=outputs, **details)
    for line in human_summary(results, config):
        log.info("%s", line)
    return JobSummary("train", run_id, outcome.status, counts, outputs, wall, details, outcome.message)


def spark_engine(config: Config, spark: Any = None) -> Engine:
    """The Spark engine on ``spark``, or on the session ``config.spark`` describes."""
    from automl.spark.engine import SparkEngine  # imported here: the job layer itself never needs pyspark

    return SparkEngine(spark, config) if spark is not None else SparkEngine.start(config)


def run_url(job: Any) -> str:
    """The parent run's page on an MLflow server ("" for a local store, which has no web address)."""
    if not job.uri.startswith(("http://", "https://")):
        return ""
    return f"{job.uri.rstrip('/')}/#/experiments/{job.experiment_id}/runs/{job.run_id}"


def _register(config: Config, engine: Engine, outputs: dict[str, str], details: dict[str, Any]) -> None:
    """Register the new model set (``mlflow.registered_model``); a refusal is reported, the run stands."""
    from automl.jobs.register import register

    try:
        outputs["registered_model"] = register(config, engine=engine)["model_uri"]
    except AutoMLError as exc:
        details["register_error"] = str(exc)
        log.warning("the model set was not registered: %s ('automl register' retries)", exc)


def record_failure(record: Callable[..., dict[str, Any]], job: Any, exc: BaseException) -> None:
    """Mark the run failed in its manifest and in MLflow, best effort: a failure to write that record (the
    output directory turned read-only, say) must not hide the error that ended the job."""
    try:
        record(status="failed", finished_at=time.time(), error=f"{type(exc).__name__}: {exc}")
    except OSError as unwritable:
        log.warning("the run's manifest could not record the failure: %s", unwritable)
    job.finish(succeeded=False)


def _record(run_dir: RunDirectory, secrets: frozenset[str], **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the run's manifest, with every configured secret redacted from text."""
    clean = {k: redact(v, secrets) if isinstance(v, str) else v for k, v in fields.items()}
    return run_dir.write_manifest(**clean)


def _refuse_identity_collisions(stats: pd.DataFrame, keys: list[str]) -> None:
    """Two scenarios must never share files or a model: refuse the (astronomically unlikely) id collision."""
    repeated = stats[stats["scenario_id"].duplicated(keep=False)]
    if len(repeated):
        labels = [scenario_label({k: to_python(r[k]) for k in keys}) for r in repeated.head(2).to_dict("records")]
        raise DataError(f"scenarios {labels} share the scenario id {repeated['scenario_id'].iloc[0]}; "
                        f"rename a key value")


def _fingerprint(stats: pd.DataFrame) -> str:
    """The whole input's fingerprint: a hash over every scenario's content hash."""
    digest = hashlib.sha256()
    for value in sorted(stats["fingerprint"].astype(str)):
        digest.update(value.encode())
    return digest.hexdigest()[:16]


def _decide(stats: pd.DataFrame, config: Config, previous: pd.DataFrame, champions: ModelSet | None) -> _Todo:
    """Sort every scenario into train / rejected / finished (resume) / unchanged (--changed-only)."""
    todo = _Todo()
    done: dict[str, str] = {}
    if len(previous):
        ok = previous[previous["status"].isin(["ok", "unchanged"])]
        done = dict(zip(ok["scenario_id"], ok["data_fingerprint"].fillna("")))
    current_config = config_hash(config)
    standing = champions.by_scenario() if champions is not None else {}
    stale = 0
    for row in stats.to_dict("records"):
        sid = row["scenario_id"]
        if sid in done:
            if done[sid] == row["fingerprint"]:
                todo.finished.add(sid)
                continue
            stale += 1  # its data changed since the earlier attempt: never keep a row of other data
        champion = standing.get(sid)
        if champion is not None and champion["data_fingerprint"] == row["fingerprint"] \
                and champion["config_hash"] == current_config:
            todo.unchanged[sid] = champion
            continue
        reason = reason_from_statistics(row, config)
        if reason:
            todo.rejected[sid] = reason
        else:
            todo.train.append(sid)
    if stale:
        log.warning("%d scenarios finished by the earlier attempt have other data now: they are trained again", stale)
    return todo


def _checkpoint_untrained(todo: _Todo, stats: pd.DataFrame, config: Config, run_dir: RunDirectory,
                          columns: list[tuple[str, str]], attempt: int) -> None:
    """Rows for scenarios the engine will not see (rejected, unchanged), checkpointed like any other row."""
    names = [name for name, _ in columns]
    for row in stats.to_dict("records"):
        sid = row["scenario_id"]
        if sid not in todo.rejected and sid not in todo.unchanged:
            continue
        keys = {k: to_python(row[k]) for k in config.scenario_keys}
        out = {**blank_row(names), **keys, "scenario_id": sid, "run_id": run_dir.run_id,
               "primary_metric": config.primary_metric, "n_rows": int(row["rows"]),
               "data_fingerprint": row["fingerprint"], "executor_id": "driver", "attempt": attempt}
        if sid in todo.rejected:
            out.update(status="skipped", error=todo.rejected[sid], error_type="ScenarioError", traceback="")
        else:
            champion = todo.unchanged[sid]
            out.update(status="unchanged", error="", error_type="", traceback="",
                       **{c: champion[c] for c in ("score", "baseline_score", "beats_baseline", "best_family",
                                                   "model_path", "model_uri", "mlflow_run_id")})
        write_checkpoint(run_dir.checkpoints, scenario_slug(keys), out)


def _relog_models(previous: pd.DataFrame, todo: _Todo, publisher: ModelPublisher, run_dir: RunDirectory) -> None:
    """On resume, upload models that trained but whose MLflow logging failed last time."""
    if previous.empty:
        return
    finished = previous[previous["scenario_id"].isin(todo.finished)]
    pending = finished[(finished["status"] == "ok") & (finished["logging_error"].fillna("") != "")]
    for row in pending.to_dict("records"):
        keys = {k: to_python(row[k]) for k in publisher.config.scenario_keys}
        published = publisher.relog(keys, row)
        row.update(model_uri=published.model_uri, mlflow_run_id=published.mlflow_run_id,
                   logging_error=published.logging_error)
        write_checkpoint(run_dir.checkpoints, scenario_slug(keys), row)
    if len(pending):
        log.info("re-logged %d models whose MLflow logging had failed", len(pending))


def _current_rows(run_dir: RunDirectory, stats: pd.DataFrame, trained: pd.DataFrame,
                  columns: list[tuple[str, str]], keys: list[str]) -> pd.DataFrame:
    """Exactly one row per scenario of this run's input.

    The rows the engine just returned for the scenarios trained now; the checkpoints for the others
    (rejected, unchanged, or finished by an earlier attempt): the driver opens no file for a scenario
    trained now.
    """
    done = set(trained["scenario_id"]) if len(trained) else set()
    others = [scenario_slug({k: to_python(r[k]) for k in keys})
              for r in stats.to_dict("records") if r["scenario_id"] not in done]
    earlier = run_dir.read_checkpoints(others, arrow_schema(columns)) if others else pd.DataFrame()
    parts = [part for part in (trained, earlier) if len(part)]
    if not parts:
        raise AutoMLError(f"no scenario finished: nothing was written to {run_dir.checkpoints}")
    rows = pd.concat(parts, ignore_index=True)
    current = stats[["scenario_id"]].merge(rows, on="scenario_id", how="left", validate="one_to_one")
    missing = current["status"].isna()
    if missing.any():
        raise AutoMLError(f"{int(missing.sum())} scenarios have no result row (e.g. scenario id "
                          f"{current.loc[missing, 'scenario_id'].iloc[0]}); resume the run to finish them")
    return current[[name for name, _ in columns]]

