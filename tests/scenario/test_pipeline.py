"""One scenario end to end in pandas: ok / skipped / failed rows, determinism, and prediction round trips."""
from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from automl.config import Config, parse_config
from automl.errors import ScenarioError
from automl.scenario.families import FAMILIES, ModelFamily
from automl.jobs.scenario_task import ScenarioContext, train_one as train_scenario
from automl.results import STEPS, Published
from automl.scenario.pipeline import fit_scenario, predict_scenario
from automl.scenario.search import Problem, _averaged, _ensemble
from automl.scenario.tuning import Trial

# Small forests and boosters keep every fit well under a second.
_SMALL_MODELS = {"families": ["linear", "random_forest", "lightgbm"], "search_space": {
    "random_forest": {"n_estimators": {"type": "int", "low": 10, "high": 30}},
    "lightgbm": {"n_estimators": {"type": "int", "low": 10, "high": 40}}}}


def weekly_config(**changes) -> Config:
    document = {
        "name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
        "time_column": "week", "data": {"streams": [{"name": "sales", "path": "sales.parquet"}]},
        "split": {"test_size": 4, "validation_size": 4, "min_train_rows": 10},
        "features": {"target_lags": [4], "target_windows": [3], "trans_primitives": ["month"]},
        "models": _SMALL_MODELS, "tuning": {"max_evals": 4},
    }
    return parse_config({**document, **changes}, source="test")


def churn_config(**changes) -> Config:
    document = {
        "name": "churn", "task": "classification", "scenario_keys": ["segment"], "target": "churned",
        "sample_id": ["customer"], "data": {"streams": [{"name": "customers", "path": "c.parquet"}]},
        "split": {"test_size": 0.25, "validation_size": 0.25, "min_train_rows": 10},
        "models": _SMALL_MODELS, "tuning": {"max_evals": 4}, "metrics": {"positive_class": "yes"},
    }
    return parse_config({**document, **changes}, source="test")


def _deterministic(row: dict) -> dict:
    """The row without wall-clock and memory readings."""
    return {k: v for k, v in row.items() if not k.startswith("seconds_") and k != "peak_memory_mb"}


# --- ok ----------------------------------------------------------------------------------------------------------


def test_learnable_weekly_frame_beats_the_naive_baseline(weekly_frame):
    config = weekly_config()
    row = train_scenario(weekly_frame(60), {"store": 1}, ScenarioContext(config, run_id="r1"))

    assert row["status"] == "ok", row["error"] + row["traceback"]
    assert row["beats_baseline"] is True
    assert row["score"] == row["metric_rmse"] < row["baseline_score"]
    assert {f"metric_{m}" for m in config.report_metrics} <= row.keys()
    assert (row["store"], row["run_id"], row["primary_metric"]) == (1, "r1", "rmse")
    assert (row["n_rows"], row["n_train"], row["n_test"], row["n_evals"]) == (60, 56, 4, 4)
    assert set(row["best_family"].split("+")) <= set(config.models.families)  # one family or an ensemble
    leaderboard = json.loads(row["leaderboard"])
    assert json.loads(row["best_params"]) and set(config.models.families) <= set(leaderboard)
    assert {"damped_trend", "theta", "naive_last"} <= set(leaderboard)  # the naive forecasts compete on validation
    assert list(leaderboard.values()) == sorted(leaderboard.values())  # best (lowest rmse) first
    assert "promo" in row["selected_features"]
    assert all(f"seconds_{step}" in row for step in STEPS) and row["seconds_total"] > 0
    assert (row["error"], row["error_type"], row["traceback"]) == ("", "", "")


def test_learnable_classification_frame_beats_the_prior(classification_frame):
    row = train_scenario(classification_frame(80), {"segment": "a"}, ScenarioContext(churn_config()))
    assert row["status"] == "ok", row["error"] + row["traceback"]
    assert row["primary_metric"] == "roc_auc"
    assert row["beats_baseline"] is True and row["score"] > 0.8 and row["baseline_score"] == 0.5
    assert "customer" not in row["selected_features"]  # a sample id is never a feature


def test_publish_gets_the_fit_and_fills_the_row(weekly_frame):
    published = []

    def publish(keys, fit, replace_partial=False):
        published.append((keys, fit.model.family))
        return Published(model_path="/models/store=1", model_uri="runs:/abc/model", mlflow_run_id="abc")

    row = train_scenario(weekly_frame(40), {"store": 1}, ScenarioContext(weekly_config(), publish=publish))
    assert row["status"] == "ok"
    assert published == [({"store": 1}, row["best_family"])]
    assert (row["model_path"], row["model_uri"], row["mlflow_run_id"]) == ("/models/store=1", "runs:/abc/model", "abc")


def test_same_seed_same_result_whatever_the_order(weekly_frame):
    config = weekly_config(tuning={"max_evals": 3, "seed": 9})
    frames = {1: weekly_frame(40, seed=1), 2: weekly_frame(40, seed=2)}
    forward = [train_scenario(frames[k], {"store": k}, ScenarioContext(config)) for k in (1, 2)]
    backward = [train_scenario(frames[k], {"store": k}, ScenarioContext(config)) for k in (2, 1)][::-1]
    assert [_deterministic(r) for r in forward] == [_deterministic(r) for r in backward]
    assert forward[0]["seed"] != forward[1]["seed"]


# --- skipped: data that cannot be modelled -------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "reason"), [
    (lambda f: f.assign(churned="no"), r"target 'churned' has a single class \('no'\): nothing to learn"),
    (lambda f: f.head(12), r"too few rows: 12 rows with a target; at least 14 are needed \(split.min_train_rows 10 "
                           r"for training plus the holdout, split.test_size 0.25\)"),
    (lambda f: f.drop(columns="churned"), "target column 'churned' is missing"),
    (lambda f: f.assign(churned=None), "target column 'churned' has no values"),
])
def test_classification_data_that_cannot_be_modelled_is_skipped(classification_frame, change, reason):
    row = train_scenario(change(classification_frame(40)), {"segment": "a"}, ScenarioContext(churn_config()))
    assert row["status"] == "skipped"
    assert re.search(reason, row["error"])
    assert row["error_type"] == "ScenarioError" and row["traceback"] == ""


@pytest.mark.parametrize(("change", "reason"), [
    (lambda f: f.assign(units="many"), "target 'units' is not numeric"),
    (lambda f: pd.concat([f, f.tail(1)]), r"1 duplicated 'week' values .*one row per period"),
    (lambda f: f.drop(columns="week"), "time column 'week' is missing"),
])
def test_regression_data_that_cannot_be_modelled_is_skipped(weekly_frame, change, reason):
    row = train_scenario(change(weekly_frame(30)), {"store": 1}, ScenarioContext(weekly_config()))
    assert row["status"] == "skipped"
    assert re.search(reason, row["error"])


@pytest.mark.parametrize(("time_column", "shipped"), [("week", "naive_last"), (None, "naive_mean")])
def test_a_constant_target_ships_its_value_untuned(weekly_frame, time_column, shipped):
    """A slow mover that never sold is modelled by its history's one value, not skipped: every scenario of a
    many-models job gets a forecast."""
    frame = weekly_frame(30).assign(units=5.0)
    config = weekly_config(time_column=time_column, features={"trans_primitives": []}) if time_column is None \
        else weekly_config()
    if time_column is None:
        frame = frame.drop(columns="week")
    fit = fit_scenario(frame, {"store": 1}, config)
    assert fit.model.family == shipped and fit.n_evals == 0 and fit.metrics["rmse"] == 0.0
    future = frame.tail(4).drop(columns="units")
    if time_column:
        future = future.assign(week=future["week"] + pd.Timedelta(weeks=4))
    assert (predict_scenario(future, fit.model, config)["prediction"] == 5.0).all()


def test_passed_deadline_skips(weekly_frame):
    row = train_scenario(weekly_frame(30), {"store": 1}, ScenarioContext(weekly_config(), deadline=0.0))
    assert row["status"] == "skipped" and "deadline" in row["error"]


# --- failed: bugs and broken estimators --------------------------------------------------------------------------


def test_a_family_whose_build_raises_fails_the_scenario_with_a_traceback(monkeypatch, weekly_frame):
    def broken_build(task, params, threads, seed, **_):
        raise MemoryError("estimator exploded")

    monkeypatch.setitem(FAMILIES, "linear", ModelFamily("linear", FAMILIES["linear"].tasks,
                                                        FAMILIES["linear"].space, broken_build))
    config = weekly_config(models={"families": ["linear"]}, tuning={"max_evals": 2})

    row = train_scenario(weekly_frame(30), {"store": 1}, ScenarioContext(config))

    assert row["status"] == "failed"
    assert row["error_type"] == "RuntimeError"
    assert "tuning found no working model (2 failed trials); last: linear: MemoryError: estimator exploded" \
        in row["error"]
    assert row["traceback"].startswith("Traceback") and "RuntimeError" in row["traceback"]
    assert "score" not in row


def test_a_failing_family_loses_to_a_working_one(monkeypatch, weekly_frame):
    def broken_build(task, params, threads, seed, **_):
        raise ValueError("no")

    monkeypatch.setitem(FAMILIES, "lightgbm", ModelFamily("lightgbm", FAMILIES["lightgbm"].tasks,
                                                          FAMILIES["lightgbm"].space, broken_build))
    row = train_scenario(weekly_frame(30), {"store": 1}, ScenarioContext(weekly_config()))
    assert row["status"] == "ok" and row["best_family"] != "lightgbm"


def test_a_publish_error_fails_the_scenario(weekly_frame):
    def publish(keys, fit, replace_partial=False):
        raise OSError("disk full")

    row = train_scenario(weekly_frame(30), {"store": 1}, ScenarioContext(weekly_config(), publish=publish))
    assert (row["status"], row["error_type"], row["error"]) == ("failed", "OSError", "OSError: disk full")


# --- prediction --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("refit", [True, False])
def test_future_rows_without_target_get_a_prediction_each(weekly_frame, refit):
    config = weekly_config(split={"test_size": 4, "validation_size": 4, "min_train_rows": 10,
                                  "refit_on_all_rows": refit})
    full = weekly_frame(44)
    fit = fit_scenario(full.head(40), {"store": 1}, config)
    future = full.tail(4).drop(columns="units").sample(frac=1, random_state=0)  # any order

    predicted = predict_scenario(future, fit.model, config)

    assert list(predicted.columns) == ["week", "prediction"]
    assert predicted["week"].tolist() == sorted(future["week"])
    assert predicted["prediction"].notna().all() and np.isfinite(predicted["prediction"]).all()
    truth = full.tail(4)["units"].to_numpy()
    assert np.abs(predicted["prediction"].to_numpy() - truth).mean() < 10  # promo lift alone is 30


def test_prediction_needs_the_model_columns(weekly_frame):
    config = weekly_config()
    fit = fit_scenario(weekly_frame(40), {"store": 1}, config)
    future = weekly_frame(44).tail(4).drop(columns=["units", "price"])
    with pytest.raises(ScenarioError, match=r"prediction input lacks columns the model needs: \['price'\]"):
        predict_scenario(future, fit.model, config)


def test_prediction_beyond_the_lag_horizon_is_refused(weekly_frame):
    config = weekly_config()
    fit = fit_scenario(weekly_frame(40), {"store": 1}, config)
    future = weekly_frame(46).tail(6).drop(columns="units")
    with pytest.raises(ScenarioError, match="6 future periods exceed the horizon of 4"):
        predict_scenario(future, fit.model, config)


def test_classification_predictions_use_the_original_labels(classification_frame):
    config = churn_config()
    frame = classification_frame(80)
    fit = fit_scenario(frame, {"segment": "a"}, config)
    new = classification_frame(10, seed=5).drop(columns="churned")

    predicted = predict_scenario(new, fit.model, config)

    assert list(predicted.columns) == ["customer", "prediction", "probability", "class_probabilities"]
    assert predicted["customer"].tolist() == new["customer"].tolist()
    assert set(predicted["prediction"]) <= {"yes", "no"}
    assert predicted["probability"].between(0, 1).all()
    for text, probability in zip(predicted["class_probabilities"], predicted["probability"]):
        classes = json.loads(text)
        assert set(classes) == {"yes", "no"} and math.isclose(sum(classes.values()), 1, abs_tol=1e-5)
        assert math.isclose(classes["yes"], probability, abs_tol=1e-5)  # binary: probability of the positive class


def test_a_class_the_saved_estimator_never_saw_keeps_the_labels_aligned():
    # "maybe" occurs only in the time holdout; without refit the saved estimator knows "no" and "yes" only.
    rng = np.random.default_rng(0)
    x = rng.normal(size=40)
    frame = pd.DataFrame({"segment": "a", "week": pd.date_range("2021-01-04", periods=40, freq="W-MON"), "x": x,
                          "churned": np.where(x > 0, "yes", "no")})
    frame.loc[38:, "churned"] = "maybe"
    config = churn_config(time_column="week", sample_id=[], split={"test_size": 4, "validation_size": 4,
                                                                   "min_train_rows": 10, "refit_on_all_rows": False})

    fit = fit_scenario(frame, {"segment": "a"}, config)
    predicted = predict_scenario(frame.head(4).drop(columns="churned"), fit.model, config)

    assert fit.model.classes == ["maybe", "no", "yes"]
    assert math.isfinite(fit.metrics["roc_auc"])
    assert predicted["prediction"].tolist() == frame.head(4)["churned"].tolist()
    for text in predicted["class_probabilities"]:
        assert json.loads(text)["maybe"] == 0.0


# --- modelling options -----------------------------------------------------------------------------------------


def test_log1p_target_transform_predicts_on_the_original_scale(weekly_frame):
    config = weekly_config(models={**_SMALL_MODELS, "target_transform": "log1p"})
    frame = weekly_frame(60)
    fit = fit_scenario(frame, {"store": 1}, config)
    future = weekly_frame(64).tail(4).drop(columns=["units"])
    predicted = predict_scenario(future, fit.model, config)["prediction"]
    assert fit.metrics["rmse"] < fit.baseline["rmse"]
    assert predicted.between(frame["units"].min() * 0.5, frame["units"].max() * 1.5).all()


def test_log1p_target_transform_skips_negative_targets(weekly_frame):
    config = weekly_config(models={**_SMALL_MODELS, "target_transform": "log1p"})
    frame = weekly_frame(60).assign(units=lambda f: f["units"] - 100)
    row = train_scenario(frame, {"store": 1}, ScenarioContext(config))
    assert row["status"] == "skipped" and "non-negative target" in row["error"]


def _outputs(errors: list[float], truth: np.ndarray) -> list[tuple[np.ndarray, None]]:
    """Regression fold outputs: per fold, predictions off the truth by that fold's error."""
    return [(truth + error, None) for error in errors]


def test_a_family_joins_the_ensemble_only_if_the_average_validates_better():
    truth = np.zeros(2)
    folds = [(np.arange(2), np.arange(2))] * 3
    problem = Problem("regression", "rmse", np.zeros((2, 1)), truth, folds, False, 1, 0, (), None, 1, 0)
    best, opposite, same = (Trial(f, {}, 1.0) for f in ("lightgbm", "linear", "random_forest"))
    # linear errs the other way: the average is exact, so it joins; random_forest errs like lightgbm, and
    # adding it to an exact average only makes it worse, so it stays out.
    members = _ensemble(problem, [(best, _outputs([1, 1, 1], truth)), (opposite, _outputs([-1, -1, -1], truth)),
                                  (same, _outputs([1, 1, 1], truth))])
    assert [m.family for m in members] == ["lightgbm", "linear"]
    # A family three times as far off drags the average (error 2) above lightgbm's: it stays out.
    assert [m.family for m in _ensemble(problem, [(best, _outputs([1, 1, 1], truth)),
                                                  (same, _outputs([3, 3, 3], truth))])] == ["lightgbm"]
    # Without time order the mean decides: the average loses the third fold (error 1.25 against 0.5) and joins.
    averaged = _averaged(problem, [_outputs([1, 1, 0.5], truth), _outputs([-1, -1, 2], truth)])
    assert [p[0] for p, _ in averaged] == pytest.approx([0.0, 0.0, 1.25])
    pair = [(best, _outputs([1, 1, 0.5], truth)), (opposite, _outputs([-1, -1, 2], truth))]
    assert len(_ensemble(problem, pair)) == 2
    # A series' folds are successive windows: losing the latest one keeps the family out. Event data ordered by
    # split.order_by (ordered, no time column) joins on the mean like unordered data.
    assert len(_ensemble(dataclasses.replace(problem, ordered=True, time_indexed=True), pair)) == 1
    assert len(_ensemble(dataclasses.replace(problem, ordered=True), pair)) == 2


def test_a_classification_ensemble_averages_probabilities():
    labels = np.array([0, 1])
    problem = Problem("classification", "log_loss", np.zeros((2, 1)), labels, [(np.arange(2), np.arange(2))],
                      False, 1, 2, (), None, 1, 0)
    sure = np.array([[0.9, 0.1], [0.6, 0.4]])  # right about row 0, wrong about row 1
    other = np.array([[0.4, 0.6], [0.1, 0.9]])  # wrong about row 0, right about row 1
    ranked = [(Trial("lightgbm", {}, 0.51), [(sure.argmax(1), sure)]),
              (Trial("linear", {}, 0.51), [(other.argmax(1), other)])]
    assert len(_ensemble(problem, ranked)) == 2  # log loss 0.43 averaged, against 0.51 for either alone
    ((prediction, proba),) = _averaged(problem, [outputs for _, outputs in ranked])
    assert np.allclose(proba, [[0.65, 0.35], [0.35, 0.65]]) and list(prediction) == [0, 1]


def test_an_ensemble_that_validates_better_ships_with_each_members_parameters():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"segment": "a", "id": np.arange(300), "a": rng.normal(size=300),
                          "b": rng.normal(size=300)})
    frame["units"] = 3 * frame["a"] + 4 * (frame["b"] > 0) + rng.normal(0, 1, 300)
    document = {"name": "t", "task": "regression", "scenario_keys": ["segment"], "target": "units",
                "sample_id": ["id"], "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                "models": _SMALL_MODELS, "tuning": {"max_evals": 9, "ensemble_size": 2}}
    fit = fit_scenario(frame, {"segment": "a"}, parse_config(document, source="test"))
    single = fit_scenario(frame, {"segment": "a"}, parse_config(
        {**document, "tuning": {"max_evals": 9, "ensemble_size": 1}}, source="test"))
    families = fit.model.family.split("+")
    assert len(families) == 2 and set(fit.model.params) == set(families) and families[0] == single.model.family
    assert fit.metrics["rmse"] < single.metrics["rmse"]  # on these rows the average also wins the holdout
