"""``automl train/predict --remote sc://...`` against a real Spark Connect server.

The client has no JVM and no SparkContext: everything the framework does must go through the Connect API.
The server's Python workers import this checkout's ``automl`` (installed on the server, as users must).
Output paths are shared by client and server here, as they are on a cluster (a shared or cloud filesystem).
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from automl_jobs import (CONFIG, PREDICT_TIMEOUT, SETTINGS, TRAIN_TIMEOUT, assert_every_row_scored,
                         checked, job_env, read_results)
from process_helpers import automl_command, free_port
from servers import Workspace, run

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def connect_runs(local_run, connect_server, demo_data: Path) -> dict:
    """``automl train`` then ``automl predict`` with ``--remote``, as subprocesses of this checkout."""
    workspace = connect_server.workspace
    env = job_env(workspace, demo_data, workspace.root / "output")
    remote = ["--remote", connect_server.url]
    train = run(automl_command("train", "--config", str(CONFIG), *remote, *SETTINGS), workspace=workspace,
                env=env, timeout=TRAIN_TIMEOUT, name="train")
    train_summary = checked(train, "automl train --remote")
    predict = run(automl_command("predict", "--config", str(CONFIG), *remote, "--run-id", train_summary["run_id"]),
                  workspace=workspace, env=env, timeout=PREDICT_TIMEOUT, name="predict")
    return {"train": train, "train_summary": train_summary, "results": read_results(train_summary),
            "predict": predict, "url": connect_server.url}


def test_train_over_connect_matches_a_local_run(connect_runs, local_run):
    summary, reference = connect_runs["train_summary"], local_run.summary
    log = connect_runs["train"].stderr
    assert f"session: Spark Connect {connect_runs['url']}" in log
    assert "partitions on 2 cores" in log, "cores_of() must find the server's local[2] parallelism"
    assert summary["counts"] == reference["counts"]
    assert summary["details"]["data_fingerprint"] == reference["details"]["data_fingerprint"]
    results, expected = connect_runs["results"], local_run.results
    assert not results.duplicated(["store_id", "item_id"]).any()
    assert (results["status"] == "ok").all(), results[["store_id", "item_id", "status", "error"]]
    keys = ["store_id", "item_id"]
    pd.testing.assert_frame_equal(results[keys], expected[keys])
    assert list(results["best_family"]) == list(expected["best_family"])
    assert [json.loads(p) for p in results["best_params"]] == [json.loads(p) for p in expected["best_params"]]
    assert list(results["score"]) == pytest.approx(list(expected["score"]), rel=1e-9)


def test_predict_over_connect_scores_every_row(connect_runs, demo_data):
    summary = checked(connect_runs["predict"], "automl predict --remote")
    assert_every_row_scored(summary, demo_data)


def test_unreachable_remote_fails_fast_with_the_url(tmp_path, demo_data):
    workspace = Workspace(tmp_path)
    url = f"sc://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    result = run(automl_command("train", "--config", str(CONFIG), "--remote", url, *SETTINGS), workspace=workspace,
                 env=job_env(workspace, demo_data, tmp_path / "output"), timeout=180)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.explain()
    assert f"cannot connect to the Spark Connect server at {url}" in result.stderr
    assert "Connection refused" in result.stderr
    summary = result.summary()
    assert summary["status"] == "error" and url in summary["error"]
    # Python and pyspark start-up take most of it; the Connect client alone would retry for ten minutes.
    assert elapsed < 120, f"took {elapsed:.0f}s"
    assert not (tmp_path / "output").exists()
