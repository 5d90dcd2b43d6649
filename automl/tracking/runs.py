"""The job's parent MLflow run: created (or reopened on resume), logged onto, and ended best-effort.

With ``mlflow.scenario_runs: none`` it is the job's only run: :meth:`JobRun.log_results` puts the results
table and per-metric summaries there instead of one child run per scenario.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from typing import Any

import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_ARTIFACTS
from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

from automl.config import Config, redact_config
from automl.errors import TrackingError
from automl.tracking.retry import reason, with_retries
from automl.tracking.store import check_tracking, client, tracking_uri, write_ahead_log

__all__ = ["JobRun", "summarize_results"]

log = logging.getLogger(__name__)

MAX_PARAM_CHARS = 6000


class JobRun:
    """The parent MLflow run of a train or predict job; its id is the job's run id."""

    def __init__(self, config: Config, kind: str, *, uri: str | None = None) -> None:
        self.config = config
        self.kind = kind
        self.uri = uri or tracking_uri(config)
        self.client = client(self.uri)
        self.experiment_id = ""
        self.run_id = ""
        self._artifact_uri = ""
        self._tables: list[str] = []

    def start(self, resume_run_id: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Create (or reopen, on resume) the parent run; returns its id."""
        check_tracking(self.uri)
        write_ahead_log(self.uri)
        self.experiment_id = self._experiment()
        if resume_run_id:
            try:
                found = with_retries(lambda: self.client.get_run(resume_run_id), what="find run")
            except Exception:
                raise TrackingError(f"run {resume_run_id!r} not found in {self.uri}") from None
            with_retries(lambda: self.client.update_run(resume_run_id, status="RUNNING"), what="reopen run")
            self.run_id, self._artifact_uri = resume_run_id, found.info.artifact_uri
            return self.run_id
        run_tags = {"automl.kind": self.kind, "automl.use_case": self.config.name, **(tags or {})}
        run = with_retries(lambda: self.client.create_run(self.experiment_id, tags=run_tags,
                                                          run_name=f"{self.config.name}-{self.kind}"),
                           what="create parent run")
        self.run_id, self._artifact_uri = run.info.run_id, run.info.artifact_uri
        params = _flatten(redact_config(self.config))
        self.log(params={k: v for k, v in params.items() if len(v) <= MAX_PARAM_CHARS})
        return self.run_id

    def log(self, *, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            tags: dict[str, str] | None = None) -> None:
        """Batch-log onto the parent run."""
        stamp = int(time.time() * 1000)
        batch_params = [Param(k, str(v)) for k, v in (params or {}).items()]
        batch_metrics = [Metric(k, float(v), stamp, 0) for k, v in (metrics or {}).items() if v == v]
        batch_tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        for start in range(0, max(len(batch_params), len(batch_metrics), 1), 100):  # MLflow caps a batch at 100
            batch = {"metrics": batch_metrics[start:start + 100], "params": batch_params[start:start + 100],
                     "tags": batch_tags if start == 0 else []}
            with_retries(lambda batch=batch: self.client.log_batch(self.run_id, **batch), what="log parent run")

    def log_artifact(self, path: str, artifact_path: str | None = None) -> None:
        """Upload a file (the run report, a table) to the parent run, under ``artifact_path`` if given."""
        # The repository of the run's own artifact URI: client.log_artifact() would GET the run first.
        repository = get_artifact_repository(add_databricks_profile_info_to_artifact_uri(self._artifact_uri, self.uri),
                                             tracking_uri=self.uri)
        with_retries(lambda: repository.log_artifact(path, artifact_path), what="upload artifact")

    def log_table(self, frame: pd.DataFrame, name: str) -> str:
        """Upload ``frame`` as ``tables/<name>.parquet`` (exact types, readable by pandas and Spark) and list it
        as a table of the run, as ``mlflow.log_table`` does (``MlflowClient.load_table`` finds it); returns the
        artifact's path in the run."""
        with tempfile.TemporaryDirectory(prefix="automl-table-") as folder:
            path = os.path.join(folder, f"{name}.parquet")
            frame.to_parquet(path, index=False)
            self.log_artifact(path, "tables")
        artifact = f"tables/{name}.parquet"
        self._tables = [*[t for t in self._tables if t != artifact], artifact]
        listed = json.dumps([{"path": t, "type": "table"} for t in self._tables])
        with_retries(lambda: self.client.set_tag(self.run_id, MLFLOW_LOGGED_ARTIFACTS, listed), what="list table")
        return artifact

    def log_results(self, results: pd.DataFrame, key_columns: list[str]) -> str:
        """At the end of a job: the results table (``tables/results.parquet``, in scenario-key order) and
        per-metric summaries over the ``ok`` scenarios (see :func:`summarize_results`).

        The job's run is all MLflow holds of the scenarios when ``mlflow.scenario_runs`` is ``none``. Best
        effort, like :meth:`finish`: returns the error, or "", and never raises, since the results are
        already written.
        """
        try:
            self.log_table(results.sort_values(key_columns, kind="stable"), "results")
            self.log(metrics=summarize_results(results))
        except Exception as exc:
            error = f"{type(exc).__name__}: {reason(exc)}"
            log.warning("could not log the results table to MLflow run %s in %s (%s); it is in the run directory",
                        self.run_id, self.uri, error)
            return error
        return ""

    def finish(self, succeeded: bool, *, metrics: dict[str, float] | None = None,
               tags: dict[str, str] | None = None) -> str:
        """Log the job's final metrics and tags and end the parent run; returns the error, or "".

        Best effort, never raises: the job's results are already written, and a tracking server that went
        away must neither lose them nor hide the exception that ended a failed job. ``--resume`` reopens
        the run and finishes it.
        """
        if not self.run_id:
            return ""
        status = "FINISHED" if succeeded else "FAILED"
        try:
            if metrics or tags:
                self.log(metrics=metrics, tags=tags)
            with_retries(lambda: self.client.set_terminated(self.run_id, status), what="end parent run")
        except Exception as exc:
            error = f"{type(exc).__name__}: {reason(exc)}"
            log.warning("could not finish MLflow run %s in %s (%s); the results are complete: resume the run "
                        "to finish it in MLflow", self.run_id, self.uri, error)
            return error
        return ""

    def _experiment(self) -> str:
        name = self.config.experiment_name
        found = with_retries(lambda: self.client.get_experiment_by_name(name), what="find experiment")
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):
            location = "file://" + os.path.abspath(os.path.join(self.config.output_path, "mlartifacts"))
        try:
            return self.client.create_experiment(name, artifact_location=location)
        except Exception:  # another job created it meanwhile
            return self.client.get_experiment_by_name(name).experiment_id


def summarize_results(results: pd.DataFrame) -> dict[str, float]:
    """Mean, median and 90th percentile over the ``ok`` scenarios of every holdout metric (``metric_*``),
    the baseline score and the per-scenario seconds, named ``<column>_<statistic>``.

    Example:
        >>> summarize_results(results)["metric_rmse_median"]  # doctest: +SKIP
        3.2
    """
    ok = results[results["status"] == "ok"]
    columns = [c for c in results.columns
               if c.startswith(("metric_", "seconds_")) or c in ("score", "baseline_score", "peak_memory_mb")]
    summary: dict[str, float] = {}
    for column in columns:
        values = pd.to_numeric(ok[column], errors="coerce").dropna()
        if len(values):
            summary.update({f"{column}_mean": float(values.mean()), f"{column}_median": float(values.median()),
                            f"{column}_p90": float(values.quantile(0.9))})
    return summary


def _flatten(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): str(node)}
