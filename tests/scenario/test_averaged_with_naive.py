"""A tuned model averaged with the naive forecast: chosen when the average, not the model alone, beats the naive
forecast on every fold, and shipped, refitted and predicted as that average."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from automl.config import parse_config
from automl.jobs.scenario_task import ScenarioContext, train_one
from automl.scenario.baselines import naive_candidates
from automl.scenario.families import FAMILIES, ModelFamily
from automl.scenario.pipeline import fit_scenario, predict_scenario
from automl.scenario.search import AVERAGED_PARAM, Problem, search


class _Echo:
    """A "model" whose prediction is its first input column: the test decides every prediction."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Echo:
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype="float64")[:, 0]


class _EchoClassifier:
    """Its probability of the positive class is its first input column."""

    classes_ = np.array([0, 1])

    def fit(self, x: np.ndarray, y: np.ndarray) -> _EchoClassifier:
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        positive = np.asarray(x, dtype="float64")[:, 0]
        return np.column_stack([1.0 - positive, positive])


@pytest.fixture
def echo_family(monkeypatch):
    """The linear family replaced by :class:`_Echo` (its search space kept, its parameters ignored)."""
    linear = FAMILIES["linear"]

    def build(task: str, *args: Any, **kwargs: Any) -> Any:
        return _Echo() if task == "regression" else _EchoClassifier()

    monkeypatch.setitem(FAMILIES, "linear", ModelFamily("linear", linear.tasks, linear.space, build, (),
                                                        linear.defaults))


def _config(task: str = "regression", target: str = "units", **tuning: Any):
    return parse_config({"name": "t", "task": task, "scenario_keys": ["segment"], "target": target,
                         "sample_id": ["id"], "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                         "selection": {"method": "none"}, "models": {"families": ["linear"]},
                         "tuning": {"max_evals": 2, "ensemble_size": 1, **tuning},
                         "metrics": {"primary": "rmse" if task == "regression" else "log_loss"}}, source="test")


def _search(model_predictions: list[float], time_indexed: bool = False) -> Any:
    """search() on ten fit rows of 0 (the mean forecast: 0) and three validation folds of two rows of 2, where
    the model predicts the given value on each fold's rows."""
    labels = np.array([0.0] * 10 + [2.0] * 6)
    x = np.array([0.0] * 10 + [p for p in model_predictions for _ in range(2)])[:, None]
    folds = [(np.arange(10), np.array([10 + 2 * j, 11 + 2 * j])) for j in range(3)]
    problem = Problem("regression", "rmse", x, labels, folds, time_indexed, 1, 0, (), None, 1, 0,
                      time_indexed=time_indexed)
    candidates = naive_candidates("regression", time_indexed=False, ordered=False, season=None, window=1)
    return search(problem, _config(), candidates, ["none"], 10.0)


def test_a_model_that_loses_a_fold_alone_wins_every_fold_averaged_with_the_naive_forecast(echo_family):
    # The mean is 2 off on every fold. The model is exact on two folds and 2.5 off on the third: alone it loses
    # that fold; averaged with the mean it is 1, 1 and 0.25 off, better on every fold.
    (member,) = _search([2.0, 2.0, 4.5]).members
    assert member.family == "linear" and member.params[AVERAGED_PARAM] == "naive_mean"
    assert member.loss == pytest.approx(np.mean([1.0, 1.0, 0.25]))
    # Exact on every fold, the model alone (loss 0) beats its average with the mean (loss 1) and ships alone.
    (alone,) = _search([2.0, 2.0, 2.0]).members
    assert AVERAGED_PARAM not in alone.params and alone.loss == 0.0
    # 3 off on a fold, the average is 0.5 off there: still better than the mean, so it still ships averaged.
    assert AVERAGED_PARAM in _search([2.0, 2.0, 5.0]).members[0].params
    # 7 off on a fold, the average is 2.5 off there, worse than the mean: nothing beats it on every fold.
    assert _search([2.0, 2.0, 9.0]).members == []
    # A series is never averaged with its naive forecast: alone the model loses a fold, and the naive one ships.
    assert _search([2.0, 2.0, 4.5], time_indexed=True).members == []
    assert AVERAGED_PARAM not in _search([2.0, 2.0, 2.0], time_indexed=True).members[0].params


def _rows(n: int, seed: int) -> pd.DataFrame:
    """Units of +-1 and a hint that is 1.2 off them, up or down at random: alone worse than the mean (error 1),
    averaged with it about 0.78 off."""
    rng = np.random.default_rng(seed)
    units = rng.choice([-1.0, 1.0], n)
    return pd.DataFrame({"segment": "a", "id": np.arange(n) + 1000 * seed, "units": units,
                         "hint": units + 1.2 * rng.choice([-1.0, 1.0], n)})


def test_the_average_with_the_naive_forecast_ships_refits_and_predicts(echo_family):
    frame = _rows(300, seed=0)
    config = _config()
    fit = fit_scenario(frame, {"segment": "a"}, config)

    assert fit.model.family == "linear+naive_mean" and fit.model.params[AVERAGED_PARAM] == "naive_mean"
    assert fit.metrics["rmse"] < 0.85 < 0.95 < fit.baseline["rmse"]
    assert fit.leaderboard["linear"] > fit.leaderboard["naive_mean"]  # the model alone validates worse
    # The shipped model is refitted on every row: half the hint plus half the mean of all 300 units.
    new = _rows(50, seed=1)
    predicted = predict_scenario(new.drop(columns="units"), fit.model, config)["prediction"].to_numpy()
    np.testing.assert_allclose(predicted, (new["hint"] + frame["units"].mean()) / 2)
    row = train_one(frame, {"segment": "a"}, ScenarioContext(config))
    assert (row["status"], row["best_family"], row["beats_baseline"]) == ("ok", "linear+naive_mean", True)


def test_a_classifier_too_sure_of_itself_ships_averaged_with_the_class_prior(echo_family):
    # Right 80% of the time at probability 0.99: alone a log loss of about 0.93, worse than the prior's 0.69;
    # averaged with the prior (about 0.745 / 0.255) about 0.51.
    rng = np.random.default_rng(0)
    churned = rng.random(400) < 0.5
    right = rng.random(400) < 0.8
    frame = pd.DataFrame({"segment": "a", "id": np.arange(400), "churn": np.where(churned, "yes", "no"),
                          "hint": np.where(churned == right, 0.99, 0.01)})
    config = _config("classification", "churn")
    fit = fit_scenario(frame, {"segment": "a"}, config)

    assert fit.model.family == "linear+naive_prior" and fit.model.params[AVERAGED_PARAM] == "naive_prior"
    assert fit.metrics["log_loss"] < 0.6 < 0.68 < fit.baseline["log_loss"]
    scored = predict_scenario(frame.drop(columns="churn").head(50), fit.model, config)
    assert scored["probability"].between(0.1, 0.9).all()  # the prior pulled 0.99 / 0.01 in


def test_a_model_averaged_with_the_naive_forecast_is_logged_to_mlflow_with_its_params(echo_family, tmp_path):
    from mlflow.tracking import MlflowClient

    from automl.tracking import ModelPublisher

    fit = fit_scenario(_rows(300, seed=0), {"segment": "a"}, _config())
    assert fit.model.family == "linear+naive_mean"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("averaged", artifact_location=str(tmp_path / "artifacts"))
    parent = client.create_run(experiment).info.run_id
    published = ModelPublisher(uri, experiment, parent, str(tmp_path / "models"), _config())({"segment": "a"}, fit)
    assert published.logging_error == ""
    params = client.get_run(published.mlflow_run_id).data.params
    assert params["family"] == "linear+naive_mean" and params["linear.averaged_with"] == "naive_mean"
