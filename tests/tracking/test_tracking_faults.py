"""MLflow faults lose nothing: a dead URI stops a job before training, a server lost mid-run costs no
scenario, and ``--resume`` uploads what could not be logged without retraining.

Retry classification is tested with real exceptions: refused connections, timeouts, HTTP errors from a tiny
local server, MLflow's own wrappers of them, and a really locked SQLite database.
"""
from __future__ import annotations

import contextlib
import glob
import http.server
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import sqlalchemy
import yaml
from mlflow.exceptions import InvalidUrlException, MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE
from mlflow.tracking import MlflowClient
from process_helpers import automl_command, free_port
from tracking_helpers import cli_env, last_json, run_cli, write_config, write_scenarios

from automl.config import parse_config
from automl.errors import TrackingError
from automl.scenario.keys import scenario_slug
from automl.scenario.pipeline import fit_scenario
from automl.tracking import (
    JobRun,
    ModelPublisher,
    check_tracking,
    load_scenario_model,
    retry,
    store,
    tracking_uri,
    with_retries,
)

# --- real exceptions ----------------------------------------------------------------------------------------

class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of the server's script: a dict is sent as JSON (an
    MLflow error), a string as HTML (a proxy's error page); 200 {} when the script runs out."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        script = self.server.script  # type: ignore[attr-defined]
        status, body = script.pop(0) if script else (200, {})
        self.server.hits += 1  # type: ignore[attr-defined]
        payload = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html" if isinstance(body, str) else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted_server():
    """``start(script)`` -> URL of a loopback HTTP server answering with the scripted statuses in order."""
    servers = []

    def start(script: list[tuple[int, dict]]) -> tuple[str, http.server.HTTPServer]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
        server.script, server.hits = list(script), 0  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server():
    """URL of a socket that completes TCP handshakes but never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _raised(action) -> Exception:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the point is to capture whatever is really raised
        return exc
    raise AssertionError("expected an exception")


def _locked_sqlite(path: Path) -> sqlite3.OperationalError:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("create table t (x)")
    holder.execute("begin exclusive")
    try:
        other = sqlite3.connect(path, timeout=0)
        return _raised(lambda: other.execute("insert into t values (1)"))
    finally:
        holder.execute("rollback")
        holder.close()


def test_transient_connection_failures_and_timeouts(silent_server, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    refused_by_mlflow = _raised(lambda: MlflowClient(dead).search_experiments(max_results=1))
    assert isinstance(refused_by_mlflow, MlflowException) and "refused" in str(refused_by_mlflow).lower()
    refused_by_requests = _raised(lambda: requests.get(dead, timeout=5))
    refused_by_socket = _raised(lambda: socket.create_connection(("127.0.0.1", free_port()), timeout=5))
    read_timeout = _raised(lambda: requests.get(silent_server, timeout=0.5))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    timeout_by_mlflow = _raised(lambda: MlflowClient(silent_server).search_experiments(max_results=1))
    assert isinstance(refused_by_socket, ConnectionRefusedError)
    assert isinstance(read_timeout, requests.Timeout)
    for exc in (refused_by_mlflow, refused_by_requests, refused_by_socket, read_timeout, timeout_by_mlflow):
        assert retry.transient(exc), repr(exc)


@pytest.mark.parametrize(("status", "transient"), [(429, True), (500, True), (502, True), (503, True),
                                                   (504, True), (400, False), (401, False), (403, False),
                                                   (404, False), (413, False)])
def test_http_status_decides(scripted_server, status, transient):
    url, _ = scripted_server([(status, f"<html><body>{status} from a proxy</body></html>")] * 3)
    http_error = _raised(lambda: requests.put(f"{url}/artifact", data=b"x", timeout=5).raise_for_status())
    assert isinstance(http_error, requests.HTTPError)
    assert retry.transient(http_error) is transient
    by_mlflow = _raised(lambda: MlflowClient(url).search_experiments(max_results=1))
    assert isinstance(by_mlflow, MlflowException)
    assert retry.transient(by_mlflow) is transient, by_mlflow


@pytest.mark.parametrize(("code", "transient"), [("INVALID_PARAMETER_VALUE", False),
                                                 ("RESOURCE_DOES_NOT_EXIST", False),
                                                 ("RESOURCE_ALREADY_EXISTS", False), ("PERMISSION_DENIED", False),
                                                 ("TEMPORARILY_UNAVAILABLE", True),
                                                 ("REQUEST_LIMIT_EXCEEDED", True)])
def test_mlflow_error_codes_decide(scripted_server, code, transient):
    url, _ = scripted_server([(409, {"error_code": code, "message": "scripted"})] * 3)
    exc = _raised(lambda: MlflowClient(url).get_run("0" * 32))
    assert exc.error_code == code
    assert retry.transient(exc) is transient


def test_a_locked_sqlite_store_is_transient(tmp_path):
    locked = _locked_sqlite(tmp_path / "store.db")
    assert "database is locked" in str(locked)
    assert retry.transient(locked)
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'store.db'}", connect_args={"timeout": 0})
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("begin exclusive")
    try:
        with engine.connect() as connection:
            by_sqlalchemy = _raised(lambda: connection.execute(sqlalchemy.text("insert into t values (2)")))
    finally:
        holder.execute("rollback")
        holder.close()
    assert isinstance(by_sqlalchemy, sqlalchemy.exc.OperationalError)
    assert retry.transient(by_sqlalchemy)
    # What MLflow's SQL store makes of it (mlflow/store/db/utils.py), raised from the real error.
    try:
        raise MlflowException(str(by_sqlalchemy), error_code=TEMPORARILY_UNAVAILABLE) from by_sqlalchemy
    except MlflowException as wrapped:
        assert retry.transient(wrapped)


def test_bugs_and_bad_input_are_permanent(tmp_path):
    for exc in (_raised(lambda: {}["missing"]), _raised(lambda: int("x")), _raised(lambda: open(tmp_path / "no")),
                _raised(lambda: MlflowClient(f"http://127.0.0.1:{free_port()}").get_run("")),
                InvalidUrlException("Invalid url: http://"), sqlite3.OperationalError("no such table: runs")):
        assert not retry.transient(exc), repr(exc)


def test_failure_reasons_are_short_and_say_what_happened(scripted_server, silent_server, monkeypatch):
    dead = f"http://127.0.0.1:{free_port()}"
    assert retry.reason(_raised(lambda: MlflowClient(dead).search_experiments())) == "connection refused"
    url, _ = scripted_server([(503, "busy")] * 2 + [(400, {"error_code": "INVALID_PARAMETER_VALUE",
                                                            "message": "param 'tuning.timeout_seconds' changed"})])
    assert "HTTP 5xx" in retry.reason(_raised(lambda: MlflowClient(url).search_experiments()))
    rejected = retry.reason(_raised(lambda: MlflowClient(url).search_experiments()))
    assert rejected == "INVALID_PARAMETER_VALUE: param 'tuning.timeout_seconds' changed"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    assert retry.reason(_raised(lambda: MlflowClient(silent_server).search_experiments())) == "no answer: timed out"


def test_with_retries_backs_off_then_succeeds(scripted_server, monkeypatch):
    delays = []
    monkeypatch.setattr(retry, "_sleep", delays.append)
    # MLflow's own single retry eats one 503 per call: the first call fails, the second gets 200.
    url, server = scripted_server([(503, {}), (503, {})])
    client = MlflowClient(url)
    assert with_retries(lambda: client.search_experiments(max_results=1), what="search", base_delay=0.5) == []
    assert server.hits == 3
    assert len(delays) == 1 and 0.25 <= delays[0] <= 0.75


def test_with_retries_gives_up_after_the_attempts_with_growing_delays(monkeypatch):
    delays, calls = [], []
    monkeypatch.setattr(retry, "_sleep", delays.append)
    dead = MlflowClient(f"http://127.0.0.1:{free_port()}")

    def search():
        calls.append(1)
        return dead.search_experiments(max_results=1)

    with pytest.raises(MlflowException, match="refused"):
        with_retries(search, what="search", attempts=4, base_delay=1.0)
    assert len(calls) == 4
    for attempt, delay in enumerate(delays):  # 1, 2, 4 s, each with +-50% jitter
        assert 0.5 * 2 ** attempt <= delay <= 1.5 * 2 ** attempt
    assert len(delays) == 3


def test_with_retries_raises_permanent_errors_at_once(scripted_server, monkeypatch):
    monkeypatch.setattr(retry, "_sleep", lambda _: pytest.fail("a permanent error must not be retried"))
    url, server = scripted_server([(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad key"})])
    with pytest.raises(MlflowException, match="bad key"):
        with_retries(lambda: MlflowClient(url).get_run("0" * 32), what="get run")
    assert server.hits == 1


def test_check_tracking_fails_fast_on_a_refused_connection():
    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingError, match=rf"MLflow tracking store '{uri}' is not reachable \(connection refused\)"):
        check_tracking(uri)
    assert time.monotonic() - started < 10


def test_check_tracking_gives_up_on_a_silent_server(silent_server, monkeypatch):
    monkeypatch.setattr(store, "_CHECK_TIMEOUT", 1)
    started = time.monotonic()
    with pytest.raises(TrackingError, match="timed out"):
        check_tracking(silent_server)
    assert time.monotonic() - started < 15  # 3 attempts of 1 s, no MLflow-level retries, ~1.5 s backoff
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] != "1"  # the tighter limits were only for the check


# --- a scenario whose logging fails keeps its model ---------------------------------------------------------

@pytest.fixture
def fitted(tmp_path):
    data = write_scenarios(tmp_path / "data.parquet", 1)
    config = parse_config(yaml.safe_load(write_config(tmp_path / "c.yaml", data=tmp_path / "data.parquet",
                                                      output=tmp_path / "out", tracking_uri="").read_text()))
    keys = {"region": "north", "sku": 0}
    return config, keys, fit_scenario(data, keys, config)


def test_a_dead_server_costs_one_backoff_per_process_not_one_per_scenario(fitted, tmp_path, monkeypatch):
    config, keys, fit = fitted
    delays = []
    monkeypatch.setattr(retry, "_sleep", delays.append)
    monkeypatch.setattr(retry, "outage", retry.Outage(cooldown=60))
    publisher = ModelPublisher(f"http://127.0.0.1:{free_port()}", "0", "p" * 32, str(tmp_path / "models"), config)

    first = publisher(keys, fit)
    assert first.logging_error.startswith("MlflowException: connection refused")
    assert first.mlflow_run_id == "" and first.model_uri == first.model_path
    assert load_scenario_model(first.model_path).family == fit.model.family
    assert len(delays) == 4  # 5 attempts

    started = time.monotonic()
    second = publisher({"region": "north", "sku": 1}, fit)
    assert second.logging_error.startswith("TrackingError: not sent")
    assert time.monotonic() - started < 5 and len(delays) == 4
    assert os.path.isdir(second.model_path)


def test_job_run_finish_is_best_effort(tmp_path, monkeypatch):
    config = parse_config({"name": "x", "task": "regression", "scenario_keys": ["k"], "target": "y",
                           "data": {"streams": [{"name": "s", "path": "unused"}]},
                           "output": {"path": str(tmp_path)}})
    job = JobRun(config, "train")
    run_id = job.start()
    monkeypatch.setattr(retry, "_sleep", lambda _: None)
    monkeypatch.setattr(job, "client", MlflowClient(f"http://127.0.0.1:{free_port()}"))  # the server went away
    error = job.finish(True, metrics={"scenarios_ok": 1})
    assert error.startswith("MlflowException: connection refused")
    assert MlflowClient(tracking_uri(config)).get_run(run_id).info.status == "RUNNING"


def test_the_local_sqlite_store_uses_write_ahead_logging(tmp_path):
    config = parse_config({"name": "x", "task": "regression", "scenario_keys": ["k"], "target": "y",
                           "data": {"streams": [{"name": "s", "path": "unused"}]},
                           "output": {"path": str(tmp_path)}})
    assert store.filesystem_type(str(tmp_path)) in store.LOCAL_FILESYSTEMS  # else WAL is rightly off
    JobRun(config, "train").start()
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as database:
        assert database.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.filesystem_type("/proc/self") == "proc"  # not local storage: no WAL there


# --- end to end through the CLI ----------------------------------------------------------------------------

@pytest.mark.spark
def test_an_unreachable_tracking_uri_stops_the_job_before_training(tmp_path):
    write_scenarios(tmp_path / "data.parquet", 4)
    uri = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "c.yaml", data=tmp_path / "data.parquet", output=tmp_path / "out",
                          tracking_uri=uri)
    started = time.monotonic()
    done, final = run_cli("train", "--config", str(config), cwd=tmp_path, timeout=120)
    elapsed = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: MLflow tracking store '{uri}' is not reachable (connection refused). Start the "
                      f"server, fix mlflow.tracking_uri, or leave it empty for a local store under output.path."]
    assert final["status"] == "error" and uri in final["error"]
    assert not glob.glob(str(tmp_path / "out" / "runs" / "*")), "nothing may be trained or written"
    print(f"\nunreachable tracking URI reported after {elapsed:.1f}s (CLI start, Spark session included)")
    assert elapsed < 60


N_FAULT_SCENARIOS = 100


@pytest.mark.cluster
def test_server_lost_mid_run_loses_nothing_and_resume_uploads_the_rest(mlflow_server, tmp_path):
    data_path = tmp_path / "data.parquet"
    write_scenarios(data_path, N_FAULT_SCENARIOS)
    config = write_config(tmp_path / "c.yaml", data=data_path, output=tmp_path / "out", tracking_uri=mlflow_server.url)
    train = subprocess.Popen(automl_command("train", "--config", str(config)), cwd=tmp_path, env=cli_env(),
                             stdout=subprocess.PIPE, stderr=open(tmp_path / "train.log", "w"), text=True)
    try:
        _wait_for(lambda: len(glob.glob(str(tmp_path / "out" / "runs" / "*" / "checkpoints" / "*.json"))) >= 10,
                  timeout=300, alive=lambda: train.poll() is None, what="the first 10 scenarios")
        mlflow_server.stop()
        stdout, _ = train.communicate(timeout=600)
    finally:
        if train.poll() is None:
            train.kill()
    log_text = (tmp_path / "train.log").read_text()
    assert train.returncode == 0, log_text[-4000:]
    summary = last_json(stdout)
    run_id = summary["run_id"]

    first = pd.read_parquet(summary["outputs"]["results"])
    assert len(first) == N_FAULT_SCENARIOS and not first.duplicated(["region", "sku"]).any()
    assert (first["status"] == "ok").all(), first["error"].head().tolist()
    unlogged = first[first["logging_error"] != ""]
    logged = first[first["logging_error"] == ""]
    assert len(unlogged) > 0 and len(logged) > 0
    assert summary["details"]["logging_errors"] == len(unlogged)
    assert summary["details"]["tracking_error"]  # the parent run could not be finished: reported, not fatal
    assert (unlogged["mlflow_run_id"] == "").all()
    assert (unlogged["model_uri"] == unlogged["model_path"]).all()
    for path in unlogged["model_path"]:
        assert load_scenario_model(path).family == "linear"
    saved_at = {path: os.path.getmtime(os.path.join(path, "MLmodel")) for path in unlogged["model_path"]}
    print(f"\nserver stopped mid-run: {len(logged)} scenarios logged, {len(unlogged)} kept for resume; "
          f"errors: {unlogged['logging_error'].str.slice(0, 60).value_counts().to_dict()}")

    mlflow_server.start()  # same port, same SQLite store and artifact root
    client = MlflowClient(mlflow_server.url)
    experiment_id = client.get_run(run_id).info.experiment_id
    # As if the server had died between creating a scenario's run and ending it: resume must replace that run.
    half = unlogged.iloc[0]
    half_logged = client.create_run(experiment_id, tags={
        "mlflow.parentRunId": run_id, "automl.slug": scenario_slug({"region": half["region"], "sku": half["sku"]})})
    started = time.monotonic()
    done, resumed = run_cli("train", "--config", str(config), "--resume", run_id, cwd=tmp_path, timeout=600)
    print(f"resume re-logged {len(unlogged)} scenarios in {time.monotonic() - started:.0f}s")
    assert done.returncode == 0, done.stderr[-4000:]
    assert resumed["run_id"] == run_id and resumed["details"]["logging_errors"] == 0
    assert "tracking_error" not in resumed["details"]

    final = pd.read_parquet(resumed["outputs"]["results"])
    assert len(final) == N_FAULT_SCENARIOS and not final.duplicated(["region", "sku"]).any()
    assert (final["status"] == "ok").all()
    assert (final["logging_error"] == "").all(), final["logging_error"].head().tolist()
    assert final["mlflow_run_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert (final["attempt"] == 1).all(), "nothing was retrained"
    assert all(os.path.getmtime(os.path.join(p, "MLmodel")) == t for p, t in saved_at.items())

    parent = client.get_run(run_id)
    assert parent.info.status == "FINISHED"
    assert client.get_run(half_logged.info.run_id).info.lifecycle_stage == "deleted"
    children = client.search_runs([parent.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'",
                                  max_results=1000)
    # one live child run per scenario: half-logged runs of the failed attempt were deleted
    assert sorted(r.info.run_id for r in children) == sorted(final["mlflow_run_id"])
    for run in children:
        assert run.info.status == "FINISHED"
        assert (mlflow_server.artifacts / parent.info.experiment_id / run.info.run_id / "artifacts" / "model"
                / "MLmodel").is_file()


def _wait_for(check, *, timeout: float, alive, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not alive():
            raise AssertionError(f"the job ended before {what}")
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
