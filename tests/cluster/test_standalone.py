"""spark-submit of the train and predict jobs to a real standalone cluster: a master and two workers.

The package travels the way users ship it: built into a wheel and passed with ``--py-files``. The cluster's
processes cannot import an installed ``automl`` (see ``hidden_automl``), so a passing run proves the shipped
code is what ran. The results must equal a ``local[2]`` run of the same config and seed, scenario by scenario.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from automl_jobs import (CONFIG, PREDICT_TIMEOUT, REPO, SETTINGS, TRAIN_TIMEOUT, assert_every_row_scored, checked,
                         job_env, read_results)
from servers import SPARK_HOME, run

pytestmark = pytest.mark.cluster


def shipped(wheel: Path) -> Path:
    """The wheel as ``--py-files`` takes it.

    pyspark puts only ``.py``, ``.zip`` and ``.egg`` files on the executors' ``sys.path`` (a ``.whl`` reaches
    the driver's path but not theirs), so a pure-Python wheel, itself a zip archive, ships under a .zip name.
    """
    target = wheel.with_suffix(".zip")
    shutil.copy2(wheel, target)
    return target


@pytest.fixture(scope="module")
def cluster_runs(local_run, wheel, standalone, demo_data: Path) -> dict:
    """``spark-submit jobs/train.py`` then ``jobs/predict.py`` on the cluster, as a user runs them."""
    workspace = standalone.workspace
    package = shipped(wheel.path)
    # The driver, like the executors, can import automl only from the shipped file.
    env = job_env(workspace, demo_data, workspace.root / "output", python_path=standalone.worker_env["PYTHONPATH"])

    def submit(job: str, *args: str, conf: tuple[str, ...] = (), timeout: float):
        return run([str(SPARK_HOME / "bin" / "spark-submit"), "--master", standalone.url,
                    "--py-files", str(package),
                    "--conf", f"spark.pyspark.python={sys.executable}",
                    "--conf", "spark.ui.enabled=false", *conf,
                    str(REPO / "jobs" / job), "--config", str(CONFIG), *SETTINGS, *args],
                   workspace=workspace, env=env, timeout=timeout, name=f"spark-submit-{job.removesuffix('.py')}")

    # Training starts only once both executors are up, so the plan's partitions surely reach both workers.
    both = ("--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
            "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s")
    train = submit("train.py", conf=both, timeout=TRAIN_TIMEOUT)
    train_summary = checked(train, "spark-submit jobs/train.py")
    predict = submit("predict.py", "--run-id", train_summary["run_id"], timeout=PREDICT_TIMEOUT)
    return {"train": train, "train_summary": train_summary, "results": read_results(train_summary),
            "predict": predict, "package": package}


def test_train_job_exits_0_with_a_json_summary(cluster_runs):
    summary = json.loads(cluster_runs["train"].stdout.strip().splitlines()[-1])
    assert summary["kind"] == "train"
    assert summary["status"] == "succeeded"
    assert summary["counts"]["failed"] == 0


def test_every_scenario_has_exactly_one_ok_row(cluster_runs, demo_data):
    results = cluster_runs["results"]
    sales = pd.read_parquet(demo_data / "demand" / "sales.parquet")
    scenarios = sales[["store_id", "item_id"]].drop_duplicates()
    assert len(results) == len(scenarios)
    assert not results.duplicated(["store_id", "item_id"]).any()
    assert (results["status"] == "ok").all(), results[["store_id", "item_id", "status", "error"]]
    assert cluster_runs["train_summary"]["counts"] == {"ok": len(scenarios), "unchanged": 0, "failed": 0, "skipped": 0}


def test_scenarios_ran_on_executors_of_both_workers(cluster_runs, standalone):
    """``executor_id`` is ``<executor>@<host>``; each worker's work dir names the executors it ran for the app."""
    # spark-submit's --master reached the session (not the config's local[*]), and its 2 cores were planned for.
    assert f"session: {standalone.url}" in cluster_runs["train"].stdout  # spark-submit merges Python's stderr
    assert "partitions on 2 cores" in cluster_runs["train"].stdout
    found = re.search(r"Connected to Spark cluster with app ID (app-\S+)", cluster_runs["train"].stderr)
    assert found, "the driver did not report its application id"
    owner = {}
    for index in range(standalone.n_workers):
        for directory in standalone.work_dir(index).glob(f"{found.group(1)}/*"):
            owner[directory.name] = index
    used = cluster_runs["results"]["executor_id"].str.split("@").str[0]
    assert set(used) <= set(owner), f"executor ids {sorted(set(used))} vs work dirs {owner}"
    assert {owner[e] for e in used} == set(range(standalone.n_workers)), dict(zip(used, used.map(owner)))


def test_executors_imported_the_shipped_package(cluster_runs, standalone, hidden_automl):
    if not hidden_automl[1]:
        pytest.skip("automl is installed as a regular package here, so the cluster could import it anyway")
    # The cluster's Python processes could not see the installed automl, so the job ran on the shipped copy.
    fetched = list(standalone.workspace.root.glob(f"worker-*/app-*/*/{cluster_runs['package'].name}"))
    assert len(fetched) >= standalone.n_workers, fetched


def test_results_equal_a_local_run_scenario_by_scenario(cluster_runs, local_run):
    both = local_run.results.merge(cluster_runs["results"], on=["store_id", "item_id"], how="outer",
                                   suffixes=("_local", "_cluster"), indicator=True)
    assert (both["_merge"] == "both").all(), both[["store_id", "item_id", "_merge"]]
    for row in both.to_dict("records"):
        scenario = f"store_id={row['store_id']}, item_id={row['item_id']}"
        for name in ("status", "best_family"):
            assert row[f"{name}_cluster"] == row[f"{name}_local"], f"{scenario}: {name}"
        assert json.loads(row["best_params_cluster"]) == json.loads(row["best_params_local"]), scenario
        assert row["score_cluster"] == pytest.approx(row["score_local"], rel=1e-9), scenario


def test_prediction_scores_every_row(cluster_runs, demo_data):
    summary = checked(cluster_runs["predict"], "spark-submit jobs/predict.py")
    assert_every_row_scored(summary, demo_data)
