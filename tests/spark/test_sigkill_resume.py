"""Kill the driver with SIGKILL mid-run, resume it: nothing lost, nothing duplicated."""
from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.spark

N_SCENARIOS = 40


def _write_inputs(tmp_path) -> str:
    rng = np.random.default_rng(0)
    frames = []
    for i in range(N_SCENARIOS):
        x = rng.normal(size=(150, 3))
        frames.append(pd.DataFrame({"s": f"s{i:02d}", "row": range(150), "x0": x[:, 0], "x1": x[:, 1],
                                    "x2": x[:, 2], "y": x @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=150)}))
    pd.concat(frames).to_parquet(tmp_path / "rows.parquet")
    config = {"name": "sigkill", "task": "regression", "scenario_keys": ["s"], "target": "y",
              "sample_id": ["row"], "data": {"streams": [{"name": "rows", "path": str(tmp_path / "rows.parquet")}]},
              "features": {"enabled": False}, "models": {"families": ["lightgbm"]},
              "tuning": {"max_evals": 8}, "output": {"path": str(tmp_path / "out")},
              "spark": {"master": "local[2]", "conf": {"spark.ui.enabled": "false"}}}
    path = tmp_path / "sigkill.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _automl(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "automl.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, **kwargs)


def _processes_marked(marker: str) -> list[int]:
    """Every live process whose environment carries ``marker`` (the driver, its JVM, Python workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker.encode() in handle.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _kill_everything(marker: str) -> None:
    """SIGKILL the whole run at once, as a lost machine would.

    Killing the driver's process group is not enough: pyspark's worker daemon moves itself into a
    process group of its own, so its workers outlive the JVM and may still checkpoint a scenario.
    """
    deadline = time.monotonic() + 30
    while (pids := _processes_marked(marker)) and time.monotonic() < deadline:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    assert not _processes_marked(marker), "processes of the killed run are still alive"


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    config = _write_inputs(tmp_path)
    marker = f"AUTOML_SIGKILL_TEST={uuid.uuid4().hex}"
    name, value = marker.split("=")
    driver = _automl("train", "--config", config, env={**os.environ, name: value})
    deadline = time.monotonic() + 300
    checkpoints: list[str] = []
    while time.monotonic() < deadline and driver.poll() is None:
        checkpoints = glob.glob(str(tmp_path / "out" / "runs" / "*" / "checkpoints" / "*.json"))
        if len(checkpoints) >= 5:
            break
        time.sleep(0.2)
    assert driver.poll() is None, f"the run ended before it could be killed: {driver.communicate()[1][-2000:]}"
    _kill_everything(marker)
    driver.wait(timeout=30)

    run_dir = os.path.dirname(os.path.dirname(checkpoints[0]))
    run_id = os.path.basename(run_dir)
    done_before = {os.path.basename(p) for p in glob.glob(os.path.join(run_dir, "checkpoints", "*.json"))}
    assert 0 < len(done_before) < N_SCENARIOS
    assert not os.path.exists(os.path.join(run_dir, "results")), "readers must never see a partial table"

    resumed = _automl("train", "--config", config, "--resume", run_id)
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["run_id"] == run_id and summary["counts"] == {"ok": N_SCENARIOS, "unchanged": 0, "failed": 0, "skipped": 0}

    results = pd.read_parquet(summary["outputs"]["results"])
    assert len(results) == N_SCENARIOS and not results["s"].duplicated().any()
    assert (results["status"] == "ok").all()
    assert set(results["attempt"]) <= {1, 2} and (results["attempt"] == 2).any()
    assert (results["attempt"] == 1).sum() == len(done_before)  # finished scenarios were not trained again
    assert all(os.path.exists(path) for path in results["model_path"])

    # One MLflow child run per scenario: a run the killed attempt left half-logged is replaced, not kept.
    import mlflow

    client = mlflow.MlflowClient(summary["details"]["tracking_uri"])
    experiment = client.get_run(run_id).info.experiment_id
    children = client.search_runs([experiment], f"tags.mlflow.parentRunId = '{run_id}'", max_results=1000)
    per_scenario = pd.Series([run.data.tags["automl.scenario"] for run in children]).value_counts()
    assert len(per_scenario) == N_SCENARIOS and per_scenario.max() == 1, per_scenario.head()
