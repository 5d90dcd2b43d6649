"""Every MLflow call in one place: the job's parent run, per-scenario runs and models, retries.

Executors log through :class:`ModelPublisher`, which is picklable and reuses one client per process.
Models are first saved to the run's model directory on shared storage, then uploaded: a scenario whose
logging fails keeps its model and records the error, and a resumed run can upload it again.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import random
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, TypeVar

import mlflow
import pandas as pd
import requests
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import InvalidUrlException, MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient
from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

from automl.config import Config, secret_values
from automl.errors import TrackingError
from automl.scenario.keys import scenario_label, scenario_slug
from automl.scenario.model import ScenarioModel
from automl.results import Published, fit_from_row
from automl.scenario.pipeline import ScenarioFit, predict_scenario

__all__ = ["ModelPublisher", "ScenarioPyfunc", "JobRun", "check_tracking", "load_scenario_model",
           "tracking_uri", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_MAX_PARAM_CHARS = 6000
# Our own retries replace MLflow's long default ones: a dead server must be reported in seconds, not minutes.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# set_terminated() would otherwise GET the run back, only to print a "View run" link to stdout: one more
# request per scenario, thousands of lines in executor logs, and noise above the CLI's final JSON line.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

_CHECK_TIMEOUT = 10  # seconds per request of check_tracking: a firewalled host is reported in ~30 s, not minutes
_OUTAGE_COOLDOWN = 30.0  # seconds a process stops logging after MLflow failed for good (see _Outage)
_ATTEMPTS = 5  # per MLflow call: waits of about 0.5 + 1 + 2 + 4 s ride out a server restart or a locked store
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_sleep = time.sleep  # the backoff's clock; tests replace it


def tracking_uri(config: Config) -> str:
    """The configured URI, else a local SQLite store beside the outputs (the file store is deprecated)."""
    if config.mlflow.tracking_uri:
        return config.mlflow.tracking_uri
    return "sqlite:///" + os.path.abspath(os.path.join(config.output_path, "mlflow.db"))


def with_retries(action: Callable[[], T], *, what: str, attempts: int = _ATTEMPTS, base_delay: float = 0.5) -> T:
    """Run ``action``, retrying transient failures (see :func:`_transient`) with exponential backoff and jitter.

    Permanent errors (a rejected value, a missing run, a bug) are raised at once.

    Example:
        >>> with_retries(lambda: client.get_run(run_id), what="find run")  # doctest: +SKIP
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not _transient(exc):
                raise
            delay = base_delay * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning("%s failed (%s), retry %d/%d in %.1fs", what, _reason(exc), attempt, attempts - 1, delay)
            _sleep(delay)
    raise AssertionError("unreachable")


def check_tracking(uri: str) -> None:
    """Fail fast, before any training, when the tracking store cannot be reached.

    Three attempts with a short request timeout: a refused connection is reported in about two seconds,
    an unanswered one (a firewall dropping packets) in about half a minute.
    """
    try:
        with _http_limits(uri, timeout=_CHECK_TIMEOUT, retries=0):
            with_retries(lambda: _client(uri).search_experiments(max_results=1), what="MLflow check", attempts=3)
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {uri!r} is not reachable ({_reason(exc)}). Start the "
                            f"server, fix mlflow.tracking_uri, or leave it empty for a local store under "
                            f"output.path.") from None


def _write_ahead_log(uri: str) -> None:
    """Switch a local SQLite store to write-ahead logging (a setting kept in the database file).

    Each scenario commits 8 times; on this VM's disk that took 301 ms per scenario in SQLite's default
    journal mode and 127 ms with WAL, and readers no longer block other workers' writes. WAL needs shared
    memory between the processes, so it is left off on network filesystems.
    """
    if not uri.startswith("sqlite:///"):
        return
    path = uri[len("sqlite:///"):]
    if not os.path.isfile(path) or _filesystem_type(path) not in _LOCAL_FILESYSTEMS:
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as database:
            database.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a slower store, nothing worse
        log.info("MLflow store %s stays in its journal mode: %s", path, exc)


_LOCAL_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs"})


def _filesystem_type(path: str) -> str:
    """The type of the filesystem holding ``path`` (Linux ``/proc/mounts``; "" where unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        return ""
    return kind


@contextlib.contextmanager
def _http_limits(uri: str, *, timeout: float, retries: int) -> Iterator[None]:
    """Tighter MLflow HTTP settings for a moment (MLflow reads them from the environment on every request).

    Only for the driver's start-up check: the environment is process-wide.
    """
    if not uri.startswith(("http://", "https://")):
        yield
        return
    names = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries)}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


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
        _write_ahead_log(self.uri)
        self.experiment_id = self._experiment()
        if resume_run_id:
            try:
                with_retries(lambda: self.client.get_run(resume_run_id), what="find run")
            except Exception:
                raise TrackingError(f"run {resume_run_id!r} not found in {self.uri}") from None
            with_retries(lambda: self.client.update_run(resume_run_id, status="RUNNING"), what="reopen run")
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
            error = f"{type(exc).__name__}: {_reason(exc)}"
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


@dataclass(frozen=True)
class ModelPublisher:
    """Saves a fitted scenario under ``model_dir`` and logs it as a child run of the job (on executors).

    A scenario costs the tracking server ``3 + files in the model`` requests (8 for a pyfunc model): create
    the run with all its tags, one ``log_batch`` with metrics, params and the remaining tag, one upload per
    model file, and one request to end the run. The client (and its HTTP connection) is reused for every
    scenario of a process.
    """

    uri: str
    experiment_id: str
    parent_run_id: str
    model_dir: str
    config: Config
    log_models: bool = True

    def __call__(self, keys: dict[str, Any], fit: ScenarioFit) -> Published:
        path = os.path.join(self.model_dir, scenario_slug(keys))
        save_scenario_model(fit.model, self.config, path)
        return self._publish(keys, fit, path)

    def relog(self, keys: dict[str, Any], row: dict[str, Any]) -> Published:
        """Upload a model saved by an earlier attempt whose logging failed (resume); nothing is retrained.

        A run the failed attempt left half-logged is deleted first, so each scenario keeps one child run.
        """
        path = row["model_path"]
        fit = fit_from_row(load_scenario_model(path), row, self.config)
        return self._publish(keys, fit, path, replace_partial=True)

    def _publish(self, keys: dict[str, Any], fit: ScenarioFit, path: str, *,
                 replace_partial: bool = False) -> Published:
        try:
            attempts = _outage.attempts(self.uri)
            try:
                if replace_partial:
                    self._delete_partial_runs(keys, attempts)
                run_id = self._log(keys, fit, path, attempts)
            except Exception as exc:
                _outage.failed(self.uri, exc)
                raise
            _outage.recovered(self.uri)
        except Exception as exc:  # the model is safe on disk; resume can upload it again
            return Published(model_path=path, model_uri=path, logging_error=f"{type(exc).__name__}: {_reason(exc)}")
        return Published(model_path=path, model_uri=f"runs:/{run_id}/model", mlflow_run_id=run_id)

    def _log(self, keys: dict[str, Any], fit: ScenarioFit, path: str, attempts: int) -> str:
        client = _client(self.uri)
        label = scenario_label(keys)
        tags = {"mlflow.parentRunId": self.parent_run_id, "automl.scenario": label,
                "automl.slug": scenario_slug(keys), **{f"scenario.{k}": str(v) for k, v in keys.items()}}
        run = with_retries(lambda: client.create_run(self.experiment_id, tags=tags, run_name=label),
                           what=f"create run for {label}", attempts=attempts)
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
            what=f"log {label}", attempts=attempts)
        if self.log_models:
            # The repository of the run's own artifact URI: client.log_artifacts() would GET the run first.
            repository = get_artifact_repository(
                add_databricks_profile_info_to_artifact_uri(run.info.artifact_uri, self.uri), tracking_uri=self.uri)
            with_retries(lambda: repository.log_artifacts(path, "model"), what=f"upload model of {label}",
                         attempts=attempts)
        with_retries(lambda: client.set_terminated(run_id), what=f"end run of {label}", attempts=attempts)
        return run_id

    def _delete_partial_runs(self, keys: dict[str, Any], attempts: int) -> None:
        client = _client(self.uri)
        query = f"tags.mlflow.parentRunId = '{self.parent_run_id}' and tags.`automl.slug` = '{scenario_slug(keys)}'"
        runs = with_retries(lambda: client.search_runs([self.experiment_id], query, ViewType.ACTIVE_ONLY),
                            what="find earlier runs", attempts=attempts)
        for run in runs:
            with_retries(lambda: client.delete_run(run.info.run_id), what="delete half-logged run",
                         attempts=attempts)


class _Outage:
    """Per process and tracking URI: stop knocking on a tracking server that is down.

    Once a scenario's logging failed on a transient error after every retry, the scenarios that follow in
    this process do not contact MLflow for ``cooldown`` seconds (each would otherwise spend the whole backoff
    on a dead server); then one scenario tries once, without retries, and success ends the outage. Skipped
    scenarios keep their models and a ``logging_error``; ``--resume`` uploads them.
    """

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self.retry_at: dict[str, float] = {}

    def attempts(self, uri: str) -> int:
        """Attempts per call for the next scenario; raises :class:`TrackingError` while the server rests."""
        retry_at = self.retry_at.get(uri)
        if retry_at is None:
            return _ATTEMPTS
        if time.monotonic() < retry_at:
            raise TrackingError(f"not sent: MLflow at {uri} failed for an earlier scenario of this process; "
                                f"trying again after {self.cooldown:.0f}s")
        return 1

    def failed(self, uri: str, exc: Exception) -> None:
        if not _transient(exc):
            return
        if uri not in self.retry_at:
            log.warning("MLflow at %s is not answering (%s): this process logs no scenario for %.0fs; their models "
                        "are saved and --resume uploads them", uri, _reason(exc), self.cooldown)
        self.retry_at[uri] = time.monotonic() + self.cooldown

    def recovered(self, uri: str) -> None:
        self.retry_at.pop(uri, None)


_outage = _Outage(_OUTAGE_COOLDOWN)


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
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    pyfunc_log.addFilter(_expected_save_warnings)
    try:
        mlflow.pyfunc.save_model(staging, python_model=ScenarioPyfunc(model, config),
                                 pip_requirements=["automl"])  # skips slow requirement inference
    finally:
        pyfunc_log.removeFilter(_expected_save_warnings)
    os.replace(staging, path)


def _expected_save_warnings(record: logging.LogRecord) -> bool:
    """Drop the two warnings ``save_model`` gives for every scenario (thousands of lines in executor logs).

    Both are expected here: the model is a pickled Python object by design (scenario models are not code
    files), and its signature depends on each scenario's selected features, so there is no static one.
    """
    message = record.getMessage()
    return not message.startswith(("Passing a Python object as `python_model`", "Failed to infer model signature"))


@functools.lru_cache(maxsize=64)
def load_scenario_model(path_or_uri: str) -> ScenarioModel:
    """The scenario model behind a saved pyfunc model (local path or ``runs:/`` URI), cached per process."""
    return mlflow.pyfunc.load_model(path_or_uri).unwrap_python_model().model


def _transient(exc: BaseException) -> bool:
    """Worth retrying: no connection, a timeout, HTTP 408/429/5xx, a locked SQLite store.

    Permanent: every other 4xx (a rejected value, a missing run or experiment, no permission), an invalid
    URL, and any other exception (a bug, a full disk) - retrying those only delays the error.

    MLflow wraps failures in :class:`MlflowException`: its error code maps to the HTTP status the server
    sent, and a failed connection or an exhausted urllib3 retry (``too many 503 error responses``) surfaces
    as ``INTERNAL_ERROR`` (500). MLflow's SQL store reports a locked database as ``TEMPORARILY_UNAVAILABLE``.
    An error body without an error code (not from MLflow) also reads as ``INTERNAL_ERROR``: retried, since
    we cannot tell.
    """
    for error in _causes(exc):
        if isinstance(error, InvalidUrlException):
            return False
        if isinstance(error, MlflowException):
            # A response that was not MLflow JSON (a proxy's error page) keeps its real status only in the text.
            sent = re.search(r"failed with error code (\d{3}) != \d{3}", str(error))
            return (int(sent.group(1)) if sent else error.get_http_status_code()) in _TRANSIENT_STATUS
        if isinstance(error, requests.HTTPError) and error.response is not None:
            return error.response.status_code in _TRANSIENT_STATUS
        if isinstance(error, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
            return True
        if isinstance(error, sqlite3.OperationalError) or type(error).__name__ == "OperationalError":
            return "locked" in str(error).lower() or "busy" in str(error).lower()
    return False


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _reason(exc: BaseException) -> str:
    """A failure in a few words: what a user needs to tell a dead server from a rejected request."""
    text = " ".join(str(e) for e in _causes(exc)).lower()
    for needle, reason in (("connection refused", "connection refused"),
                           ("name or service not known", "unknown host"),
                           ("nodename nor servname", "unknown host"),
                           ("failed to resolve", "unknown host"),
                           ("timed out", "no answer: timed out"),
                           ("timeout exception", "no answer: timed out"),
                           ("remotedisconnected", "the server closed the connection"),
                           ("connection reset", "the server closed the connection"),
                           ("connection aborted", "the server closed the connection"),
                           ("too many 5", "the server keeps failing (HTTP 5xx)"),
                           ("too many 429", "the server keeps refusing requests (HTTP 429)")):
        if needle in text:
            return reason
    return _short(exc)


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
