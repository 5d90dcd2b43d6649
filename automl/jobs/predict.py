"""The prediction job: score every input row with its scenario's champion (or a pinned run's model).

Every input row gives exactly one output row: a prediction, or a null prediction with the reason in
``error``. The summary reports rows in and rows out.
"""
from __future__ import annotations

import functools
import logging
import time
from typing import Any

from automl.config import Config, redact, redact_config, secret_values
from automl.errors import AutoMLError, DataError
from automl.jobs.engine import Engine, Selection
from automl.jobs.outputs import publish_report, read_table
from automl.jobs.progress import TaskProgress
from automl.jobs.scenario_task import PredictTask
from automl.jobs.summary import JobSummary, predict_outcome
from automl.jobs.train import _record, record_failure, run_url, spark_engine
from automl.modelset import ModelSet, untrained_reason
from automl.results import check_key_names, prediction_columns
from automl.rundir import RunDirectory, read_manifest
from automl.scenario.keys import scenario_label, to_python

__all__ = ["predict", "trained_models"]

log = logging.getLogger(__name__)


def predict(config: Config, *, engine: Engine | None = None, spark: Any = None, selection: Selection | None = None,
            run_id: str | None = None, progress: bool | None = None) -> JobSummary:
    """Score the prediction input with the model set's champions, or with training run ``run_id``'s models.

    ``progress`` draws a bar of Spark's scoring tasks (default: on a terminal; log lines otherwise).

    Example:
        >>> summary = predict(load_config("configs/demand.yaml"))  # doctest: +SKIP
        >>> summary.details["rows_in"] == summary.details["rows_out"]
        True
    """
    from automl.tracking import JobRun  # mlflow imports pyspark: only when a job runs

    started = time.time()
    check_key_names(config)
    selection = selection or Selection()
    secrets = secret_values(config)
    models, trained, untrained = trained_models(config, run_id)
    _check_sample_id(config, trained.get("sample_id"))
    engine = engine or spark_engine(config, spark)
    engine.warm_up()
    scenarios = engine.scenarios(selection, for_prediction=True)
    types = {**scenarios.column_types}
    types.setdefault(config.target, trained.get("target_type") or "string")
    missing = [c for c in config.predict.keep_columns if c not in types]
    if missing:
        raise DataError(f"predict.keep_columns {missing} are not columns of the prediction input; columns: "
                        f"{sorted(scenarios.column_types)}")
    stats = scenarios.statistics()
    unknown = stats[~stats["scenario_id"].isin(models)]
    if len(unknown):
        example = scenario_label({k: to_python(unknown[k].iloc[0]) for k in config.scenario_keys})
        log.warning("%d scenarios in the prediction input have no trained model (e.g. %s): their rows get an "
                    "error", len(unknown), example)
    source = trained.get("source", "")
    job = JobRun(config, "predict")
    predict_run = job.start(tags={"automl.models": source})
    run_dir = RunDirectory(config.output_path, predict_run)
    record = functools.partial(_record, run_dir, secrets)
    record(kind="predict", status="running", use_case=config.name, models=source, train_run_id=run_id or "",
           started_at=started, tracking_uri=job.uri, config=redact_config(config), **selection.describe())
    columns = prediction_columns(config, types)
    task = PredictTask(config, models, [name for name, _ in columns], engine.threads, untrained)
    progress_display = TaskProgress("scoring", bar=progress)
    try:
        path, tally = scenarios.predict(stats, task, columns, run_dir.table("predictions"), progress=progress_display)
    except BaseException as exc:
        record_failure(record, job, exc)
        raise
    finally:
        progress_display.close()
    outcome = predict_outcome(tally, int(stats["rows"].sum()), config)
    counts = {"ok": int((tally["rows_failed"] == 0).sum()), "failed": int((tally["rows_failed"] > 0).sum()),
              "rows": int(tally["rows_out"].sum())}
    wall = round(time.time() - started, 2)
    details = {**outcome.details, "models": source, "train_run_id": run_id or "",
               "tracking_uri": redact(job.uri, secrets), "mlflow_run_url": redact(run_url(job), secrets)}
    outputs = {"predictions": path}
    manifest = record(status=outcome.status, finished_at=time.time(), wall_seconds=wall, counts=counts,
                      outputs=outputs, message=outcome.message, **details)
    outputs["report"] = publish_report(run_dir, manifest, config, job)
    tracking_error = job.finish(
        succeeded=outcome.status == "succeeded",
        metrics={"scenarios_ok": counts["ok"], "scenarios_failed": counts["failed"], "rows": counts["rows"],
                 "rows_failed": details["rows_failed"], "wall_seconds": wall})
    if tracking_error:
        details["tracking_error"] = redact(tracking_error, secrets)
    record(outputs=outputs, **details)
    return JobSummary("predict", predict_run, outcome.status, counts, outputs, wall, details, outcome.message)


def trained_models(config: Config, run_id: str | None
                   ) -> tuple[dict[str, tuple[str, str]], dict[str, Any], dict[str, str]]:
    """scenario_id -> (model location, run id), what they were trained with (target type, sample id), and
    scenario_id -> why a scenario that was trained has no model.

    By default the model set's champions; with ``run_id`` the models of that training run only.
    """
    if run_id is None:
        model_set = ModelSet.read(config.output_path)
        return model_set.models(), {**model_set.meta, "source": "model_set"}, model_set.untrained_reasons()
    run_dir = RunDirectory(config.output_path, run_id)
    manifest = read_manifest(run_dir.root)
    if manifest.get("kind") != "train":
        raise AutoMLError(f"{run_dir.root} is not a training run of this output path (list runs with "
                          f"'automl runs --config <file>')")
    results = read_table(run_dir.table("results"))
    if results is None:  # a non-parquet results format, or a run that never wrote its table
        results = run_dir.read_checkpoints()
    if results.empty:
        raise AutoMLError(f"training run {run_id} has no results under {run_dir.root}")
    usable = results["status"].isin(["ok", "unchanged"])
    models = {r["scenario_id"]: (r["model_path"] or r["model_uri"], r.get("champion_run_id") or run_id)
              for r in results[usable].to_dict("records")}
    untrained = {r["scenario_id"]: untrained_reason(run_id, r["status"], r.get("error"))
                 for r in results[~usable].to_dict("records")}
    return models, {**manifest, "source": f"run {run_id}"}, untrained


def _check_sample_id(config: Config, trained: list[str] | None) -> None:
    """Sample ids identify rows within a scenario the way training saw them: a different id is refused."""
    if trained and list(trained) != config.sample_id_columns:
        raise DataError(f"sample_id {config.sample_id_columns} differs from the {list(trained)} the models were "
                        f"trained with. To carry an id of the rows to score into the predictions, list it in "
                        f"predict.keep_columns instead")

