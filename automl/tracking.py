"""Every MLflow call in one place: the job's parent run, per-scenario runs and models, retries.

Executors log through :class:`ModelPublisher`, which is picklable and reuses one client per process.
Models are first saved to the run's model directory on shared storage, then uploaded: a scenario whose
logging fails keeps its model and records the error, and a resumed run can upload it again.
"""
from __future__ import annotations

import functools
import logging
import os
import random
import shutil
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import mlflow
import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from automl.config import Config, secret_values
from automl.errors import TrackingError
from automl.scenario.keys import scenario_label, scenario_slug
from automl.scenario.model import ScenarioModel
from automl.scenario.pipeline import Published, ScenarioFit, predict_scenario

__all__ = ["ModelPublisher", "ScenarioPyfunc", "JobRun", "check_tracking", "load_scenario_model",
           "tracking_uri", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_PARAM_CHARS = 6000
# Our own retries replace MLflow's long default ones: a dead server must be reported in seconds, not minutes.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")


def tracking_uri(config: Config) -> str:
    """The configured URI, else a local SQLite store beside the outputs (the file store is deprecated)."""
    if config.mlflow.tracking_uri:
        return config.mlflow.tracking_uri
    return "sqlite:///" + os.path.abspath(os.path.join(config.output_path, "mlflow.db"))


def with_retries(action: Callable[[], T], *, what: str, attempts: int = 5, base_delay: float = 0.5) -> T:
    """Run ``action``, retrying transient failures with exponential backoff and jitter."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not _transient(exc):
                raise
            delay = base_delay * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning("%s failed (%s), retry %d/%d in %.1fs", what, _short(exc), attempt, attempts - 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def check_tracking(uri: str) -> None:
    """Fail fast, before any training, when the tracking store cannot be reached."""
    try:
        with_retries(lambda: _client(uri).search_experiments(max_results=1), what="MLflow check", attempts=3)
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {uri!r} is not reachable: {_short(exc)}. Start the server, "
                            f"fix mlflow.tracking_uri, or leave it empty for a local store.") from None


@functools.lru_cache(maxsize=4)
def _client(uri: str) -> MlflowClient:
    """One client per tracking URI and process: executors reuse it for every scenario they run."""
    return MlflowClient(tracking_uri=uri)


class JobRun:
    """The parent MLflow run of a train or predict job; its id is the job's run id."""

    def __init__(self, config: Config, kind: str) -> None:
        self.config = config
        self.kind = kind
        self.uri = tracking_uri(config)
        self.client = _client(self.uri)
        self.experiment_id = ""
        self.run_id = ""

    def start(self, resume_run_id: str | None = None, tags: dict[str, str] | None = None) -> str:
        """Create (or reopen, on resume) the parent run; returns its id."""
        check_tracking(self.uri)
        self.experiment_id = self._experiment()
        if resume_run_id:
            try:
                with_retries(lambda: self.client.get_run(resume_run_id), what="find run")
            except Exception:
                raise TrackingError(f"run {resume_run_id!r} not found in {self.uri}") from None
            self.client.update_run(resume_run_id, status="RUNNING")
            self.run_id = resume_run_id
            return self.run_id
        run_tags = {"automl.kind": self.kind, "automl.use_case": self.config.name, **(tags or {})}
        run = with_retries(lambda: self.client.create_run(self.experiment_id, tags=run_tags,
                                                          run_name=f"{self.config.name}-{self.kind}"),
                           what="create parent run")
        self.run_id = run.info.run_id
        params = _flatten(_redacted(self.config.model_dump(mode="json"), secret_values(self.config)))
        self.log(params={k: v for k, v in params.items() if len(v) <= _MAX_PARAM_CHARS})
        return self.run_id

    def log(self, *, params: dict[str, Any] | None = None, metrics: dict[str, float] | None = None,
            tags: dict[str, str] | None = None) -> None:
        """Batch-log onto the parent run."""
        stamp = int(time.time() * 1000)
        batch_params = [Param(k, str(v)) for k, v in (params or {}).items()]
        batch_metrics = [Metric(k, float(v), stamp, 0) for k, v in (metrics or {}).items() if v == v]
        batch_tags = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        for start in range(0, max(len(batch_params), 1), 100):  # MLflow caps a batch at 100 params
            with_retries(lambda: self.client.log_batch(self.run_id, metrics=batch_metrics if start == 0 else [],
                                                       params=batch_params[start:start + 100],
                                                       tags=batch_tags if start == 0 else []),
                         what="log parent run")

    def log_artifact(self, path: str) -> None:
        with_retries(lambda: self.client.log_artifact(self.run_id, path), what="upload artifact")

    def finish(self, succeeded: bool) -> None:
        status = "FINISHED" if succeeded else "FAILED"
        with_retries(lambda: self.client.set_terminated(self.run_id, status), what="end parent run")

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


@dataclass(frozen=True)
class ModelPublisher:
    """Saves a fitted scenario under ``model_dir`` and logs it as a child run of the job (on executors)."""

    uri: str
    experiment_id: str
    parent_run_id: str
    model_dir: str
    config: Config
    log_models: bool = True

    def __call__(self, keys: dict[str, Any], fit: ScenarioFit) -> Published:
        path = os.path.join(self.model_dir, scenario_slug(keys))
        save_scenario_model(fit.model, self.config, path)
        try:
            run_id = self._log(keys, fit, path)
        except Exception as exc:  # the model is safe on disk; resume can upload it again
            return Published(model_path=path, model_uri=path, logging_error=f"{type(exc).__name__}: {_short(exc)}")
        return Published(model_path=path, model_uri=f"runs:/{run_id}/model", mlflow_run_id=run_id)

    def relog(self, keys: dict[str, Any], row: dict[str, Any]) -> Published:
        """Upload a model saved by an earlier attempt whose logging failed (resume)."""
        path = row["model_path"]
        model = load_scenario_model(path)
        fit = ScenarioFit(model, _metrics_of(row, "metric_"), {}, {}, int(row.get("n_evals") or 0),
                          int(row.get("n_rows") or 0), int(row.get("n_train") or 0), int(row.get("n_test") or 0),
                          int(row.get("seed") or 0))
        try:
            run_id = self._log(keys, fit, path)
        except Exception as exc:
            return Published(model_path=path, model_uri=path, logging_error=f"{type(exc).__name__}: {_short(exc)}")
        return Published(model_path=path, model_uri=f"runs:/{run_id}/model", mlflow_run_id=run_id)

    def _log(self, keys: dict[str, Any], fit: ScenarioFit, path: str) -> str:
        client = _client(self.uri)
        label = scenario_label(keys)
        tags = {"mlflow.parentRunId": self.parent_run_id, "automl.scenario": label,
                **{f"scenario.{k}": str(v) for k, v in keys.items()}}
        run = with_retries(lambda: client.create_run(self.experiment_id, tags=tags, run_name=label),
                           what=f"create run for {label}")
        run_id = run.info.run_id
        stamp = int(time.time() * 1000)
        metrics = {**fit.metrics, **{f"baseline_{k}": v for k, v in fit.baseline.items()},
                   **{f"validation_{k}": v for k, v in fit.leaderboard.items()},
                   **{f"seconds_{k}": v for k, v in fit.seconds.items()}}
        params = {"family": fit.model.family, "seed": fit.seed, "n_rows": fit.n_rows, "n_train": fit.n_train,
                  **{f"{fit.model.family}.{k}": v for k, v in fit.model.params.items()}}
        with_retries(lambda: client.log_batch(
            run_id, metrics=[Metric(k, float(v), stamp, 0) for k, v in metrics.items() if v == v],
            params=[Param(k, str(v)[:_MAX_PARAM_CHARS]) for k, v in params.items()],
            tags=[RunTag("selected_features", ", ".join(fit.model.features)[:5000])]),
            what=f"log {label}")
        if self.log_models:
            with_retries(lambda: client.log_artifacts(run_id, path, "model"), what=f"upload model of {label}")
        with_retries(lambda: client.set_terminated(run_id), what=f"end run of {label}")
        return run_id


class ScenarioPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc face of a scenario model: ``predict(rows)`` returns sample ids and predictions."""

    def __init__(self, model: ScenarioModel, config: Config) -> None:
        self.model = model
        self.config = config

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_scenario(model_input, self.model, self.config)


def save_scenario_model(model: ScenarioModel, config: Config, path: str) -> None:
    """Write the model in MLflow's pyfunc format (loadable with ``mlflow.pyfunc.load_model(path)``)."""
    if os.path.exists(path):
        shutil.rmtree(path)  # a retried scenario replaces its earlier attempt
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.tmp-{os.getpid()}"
    mlflow.pyfunc.save_model(staging, python_model=ScenarioPyfunc(model, config),
                             pip_requirements=["automl"])  # skips slow requirement inference
    os.replace(staging, path)


@functools.lru_cache(maxsize=64)
def load_scenario_model(path_or_uri: str) -> ScenarioModel:
    """The scenario model behind a saved pyfunc model (local path or ``runs:/`` URI), cached per process."""
    return mlflow.pyfunc.load_model(path_or_uri).unwrap_python_model().model


def _transient(exc: Exception) -> bool:
    """Errors worth retrying: connection problems, server-side 5xx/429, a locked SQLite store."""
    text = f"{type(exc).__name__} {exc}".lower()
    permanent = ("invalid_parameter_value", "resource_already_exists", "resource_does_not_exist",
                 "permission_denied", "unauthenticated")
    return not any(p in text for p in permanent)


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _flatten(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): str(node)}


def _redacted(node: Any, secrets: frozenset[str]) -> Any:
    """Replace every value that came from an environment variable with ``***``."""
    if isinstance(node, dict):
        return {k: _redacted(v, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_redacted(v, secrets) for v in node]
    if isinstance(node, str) and secrets and any(s in node for s in secrets):
        return "***"
    return node


def _metrics_of(row: dict[str, Any], prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: float(v) for k, v in row.items() if k.startswith(prefix) and v is not None}
