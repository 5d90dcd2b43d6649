"""Nothing lost: bad data gets a reason, failing scenarios never stop the others, runs resume."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from automl import jobs
from automl.errors import DataError
from automl.jobs.scenario_task import FAULT_INJECTION_VARIABLE
from job_helpers import config as _config, series as _series

pytestmark = pytest.mark.spark


def _results(summary) -> pd.DataFrame:
    return pd.read_parquet(summary.outputs["results"]).set_index("s").sort_index()


def test_unmodellable_scenarios_are_skipped_with_a_reason_and_the_rest_train(spark, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="automl.jobs.train")
    duplicated = _series("duplicated_weeks", seed=4)
    duplicated.loc[5, "t"] = duplicated.loc[4, "t"]
    frame = pd.concat([
        _series("good_1", seed=1), _series("good_2", seed=2),
        _series("too_few", n=12, seed=3),
        _series("constant", target=np.full(48, 5.0)),
        _series("no_target", target=np.full(48, np.nan)),
        duplicated,
    ])
    frame.to_parquet(tmp_path / "rows.parquet")
    summary = jobs.train(_config(tmp_path / "rows.parquet", tmp_path / "out"), spark=spark)
    results = _results(summary)
    assert len(results) == 6 and summary.counts == {"ok": 3, "unchanged": 0, "failed": 0, "skipped": 3}
    assert (results.loc[["good_1", "good_2", "constant"], "status"] == "ok").all()
    # A constant history is modelled by its value: the last value ships, untuned, and scores it exactly.
    assert results.loc["constant", "best_family"] == "naive_last" and results.loc["constant", "n_evals"] == 0
    assert results.loc["constant", "metric_rmse"] == 0.0 and np.isnan(results.loc["constant", "metric_r2"])
    assert summary.details["logging_errors"] == 0  # MLflow takes the undefined r2 of a constant holdout
    assert "not tuned, a naive forecast shipped: 1 (a constant target" in caplog.text
    # Both learnable series replaced the default forecast with a model that also won the holdout.
    assert (results.loc[["good_1", "good_2"], "best_family"] == "linear").all()
    assert "replaced the default forecast (damped_trend): 2 series; 0 more beat it on validation" in caplog.text
    assert summary.details["default_replacements"] == {"replaced": 2, "rejected_on_holdout": 0}
    reasons = results["error"]
    assert "too few rows" in reasons["too_few"]
    assert "null in all" in reasons["no_target"]
    assert "duplicated (scenario, t)" in reasons["duplicated_weeks"]


def test_single_class_scenario_is_skipped(spark, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"s": ["mixed"] * 60 + ["one_class"] * 60, "x": rng.normal(size=120),
                          "id": range(120)})
    frame["y"] = np.where(frame["x"] > 0, "yes", "no")
    frame.loc[frame["s"] == "one_class", "y"] = "no"
    frame.to_parquet(tmp_path / "rows.parquet")
    config = _config(tmp_path / "rows.parquet", tmp_path / "out", task="classification", time_column=None,
                     sample_id=["id"], split={"test_size": 0.25, "validation_size": 0.25})
    results = _results(jobs.train(config, spark=spark))
    assert results.loc["mixed", "status"] == "ok"
    assert results.loc["one_class", "status"] == "skipped"
    assert "single class" in results.loc["one_class", "error"]


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop(columns=["y"]), r"target column 'y' is missing"),
    (lambda f: f.assign(y="high"), r"target 'y' must be numeric for regression, is string"),
    (lambda f: f.assign(t=f["t"].astype(str)), r"time_column 't' must be a date or timestamp"),
    (lambda f: f.iloc[0:0], r"has no rows"),
])
def test_job_level_data_problems_are_one_clear_error(spark, tmp_path, change, message):
    change(_series("a")).to_parquet(tmp_path / "rows.parquet")
    with pytest.raises(DataError, match=message):
        jobs.train(_config(tmp_path / "rows.parquet", tmp_path / "out"), spark=spark)


def test_invalid_spark_expression_names_where_it_was_written(spark, tmp_path):
    _series("a").to_parquet(tmp_path / "rows.parquet")
    config = _config(tmp_path / "rows.parquet", tmp_path / "out", data__filter="x >>> 1")
    with pytest.raises(DataError, match=r"data.filter: invalid Spark SQL expression 'x >>> 1'"):
        jobs.train(config, spark=spark)


def test_injected_failures_stay_isolated_and_resume_finishes_the_run(spark, tmp_path, monkeypatch):
    pd.concat([_series(f"s{i:02d}", seed=i) for i in range(30)]).to_parquet(tmp_path / "rows.parquet")
    monkeypatch.setenv(FAULT_INJECTION_VARIABLE, "0.1")
    faulty = _config(tmp_path / "rows.parquet", tmp_path / "out")
    first = jobs.train(faulty, spark=spark)
    results = _results(first)
    failed = results[results["status"] == "failed"]
    assert len(results) == 30 and 1 <= len(failed) <= 8
    assert (results.drop(failed.index)["status"] == "ok").all()
    assert failed["error_type"].eq("InjectedFault").all() and failed["traceback"].str.contains("Traceback").all()
    assert first.status == "failed"  # default threshold: any failure fails the job ...
    lenient = _config(tmp_path / "rows.parquet", tmp_path / "out2", execution={"max_failed_fraction": 0.5})
    assert jobs.train(lenient, spark=spark).status == "succeeded"  # ... a threshold tolerates them
    monkeypatch.delenv(FAULT_INJECTION_VARIABLE)

    healthy = _config(tmp_path / "rows.parquet", tmp_path / "out")
    resumed = jobs.train(healthy, spark=spark, resume=first.run_id)
    final = _results(resumed)
    assert resumed.run_id == first.run_id and resumed.status == "succeeded"
    assert len(final) == 30 and (final["status"] == "ok").all()
    assert (final.loc[failed.index, "attempt"] == 2).all()
    untouched = final.drop(failed.index)
    assert (untouched["attempt"] == 1).all()
    pd.testing.assert_series_equal(untouched["score"], results.drop(failed.index)["score"])


def test_a_passed_deadline_skips_remaining_scenarios(spark, tmp_path):
    pd.concat([_series(f"s{i}", seed=i) for i in range(4)]).to_parquet(tmp_path / "rows.parquet")
    config = _config(tmp_path / "rows.parquet", tmp_path / "out", execution={"deadline_seconds": 0.01})
    results = _results(jobs.train(config, spark=spark))
    assert len(results) == 4 and (results["status"] == "skipped").all()
    assert results["error"].str.contains("deadline").all()


def test_selected_scenarios_only(spark, tmp_path):
    pd.concat([_series(f"s{i}", seed=i) for i in range(3)]).to_parquet(tmp_path / "rows.parquet")
    config = _config(tmp_path / "rows.parquet", tmp_path / "out")
    assert list(_results(jobs.train(config, spark=spark, selection=jobs.Selection([{"s": "s1"}]))).index) == ["s1"]
    assert list(_results(jobs.train(config, spark=spark, selection=jobs.Selection(where="s <> 's1'"))).index) == ["s0", "s2"]


def test_prediction_input_problems_are_reported_per_scenario(spark, tmp_path):
    history = pd.concat([_series("known", seed=1), _series("other", seed=2), _series("too_few", n=12, seed=4)])
    history.to_parquet(tmp_path / "rows.parquet")
    future = pd.concat([_series("known", n=54, seed=1).tail(6), _series("other", n=54, seed=2).tail(6),
                        _series("unknown", n=6, seed=3), _series("too_few", n=18, seed=4).tail(6)]).drop(columns=["y"])
    future.loc[future["s"] == "other", "x"] = np.nan
    future.drop(columns=["x"]).to_parquet(tmp_path / "future_no_x.parquet")
    future.to_parquet(tmp_path / "future.parquet")
    config = _config(tmp_path / "rows.parquet", tmp_path / "out",
                     data={"streams": [{"name": "rows", "path": str(tmp_path / "rows.parquet"),
                                        "predict_path": str(tmp_path / "future.parquet")}]})
    trained = jobs.train(config, spark=spark)
    summary = jobs.predict(config, spark=spark)
    predictions = pd.read_parquet(summary.outputs["predictions"])
    assert len(predictions) == len(future)
    by_scenario = predictions.groupby("s")["error"].first()
    assert by_scenario["known"] == "" and by_scenario["other"] == ""  # NaN features are imputed, not fatal
    assert "has no trained model (train it, or check the keys" in by_scenario["unknown"]
    # A scenario that was trained but skipped: its rows say which run skipped it and why, not "train it".
    assert by_scenario["too_few"].startswith(f"LookupError: scenario s=too_few has no trained model (training run "
                                             f"{trained.run_id}: skipped: too few rows")
    assert summary.counts == {"ok": 2, "failed": 2, "rows": 24} and summary.status == "failed"
    by_run = pd.read_parquet(jobs.predict(config, spark=spark, run_id=trained.run_id).outputs["predictions"])
    assert by_run.groupby("s")["error"].first()["too_few"] == by_scenario["too_few"]

    missing = _config(tmp_path / "rows.parquet", tmp_path / "out",
                      data={"streams": [{"name": "rows", "path": str(tmp_path / "rows.parquet"),
                                         "predict_path": str(tmp_path / "future_no_x.parquet")}]})
    lacking = pd.read_parquet(jobs.predict(missing, spark=spark).outputs["predictions"])
    known = lacking[lacking["s"] == "known"]
    assert known["prediction"].isna().all()
    assert known["error"].str.contains(r"lacks columns the model needs: \['x'\]").all()
