"""A job's verdict and its human summary, from results rows alone (no Spark)."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from automl.config import parse_config
from automl.jobs.summary import human_summary, predict_outcome, relative_to_baseline, top_reasons, train_outcome


def _config(**execution) -> object:
    return parse_config({"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y",
                         "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]}, "execution": execution})


def _rows(*rows: dict) -> pd.DataFrame:
    base = {"status": "ok", "error": "", "score": 1.0, "baseline_score": 2.0, "beats_baseline": True,
            "seconds_total": 1.0, "n_evals": 20, "best_family": "linear", "rejected_on_holdout": "",
            "leaderboard": '{"linear": 1.0, "damped_trend": 2.0}'}
    return pd.DataFrame([{**base, "s": f"s{i}", **row} for i, row in enumerate(rows)])


def test_reasons_that_differ_only_in_numbers_count_together():
    rows = _rows({"status": "skipped", "error": "too few rows: 3 rows with a target"},
                 {"status": "skipped", "error": "too few rows: 9 rows with a target"},
                 {"status": "failed", "error": "ValueError: boom"}, {})
    assert top_reasons(rows) == [("too few rows: 3 rows with a target", 2), ("ValueError: boom", 1)]


def test_a_run_with_no_usable_scenario_fails_with_its_reasons():
    outcome = train_outcome(_rows(*[{"status": "skipped", "error": f"duplicated 'week' values ({i})"}
                                    for i in range(3)]), _config())
    assert outcome.status == "failed"
    assert outcome.message == "no scenario trained: 3 x duplicated 'week' values (0)"


def test_unchanged_scenarios_count_as_usable():
    assert train_outcome(_rows({"status": "unchanged"}), _config()).status == "succeeded"


def test_failures_above_the_threshold_fail_the_run():
    rows = _rows({}, {"status": "failed", "error": "x"})
    assert train_outcome(rows, _config()).status == "failed"
    assert train_outcome(rows, _config(max_failed_fraction=0.5)).status == "succeeded"


def test_too_few_beating_the_baseline_fails_only_when_a_minimum_is_set():
    rows = _rows({}, {"beats_baseline": False, "score": 3.0}, {"beats_baseline": False, "score": 3.0})
    assert train_outcome(rows, _config()).status == "succeeded"
    outcome = train_outcome(rows, _config(min_beats_baseline_fraction=0.5))
    assert outcome.status == "failed" and "33%" in outcome.message
    assert outcome.details["beats_baseline_fraction"] == pytest.approx(1 / 3, abs=1e-4)


def test_prediction_outcome_accounts_for_every_row():
    tally = pd.DataFrame({"rows_out": [4, 3], "rows_failed": [0, 3]})
    assert predict_outcome(tally, 7, _config(max_failed_fraction=0.5)).status == "succeeded"
    assert predict_outcome(tally, 7, _config()).message.startswith("50% of scenarios had rows without")
    assert "rows were lost" in predict_outcome(tally, 8, _config()).message
    nothing = pd.DataFrame({"rows_out": [3], "rows_failed": [3]})
    assert predict_outcome(nothing, 3, _config(max_failed_fraction=1.0)).message.startswith("no row was scored")


def test_relative_to_baseline_reads_above_one_as_worse():
    assert relative_to_baseline(2.0, 1.0, "rmse") == 2.0
    assert relative_to_baseline(0.6, 0.8, "roc_auc") == pytest.approx(2.0)
    assert relative_to_baseline(0.0, 0.0, "rmse") == 1.0 and math.isinf(relative_to_baseline(1.0, 0.0, "rmse"))


def test_human_summary_lists_the_worst_five_and_the_slowest():
    rows = _rows(*[{"score": float(i), "baseline_score": 1.0, "seconds_total": 10.0 - i} for i in range(7)],
                 {"status": "skipped", "error": "too few rows: 3"})
    lines = human_summary(rows, _config())
    assert lines[0] == "scenarios: ok 7, skipped 1"
    worst = lines[lines.index("worst against the baseline (rmse, model / baseline):") + 1:][:5]
    assert [line.split(":")[0].strip() for line in worst] == ["s=s6", "s=s5", "s=s4", "s=s3", "s=s2"]
    assert lines[lines.index("slowest:") + 1].strip().startswith("s=s0: 10.0s")
    assert lines[-1] == "1 scenario(s): too few rows: 3"


def test_human_summary_counts_the_scenarios_that_were_not_tuned():
    rows = _rows({"n_evals": 0}, {"n_evals": 0}, {"n_evals": 12}, {"status": "skipped", "n_evals": 0})
    untuned = [line for line in human_summary(rows, _config()) if line.startswith("not tuned")]
    assert untuned == ["not tuned, a naive forecast shipped: 2 (a constant target, or validation folds under "
                       "split.min_validation_rows = 10 rows in all)"]
    nothing_to_tune = parse_config({"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y",
                                    "time_column": "t", "data": {"streams": [{"name": "rows", "path": "r.parquet"}]},
                                    "models": {"families": []}})
    assert not [line for line in human_summary(rows, nothing_to_tune) if line.startswith("not tuned")]


def test_human_summary_says_how_often_a_replacement_of_the_default_forecast_held():
    # theta replaced the default untuned (models.families: []); naive_last shipped untried (too short to validate).
    rows = _rows({"best_family": "linear"}, {"best_family": "theta", "n_evals": 0},
                 {"best_family": "damped_trend",
                  "rejected_on_holdout": "linear (rmse 3 on the holdout, damped_trend 2)"},
                 {"best_family": "damped_trend", "rejected_on_holdout": None},
                 {"best_family": "naive_last", "n_evals": 0, "leaderboard": '{"naive_last": 2.0}'},
                 {"status": "failed", "best_family": None, "leaderboard": None},
                 {"best_family": "linear", "leaderboard": float("nan")})  # a null read back from a table
    document = {"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y", "time_column": "t",
                "data": {"streams": [{"name": "rows", "path": "r.parquet"}]}}

    def replaced(config) -> list[str]:
        return [line for line in human_summary(rows, config) if line.startswith("replaced")]

    assert replaced(parse_config(document)) == [(
        "replaced the default forecast (damped_trend): 2 series; 1 more beat it on validation and lost to it on the "
        "holdout (67% held)")]
    assert train_outcome(rows, parse_config(document)).details["default_replacements"] == {
        "replaced": 2, "rejected_on_holdout": 1}
    # Without a time column there is no one default to replace; without the holdout check nothing is rejected.
    assert replaced(parse_config({**document, "time_column": None})) == []
    assert replaced(parse_config({**document, "tuning": {"confirm_on_holdout": False}})) == []
    assert train_outcome(rows, _config()).details["default_replacements"] is None


def test_a_scenario_key_named_like_a_results_column_is_refused():
    from automl.errors import ConfigError
    from automl.results import check_key_names

    config = parse_config({"name": "u", "task": "regression", "scenario_keys": ["status", "region"], "target": "y",
                           "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]}})
    with pytest.raises(ConfigError, match=r"scenario_keys \['status'\] clash with columns"):
        check_key_names(config)
    check_key_names(_config())
