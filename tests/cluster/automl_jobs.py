"""The automl jobs the cluster tests run: this checkout's code, the demand example, and checks on a job's output."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from servers import Result, Workspace

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "demand.yaml"
# Small but real: every model family, a short tuning loop, the config's own seed.
SETTINGS = ["--set", "tuning.max_evals=3"]
TRAIN_TIMEOUT, PREDICT_TIMEOUT = 600, 300


def job_env(workspace: Workspace, data: Path, output: Path, *, python_path: Path = REPO) -> dict[str, str]:
    """The example configs read ``data`` and write ``output``; ``python_path`` decides which automl runs."""
    return workspace.env(AUTOML_DATA_DIR=str(data), AUTOML_OUTPUT_DIR=str(output), PYTHONPATH=str(python_path))


def checked(result: Result, what: str) -> dict:
    """The job's JSON summary, after asserting it exited 0 with JSON as its last stdout line."""
    assert result.returncode == 0, f"{what} failed: {result.explain()}"
    summary = result.summary()
    assert summary["status"] == "succeeded", f"{what}: {summary}"
    return summary


def read_results(summary: dict) -> pd.DataFrame:
    frame = pd.read_parquet(summary["outputs"]["results"])
    return frame.sort_values(["store_id", "item_id"]).reset_index(drop=True)


def assert_every_row_scored(summary: dict, demo_data: Path) -> pd.DataFrame:
    """The prediction job scored each future row of the demand example exactly once; returns the predictions."""
    future = pd.read_parquet(demo_data / "demand" / "future_sales.parquet")
    predictions = pd.read_parquet(summary["outputs"]["predictions"])
    assert summary["counts"] == {"ok": future.groupby(["store_id", "item_id"]).ngroups, "failed": 0,
                                 "rows": len(future)}
    assert len(predictions) == len(future)
    assert (predictions["error"] == "").all(), predictions.loc[predictions["error"] != "", "error"].head()
    assert predictions["prediction"].notna().all()
    scored = predictions.groupby(["store_id", "item_id"]).size().sort_index()
    expected = future.groupby(["store_id", "item_id"]).size().sort_index()
    pd.testing.assert_series_equal(scored, expected, check_names=False)
    return predictions
