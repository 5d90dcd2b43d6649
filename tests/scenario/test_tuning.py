"""HyperoptTuner on cheap fake objectives: finds the minimum, is seeded, survives failing families."""
from __future__ import annotations

import math

import pytest

from automl.errors import ScenarioError
from automl.scenario.space import Choice, Float, Int
from automl.scenario.tuning import HyperoptTuner, Trial, TuningResult, make_tuner

SPACES = {
    "parabola": {"x": Float(-5.0, 5.0)},                       # best loss 1.0 at x = 1
    "steps": {"n": Int(1, 10), "kind": Choice(("a", "b", None))},  # best loss 0.0 at n = 7, kind "b"
}


def objective(family: str, params: dict) -> float:
    if family == "parabola":
        return (params["x"] - 1.0) ** 2 + 1.0
    return (params["n"] - 7) ** 2 / 10 + (0.0 if params["kind"] == "b" else 0.5)


def _tune(objective=objective, spaces=SPACES, *, max_evals=40, seed=0, algorithm="tpe", timeout=60.0):
    return HyperoptTuner(algorithm).tune(objective, spaces, max_evals=max_evals, timeout_seconds=timeout, seed=seed)


def test_finds_the_minimum_across_families():
    result = _tune()
    assert result.best.family == "steps"
    assert result.best.loss <= 0.1
    assert result.best.params["kind"] == "b" and abs(result.best.params["n"] - 7) <= 1
    board = result.leaderboard()
    assert list(board) == ["steps", "parabola"]
    assert board["steps"] == result.best.loss and board["parabola"] >= 1.0


def test_parameters_keep_their_types_and_bounds():
    result = _tune(max_evals=25, algorithm="random")
    for trial in result.trials:
        if trial.family == "steps":
            assert isinstance(trial.params["n"], int) and 1 <= trial.params["n"] <= 10
            assert trial.params["kind"] in ("a", "b", None)
        else:
            assert isinstance(trial.params["x"], float) and -5.0 <= trial.params["x"] <= 5.0


def test_fixed_values_are_passed_through():
    spaces = {"fixed": {"n": Int(3, 3), "x": Float(0.5, 0.5), "kind": Choice(("only",))}}
    result = _tune(lambda family, params: 1.0, spaces, max_evals=3)
    assert {tuple(sorted(t.params.items())) for t in result.trials} == {(("kind", "only"), ("n", 3), ("x", 0.5))}


@pytest.mark.parametrize("algorithm", ["tpe", "random", "anneal"])
def test_same_seed_same_trials(algorithm):
    first = _tune(max_evals=15, seed=5, algorithm=algorithm)
    second = _tune(max_evals=15, seed=5, algorithm=algorithm)
    other = _tune(max_evals=15, seed=6, algorithm=algorithm)
    assert first.trials == second.trials
    assert first.trials != other.trials


def test_a_family_that_always_raises_loses_to_the_others():
    def sometimes_broken(family, params):
        if family == "steps":
            raise ValueError("this estimator cannot fit")
        return objective(family, params)

    result = _tune(sometimes_broken, max_evals=20)
    assert result.best.family == "parabola"
    assert {trial.family for trial in result.trials} == {"parabola"}
    assert result.leaderboard().keys() == {"parabola"}


def test_everything_failing_raises_with_the_last_error():
    def broken(family, params):
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match=r"tuning found no working model \(5 failed trials\); last: "
                                           r"(parabola|steps): ValueError: boom"):
        _tune(broken, max_evals=5)


def test_non_finite_losses_are_failed_trials():
    with pytest.raises(RuntimeError, match=r"\(4 failed trials\); last: .*non-finite loss \(nan\)"):
        _tune(lambda family, params: float("nan"), max_evals=4)


def test_an_unlimited_time_budget():
    result = _tune(max_evals=3, timeout=math.inf)
    assert len(result.trials) == 3


def test_tuning_result_best_and_leaderboard():
    result = TuningResult((Trial("a", {}, 3.0), Trial("b", {}, 1.0), Trial("a", {}, 2.0)))
    assert result.best == Trial("b", {}, 1.0)
    assert result.leaderboard() == {"b": 1.0, "a": 2.0}


def test_unknown_tuner():
    assert isinstance(make_tuner("hyperopt", "tpe"), HyperoptTuner)
    with pytest.raises(ScenarioError, match=r"unknown tuner 'optuna'; registered: \['hyperopt'\]"):
        make_tuner("optuna", "tpe")
