"""Training many scenarios against a real MLflow tracking server: every scenario lands, cheaply.

One CLI run of 200 scenarios (local[2]) logs to ``mlflow server`` on loopback; the test then reads the
server back: one finished child run per scenario under the job's parent run, with its keys, metrics,
params and model, and ``runs:/`` models that predict exactly like the saved local ones. The server's
access log gives the request count per scenario.
"""
from __future__ import annotations

import collections
import re
import time

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tracking_helpers import run_cli, write_config, write_scenarios

pytestmark = pytest.mark.cluster

N_SCENARIOS = 200
# create run (with every tag), log_batch (metrics, params, a tag), one PUT per file of the pyfunc model
# (MLmodel, python_model.pkl, conda.yaml, python_env.yaml, requirements.txt), end run.
REQUESTS_PER_SCENARIO = 8
JOB_REQUESTS = 20  # check, experiment lookup, parent run: create, config params (batches of 100), metrics, end


def test_every_scenario_is_logged_to_the_server_as_a_child_run(mlflow_server, tmp_path):
    data = write_scenarios(tmp_path / "data" / "sales.parquet", N_SCENARIOS)
    config = write_config(tmp_path / "many.yaml", data=tmp_path / "data" / "sales.parquet",
                          output=tmp_path / "output", tracking_uri=mlflow_server.url)
    before = len(mlflow_server.requests())

    started = time.monotonic()
    done, summary = run_cli("train", "--config", str(config), cwd=tmp_path, timeout=900)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-4000:]
    job_requests = _settled_requests(mlflow_server)[before:]

    results = pd.read_parquet(summary["outputs"]["results"])
    assert len(results) == N_SCENARIOS
    assert (results["status"] == "ok").all(), results.loc[results["status"] != "ok", "error"].head().tolist()
    assert (results["logging_error"] == "").all(), results["logging_error"].head().tolist()
    assert results["mlflow_run_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert results["mlflow_run_id"].is_unique
    assert summary["details"]["logging_errors"] == 0

    client = MlflowClient(mlflow_server.url)
    parent = client.get_run(summary["run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["scenarios_ok"] == N_SCENARIOS
    children = {run.info.run_id: run for run in _child_runs(client, parent)}
    assert set(children) == set(results["mlflow_run_id"])

    for row in results.to_dict("records"):
        run = children[row["mlflow_run_id"]]
        assert run.info.status == "FINISHED"
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["scenario.region"] == row["region"]
        assert run.data.tags["scenario.sku"] == str(row["sku"])
        assert run.data.tags["automl.scenario"] == f"region={row['region']},sku={row['sku']}"
        assert run.data.metrics["rmse"] == pytest.approx(row["metric_rmse"])
        assert run.data.params["family"] == "linear"
        assert run.data.params["seed"] == str(row["seed"])
        stored = mlflow_server.artifacts / parent.info.experiment_id / run.info.run_id / "artifacts" / "model"
        assert (stored / "MLmodel").is_file() and (stored / "python_model.pkl").is_file(), stored

    sample = results.sample(3, random_state=0).to_dict("records")
    for row in sample:
        listed = {f.path for f in client.list_artifacts(row["mlflow_run_id"], "model")}
        assert "model/MLmodel" in listed
    _assert_runs_uris_predict_like_local_models(mlflow_server.url, sample, data)

    per_endpoint = collections.Counter(re.sub(r"/[0-9a-f]{32}/.*", "/<run>/...", r) for _, r in job_requests)
    connections = {client for client, _ in job_requests}
    print(f"\n{N_SCENARIOS} scenarios in {wall:.0f}s; {len(job_requests)} requests "
          f"({len(job_requests) / N_SCENARIOS:.2f} per scenario) over {len(connections)} connections: "
          f"{dict(per_endpoint)}")
    assert per_endpoint["POST /api/2.0/mlflow/runs/create"] == N_SCENARIOS + 1
    assert per_endpoint["POST /api/2.0/mlflow/runs/update"] == N_SCENARIOS + 1
    assert per_endpoint["GET /api/2.0/mlflow/runs/get"] == 0  # no read-backs on the way
    assert len(job_requests) <= REQUESTS_PER_SCENARIO * N_SCENARIOS + JOB_REQUESTS
    # One client per process, keep-alive: Python workers reuse their connection for scenario after scenario.
    assert len(connections) <= N_SCENARIOS // 10


def _settled_requests(server, quiet: float = 1.0, timeout: float = 15.0) -> list[str]:
    """The access log once it stopped growing (uvicorn writes a line as each response goes out)."""
    deadline = time.monotonic() + timeout
    seen = server.requests()
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = server.requests()
        if len(now) == len(seen):
            return now
        seen = now
    return seen


def _child_runs(client: MlflowClient, parent) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([parent.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
                                  max_results=1000, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _assert_runs_uris_predict_like_local_models(url: str, rows: list[dict], data: pd.DataFrame) -> None:
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(url)  # runs:/ URIs resolve against the global tracking URI
    try:
        for row in rows:
            scenario = data[(data["region"] == row["region"]) & (data["sku"] == row["sku"])].reset_index(drop=True)
            remote = mlflow.pyfunc.load_model(f"runs:/{row['mlflow_run_id']}/model").predict(scenario)
            local = mlflow.pyfunc.load_model(row["model_path"]).predict(scenario)
            assert len(remote) == len(scenario)
            pd.testing.assert_frame_equal(remote, local)
    finally:
        mlflow.set_tracking_uri(previous)
