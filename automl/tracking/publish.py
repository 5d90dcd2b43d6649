"""Per-scenario publishing, on executors: save the fitted model, then (``per_scenario``) log a child run.

Models are first saved to the run's model directory on shared storage, then uploaded: a scenario whose
logging fails keeps its model and records the error, and a resumed run can upload it again.

``mlflow.scenario_runs`` chooses the volume:

- ``per_scenario`` (default): a pyfunc directory and a child run per scenario, with its metrics, params and
  model (``3 + files in the model`` requests to the tracking server).
- ``none``: one pickle file per scenario and no MLflow request at all; the job's run gets the results table
  and summaries (:meth:`~automl.tracking.runs.JobRun.log_results`) and the registered many-model bundles
  the files.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

from automl.config import Config
from automl.results import Published, fit_from_row
from automl.scenario.keys import scenario_label, scenario_slug
from automl.scenario.pipeline import ScenarioFit
from automl.tracking import retry
from automl.tracking.pyfunc import (
    MODEL_FILE_SUFFIX,
    load_scenario_model,
    save_scenario_file,
    save_scenario_model,
)
from automl.tracking.runs import MAX_PARAM_CHARS
from automl.tracking.store import client

__all__ = ["ModelPublisher"]


@dataclass(frozen=True)
class ModelPublisher:
    """Saves a fitted scenario under ``model_dir`` and, with ``mlflow.scenario_runs: per_scenario``, logs it
    as a child run of the job (on executors).

    A logged scenario costs the tracking server ``3 + files in the model`` requests (8 for a pyfunc model):
    create the run with all its tags, one ``log_batch`` with metrics, params and the remaining tag, one
    upload per model file, and one request to end the run. The client (and its HTTP connection) is reused
    for every scenario of a process.
    """

    uri: str
    experiment_id: str
    parent_run_id: str
    model_dir: str
    config: Config
    log_models: bool = True

    @property
    def child_runs(self) -> bool:
        """False with ``mlflow.scenario_runs: none``: models are saved as files and nothing is sent to MLflow."""
        return self.config.mlflow.scenario_runs != "none"

    def __call__(self, keys: dict[str, Any], fit: ScenarioFit, *, replace_partial: bool = False) -> Published:
        """Save and log a fitted scenario; with ``replace_partial`` (a retried task, a resumed run) first delete
        a child run an interrupted earlier try left for this scenario, so each scenario keeps one."""
        path = os.path.join(self.model_dir, scenario_slug(keys))
        if not self.child_runs:
            path += MODEL_FILE_SUFFIX
            save_scenario_file(fit.model, path)
            return Published(model_path=path)
        save_scenario_model(fit.model, self.config, path)
        return self._publish(keys, fit, path, replace_partial=replace_partial)

    def relog(self, keys: dict[str, Any], row: dict[str, Any]) -> Published:
        """Upload a model saved by an earlier attempt whose logging failed (resume); nothing is retrained.

        A run the failed attempt left half-logged is deleted first, so each scenario keeps one child run.
        Without child runs there is nothing to upload: the saved model is the result.
        """
        path = row["model_path"]
        if not self.child_runs:
            return Published(model_path=path)
        fit = fit_from_row(load_scenario_model(path), row, self.config)
        return self._publish(keys, fit, path, replace_partial=True)

    def _publish(self, keys: dict[str, Any], fit: ScenarioFit, path: str, *,
                 replace_partial: bool = False) -> Published:
        breaker = retry.outage
        try:
            attempts = breaker.attempts(self.uri)
            try:
                if replace_partial:
                    self._delete_partial_runs(keys, attempts)
                run_id = self._log(keys, fit, path, attempts)
            except Exception as exc:
                breaker.failed(self.uri, exc)
                raise
            breaker.recovered(self.uri)
        except Exception as exc:  # the model is safe on disk; resume can upload it again
            return Published(model_path=path, model_uri=path,
                             logging_error=f"{type(exc).__name__}: {retry.reason(exc)}")
        return Published(model_path=path, model_uri=f"runs:/{run_id}/model", mlflow_run_id=run_id)

    def _log(self, keys: dict[str, Any], fit: ScenarioFit, path: str, attempts: int) -> str:
        tracking = client(self.uri)
        label = scenario_label(keys)
        tags = {"mlflow.parentRunId": self.parent_run_id, "automl.scenario": label,
                "automl.slug": scenario_slug(keys), **{f"scenario.{k}": str(v) for k, v in keys.items()}}
        run = retry.with_retries(lambda: tracking.create_run(self.experiment_id, tags=tags, run_name=label),
                                 what=f"create run for {label}", attempts=attempts)
        run_id = run.info.run_id
        stamp = int(time.time() * 1000)
        metrics = {**fit.metrics, **{f"baseline_{k}": v for k, v in fit.baseline.items()},
                   **{f"validation_{k}": v for k, v in fit.leaderboard.items()},
                   **{f"seconds_{k}": v for k, v in fit.seconds.items()}}
        params = {"family": fit.model.family, "seed": fit.seed, "n_rows": fit.n_rows, "n_train": fit.n_train,
                  **_model_params(fit.model.family, fit.model.params)}
        retry.with_retries(lambda: tracking.log_batch(
            run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v == v],
            params=[Param(k, str(v)[:MAX_PARAM_CHARS]) for k, v in params.items()],
            tags=[RunTag("selected_features", ", ".join(fit.model.features)[:5000])]),
            what=f"log {label}", attempts=attempts)
        if self.log_models:
            # The repository of the run's own artifact URI: client.log_artifacts() would GET the run first.
            repository = get_artifact_repository(
                add_databricks_profile_info_to_artifact_uri(run.info.artifact_uri, self.uri), tracking_uri=self.uri)
            retry.with_retries(lambda: repository.log_artifacts(path, "model"), what=f"upload model of {label}",
                               attempts=attempts)
        retry.with_retries(lambda: tracking.set_terminated(run_id), what=f"end run of {label}", attempts=attempts)
        return run_id

    def _delete_partial_runs(self, keys: dict[str, Any], attempts: int) -> None:
        tracking = client(self.uri)
        query = f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`automl.slug` = '{scenario_slug(keys)}'"
        runs = retry.with_retries(lambda: tracking.search_runs([self.experiment_id], query, ViewType.ACTIVE_ONLY),
                                  what="find earlier runs", attempts=attempts)
        for run in runs:
            retry.with_retries(lambda run=run: tracking.delete_run(run.info.run_id), what="delete half-logged run",
                               attempts=attempts)


def _model_params(family: str, params: dict[str, Any]) -> dict[str, Any]:
    """MLflow params of the shipped model: ``<family>.<name>``; an ensemble (``linear+lightgbm``, params per
    member) gets each member's as ``<member>.<name>``, and a model averaged with the naive forecast
    (``linear+naive_mean``, one set of params) its own as ``linear.<name>``: MLflow refuses ``+`` in a key."""
    ensemble = bool(params) and all(isinstance(values, dict) for values in params.values())
    members = params if ensemble else {family.split("+")[0]: params}
    return {f"{member}.{name}": value for member, values in members.items() for name, value in values.items()}
