"""Run ``notebooks/*.py`` locally as the bundle's ``demand`` job would: demo data, then train, then predict.

The notebooks execute cell by cell against a local Spark session and the dbutils/display stand-ins. Their
parameters come from ``databricks.yml`` itself (job parameters pushed down to every task, then each task's
``base_parameters`` with ``{{tasks.train.values.run_id}}`` resolved), with only what must differ off Databricks
replaced: MLflow stays in a local SQLite file, the tuning budget is tiny, and the run date cuts 4 weeks off the
demo history so the as-of filter is seen working.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import pytest
from bundle_spec import ROOT, job_parameters, jobs, load_bundle, notebook_file, task_parameters
from dbutils_standin import resolve_task_values, run_notebook

pytestmark = pytest.mark.spark

BUNDLE = load_bundle()
DEMAND = jobs(BUNDLE)["demand"]
TASKS = {task["task_key"]: task for task in DEMAND["tasks"]}
# `;` and new lines both separate overrides; the widget gets the text exactly as a job parameter would hold it.
FAST = "tuning.max_evals=3; models.families=[linear]\nmlflow.log_models=false"
WEEKS_CUT = 4


@pytest.fixture(scope="module")
def volume(tmp_path_factory):
    """The job cluster's environment: AUTOML_DATA_DIR and AUTOML_OUTPUT_DIR on a shared path (here: tmp)."""
    root = tmp_path_factory.mktemp("volume")
    logger = logging.getLogger("automl")
    handlers, level = list(logger.handlers), logger.level  # the notebooks configure logging; undo it after
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_DATA_DIR", str(root / "data"))
        patch.setenv("AUTOML_OUTPUT_DIR", str(root / "output"))
        yield root
    logger.handlers[:] = handlers
    logger.setLevel(level)


@pytest.fixture(scope="module")
def demo_data(spark, volume):
    task = jobs(BUNDLE)["demo_data"]["tasks"][0]
    parameters = {**task_parameters(task, BUNDLE), "out": str(volume / "data"), "small": "true"}
    return run_notebook(notebook_file(task["notebook_task"]["notebook_path"]), spark=spark, parameters=parameters)


@pytest.fixture(scope="module")
def run_date(demo_data):
    weeks = sorted(pd.read_parquet(json.loads(demo_data.exit_value)["demand"]["sales"])["week"].unique())
    return pd.Timestamp(weeks[-WEEKS_CUT]).date().isoformat(), len(weeks) - WEEKS_CUT


@pytest.fixture(scope="module")
def job_run(spark, run_date):
    """The demand job's tasks in dependency order, sharing one task-value store like one job run."""
    parameters = {**job_parameters(DEMAND, BUNDLE), "run_date": run_date[0], "overrides": FAST,
                  "platform_overrides": ""}  # off Databricks: MLflow in SQLite beside the outputs
    assert parameters["config"] == str(ROOT / "configs" / "demand.yaml")
    task_values: dict = {}
    runs = {}
    for key in ("train", "predict"):
        task = TASKS[key]
        given = {**task_parameters(task, BUNDLE), **parameters}  # job parameters win over task parameters
        runs[key] = run_notebook(notebook_file(task["notebook_task"]["notebook_path"]), spark=spark, task_key=key,
                                 parameters=resolve_task_values(given, task_values), task_values=task_values)
    return runs


def test_demo_data_notebook_writes_both_use_cases(demo_data, volume):
    written = json.loads(demo_data.exit_value)
    assert set(written) == {"demand", "churn"}
    assert all(Path(p).is_file() and Path(p).is_relative_to(volume) for files in written.values()
               for p in files.values())
    assert demo_data.dbutils.widgets.unread() == set()


def test_train_notebook_trains_every_scenario_before_the_run_date(job_run, run_date):
    run = job_run["train"]
    summary = json.loads(run.exit_value)
    assert (summary["kind"], summary["status"]) == ("train", "succeeded")
    assert summary["counts"] == {"ok": 6, "unchanged": 0, "failed": 0, "skipped": 0}
    assert run.dbutils.task_values["train"] == {"run_id": summary["run_id"]}
    assert run.dbutils.widgets.unread() == set()  # every parameter the job passes is read

    [page] = run.display.html
    assert summary["run_id"] in page and "<script" in page  # the report, shown inline
    [shown] = run.display.shown
    results = shown.toPandas()
    assert len(results) == 6 and set(results["status"]) == {"ok"}
    assert set(results["best_family"]) == {"linear"} and set(results["n_evals"]) == {3}  # the overrides widget
    assert set(results["n_rows"]) == {run_date[1]}  # the run date's as-of filter: 4 weeks fewer
    assert os.path.isdir(summary["outputs"]["results"])


def test_predict_notebook_scores_with_the_models_of_the_same_job_run(job_run, spark):
    train = json.loads(job_run["train"].exit_value)
    run = job_run["predict"]
    summary = json.loads(run.exit_value)
    assert (summary["kind"], summary["status"]) == ("predict", "succeeded")
    assert summary["counts"] == {"ok": 6, "failed": 0, "rows": 48}
    assert summary["details"]["train_run_id"] == train["run_id"]  # via {{tasks.train.values.run_id}}
    assert run.dbutils.widgets.unread() == set()

    [page] = run.display.html
    assert summary["run_id"] in page
    [shown] = run.display.shown
    predictions = shown.toPandas()
    assert len(predictions) == 48
    assert predictions["prediction"].notna().all() and (predictions["error"] == "").all()
    assert set(predictions["model_run_id"].str.len()) == {32}
    assert spark.read.parquet(summary["outputs"]["predictions"]).count() == 48
