"""Rebuilding a run's report: an unknown run id or an output path without runs is a clear error."""
from __future__ import annotations

import pytest

from automl.config import parse_config
from automl.errors import AutoMLError
from automl.jobs.outputs import rebuild_report
from automl.rundir import RunDirectory


def _config(tmp_path) -> object:
    return parse_config({"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y",
                         "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]},
                         "output": {"path": str(tmp_path)}})


def test_unknown_run_and_no_runs_say_how_to_find_one(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(AutoMLError, match="no run under .*: run 'automl train' first"):
        rebuild_report(config)
    with pytest.raises(AutoMLError, match=r"no run 'nope' under .*automl runs --config"):
        rebuild_report(config, "nope")


def test_a_crashed_run_with_no_results_still_gets_a_report(tmp_path):
    config = _config(tmp_path)
    run = RunDirectory(config.output_path, "r1")
    run.prepare()
    run.write_manifest(kind="train", status="failed", use_case="u", started_at=1.0, error="KeyboardInterrupt")
    path = rebuild_report(config, "r1")
    assert path.endswith("report.html") and "r1" in open(path, encoding="utf-8").read()


def _fitted_rows(config, frames: dict[int, "pd.DataFrame"]) -> "pd.DataFrame":
    """Results rows as a training job builds them: ``fit_row`` of each scenario's real fit (its holdout JSON)."""
    import pandas as pd

    from automl.results import fit_row
    from automl.scenario.keys import scenario_id
    from automl.scenario.pipeline import fit_scenario

    rows = []
    for store, frame in frames.items():
        fit = fit_scenario(frame, {"store": store}, config)
        rows.append({"store": store, "scenario_id": scenario_id({"store": store}), **fit_row(fit, config)})
    rows.append({"store": 99, "scenario_id": scenario_id({"store": 99}), "holdout": None})  # skipped: no rows
    return pd.DataFrame(rows)


def test_the_holdout_table_keeps_ids_as_text_and_every_scenario_rows(tmp_path):
    import numpy as np
    import pandas as pd

    from automl.jobs.outputs import read_holdout, write_holdout

    config = parse_config({"name": "u", "task": "regression", "scenario_keys": ["store"], "target": "y",
                           "time_column": "day", "sample_id": ["order"],
                           "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]},
                           "split": {"test_size": 5, "validation_size": 5}, "features": {"enabled": False},
                           "models": {"families": ["linear"]}, "tuning": {"max_evals": 1},
                           "output": {"path": str(tmp_path)}})
    rng = np.random.default_rng(0)
    frames = {store: pd.DataFrame({"store": store, "order": [f"{store}{i:03d}" for i in range(40)],
                                   "day": pd.date_range("2024-01-01", periods=40), "x": rng.normal(size=40),
                                   "y": rng.normal(size=40).cumsum() + 3 * store}) for store in (1, 2)}
    run = RunDirectory(config.output_path, "r1")
    run.prepare()
    results = _fitted_rows(config, frames)
    holdout = read_holdout(run) if write_holdout(results, run, config) else None
    assert holdout is not None and len(holdout) == 10 and list(holdout.columns[:2]) == ["store", "scenario_id"]
    assert holdout["store"].dtype == np.int64 and set(holdout["store"]) == {1, 2}
    assert pd.api.types.is_datetime64_any_dtype(holdout["day"])
    # ids like "1036" stay text and join back to the input rows (pandas' JSON reader made them numbers)
    assert holdout["order"].tolist() == [*frames[1]["order"][-5:], *frames[2]["order"][-5:]]
    joined = holdout.merge(pd.concat(frames.values()), on=["store", "order", "day"], how="left")
    np.testing.assert_allclose(joined["actual"], joined["y"], rtol=1e-5)
