"""Both tuners on cheap fake objectives: find the minimum, are seeded, survive failing families, evaluate first
points before searching; Optuna prunes objectives that report fold by fold."""
from __future__ import annotations

import math
import time

import pytest

from automl.config import parse_config
from automl.errors import ScenarioError
from automl.scenario.pipeline import fit_scenario
from automl.scenario.space import Choice, Float, Int
from automl.scenario.tuning import (
    HyperoptTuner,
    OptunaTuner,
    Trial,
    TuningResult,
    make_tuner,
)

SPACES = {
    "parabola": {"x": Float(-5.0, 5.0)},                       # best loss 1.0 at x = 1
    "steps": {"n": Int(1, 10), "kind": Choice(("a", "b", None))},  # best loss 0.0 at n = 7, kind "b"
}
TUNER_NAMES = ["hyperopt", "optuna"]
ALGORITHMS = [("hyperopt", "tpe"), ("hyperopt", "random"), ("hyperopt", "anneal"), ("optuna", "tpe"),
              ("optuna", "random")]


def objective(family: str, params: dict) -> float:
    if family == "parabola":
        return (params["x"] - 1.0) ** 2 + 1.0
    return (params["n"] - 7) ** 2 / 10 + (0.0 if params["kind"] == "b" else 0.5)


def _tune(objective=objective, spaces=SPACES, *, tuner="hyperopt", max_evals=40, seed=0, algorithm="tpe",
          timeout=60.0, first_points=None):
    return make_tuner(tuner, algorithm).tune(objective, spaces, max_evals=max_evals, timeout_seconds=timeout,
                                             seed=seed, first_points=first_points)


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_finds_the_minimum_across_families(tuner):
    result = _tune(tuner=tuner)
    assert result.best.family == "steps"
    assert result.best.loss <= 0.1
    assert result.best.params["kind"] == "b" and abs(result.best.params["n"] - 7) <= 1
    board = result.leaderboard()
    assert list(board) == ["steps", "parabola"]
    assert board["steps"] == result.best.loss and board["parabola"] >= 1.0


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_parameters_keep_their_types_and_bounds(tuner):
    spaces = {**SPACES, "logs": {"rate": Float(1e-3, 1.0, log=True), "leaves": Int(2, 256, log=True)}}
    result = _tune(lambda family, params: 1.0, spaces, tuner=tuner, max_evals=30, algorithm="random")
    assert {trial.family for trial in result.trials} == set(spaces)
    for trial in result.trials:
        if trial.family == "steps":
            assert isinstance(trial.params["n"], int) and 1 <= trial.params["n"] <= 10
            assert trial.params["kind"] in ("a", "b", None)
        elif trial.family == "logs":
            assert isinstance(trial.params["rate"], float) and 1e-3 <= trial.params["rate"] <= 1.0
            assert isinstance(trial.params["leaves"], int) and 2 <= trial.params["leaves"] <= 256
        else:
            assert isinstance(trial.params["x"], float) and -5.0 <= trial.params["x"] <= 5.0


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_fixed_values_are_passed_through(tuner):
    spaces = {"fixed": {"n": Int(3, 3), "x": Float(0.5, 0.5), "kind": Choice(("only",))}}
    result = _tune(lambda family, params: 1.0, spaces, tuner=tuner, max_evals=3)
    assert {tuple(sorted(t.params.items())) for t in result.trials} == {(("kind", "only"), ("n", 3), ("x", 0.5))}


@pytest.mark.parametrize("tuner,algorithm", ALGORITHMS)
def test_same_seed_same_trials(tuner, algorithm):
    first = _tune(tuner=tuner, max_evals=15, seed=5, algorithm=algorithm)
    second = _tune(tuner=tuner, max_evals=15, seed=5, algorithm=algorithm)
    other = _tune(tuner=tuner, max_evals=15, seed=6, algorithm=algorithm)
    assert first.trials == second.trials
    assert first.trials != other.trials


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_a_family_that_always_raises_loses_to_the_others(tuner):
    def sometimes_broken(family, params):
        if family == "steps":
            raise ValueError("this estimator cannot fit")
        return objective(family, params)

    result = _tune(sometimes_broken, tuner=tuner, max_evals=20)
    assert result.best.family == "parabola"
    assert {trial.family for trial in result.trials} == {"parabola"}
    assert result.leaderboard().keys() == {"parabola"}


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_everything_failing_raises_with_the_last_error(tuner):
    def broken(family, params):
        raise ValueError("boom")

    with pytest.raises(RuntimeError, match=r"tuning found no working model \(5 failed trials\); last: "
                                           r"(parabola|steps): ValueError: boom"):
        _tune(broken, tuner=tuner, max_evals=5)


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_non_finite_losses_are_failed_trials(tuner):
    with pytest.raises(RuntimeError, match=r"\(4 failed trials\); last: .*non-finite loss \(nan\)"):
        _tune(lambda family, params: float("nan"), tuner=tuner, max_evals=4)


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_an_unlimited_time_budget(tuner):
    result = _tune(tuner=tuner, max_evals=3, timeout=math.inf)
    assert len(result.trials) == 3


def test_tuning_result_best_and_leaderboard():
    result = TuningResult((Trial("a", {}, 3.0), Trial("b", {}, 1.0), Trial("a", {}, 2.0)))
    assert result.best == Trial("b", {}, 1.0)
    assert result.leaderboard() == {"b": 1.0, "a": 2.0}
    assert result.pruned == 0


def test_make_tuner_names_and_algorithms():
    assert isinstance(make_tuner("hyperopt", "tpe"), HyperoptTuner)
    assert isinstance(make_tuner("optuna", "tpe"), OptunaTuner)
    with pytest.raises(ScenarioError, match=r"unknown tuner 'smac' \(tuning.tuner\); registered: "
                                            r"\['hyperopt', 'optuna'\]"):
        make_tuner("smac", "tpe")
    with pytest.raises(ScenarioError, match=r"tuner 'optuna' has no algorithm 'anneal' \(tuning.algorithm\); "
                                            r"expected one of \['tpe', 'random'\]"):
        make_tuner("optuna", "anneal")


# ---- objectives that yield one loss per validation fold ---------------------------------------------------

class FoldObjective:
    """Yields three fold losses per trial (each fold the trial's loss, plus a little noise per fold) and counts
    the folds actually computed, so a test sees whether the tuner stopped a trial early."""

    def __init__(self) -> None:
        self.folds = 0

    def __call__(self, family, params):
        for fold in range(3):
            self.folds += 1
            yield objective(family, params) + 0.01 * fold


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_fold_losses_are_averaged(tuner):
    # Five trials: Optuna's pruner waits for five complete trials, so both runs see the same points.
    result = _tune(FoldObjective(), tuner=tuner, max_evals=5, seed=1)
    plain = _tune(objective, tuner=tuner, max_evals=5, seed=1)
    assert [t.params for t in result.trials] == [t.params for t in plain.trials]
    assert [t.loss for t in result.trials] == pytest.approx([t.loss + 0.01 for t in plain.trials])


def test_hyperopt_computes_every_fold():
    counted = FoldObjective()
    result = _tune(counted, max_evals=30)
    assert counted.folds == 3 * 30 and len(result.trials) == 30 and result.pruned == 0


def test_optuna_prunes_unpromising_trials_between_folds():
    counted = FoldObjective()
    result = _tune(counted, tuner="optuna", max_evals=40, seed=3)
    assert result.pruned > 0
    assert len(result.trials) + result.pruned == 40
    assert counted.folds < 3 * 40  # pruned trials stopped before their last fold
    assert result.best.family == "steps" and result.best.loss <= 0.2


def test_optuna_pruning_is_seeded():
    first, second = (_tune(FoldObjective(), tuner="optuna", max_evals=30, seed=4) for _ in range(2))
    assert first.trials == second.trials and first.pruned == second.pruned > 0


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_a_fold_that_raises_fails_the_trial(tuner):
    def breaks_in_the_second_fold(family, params):
        yield 1.0
        raise ValueError("fold 2 cannot fit")

    with pytest.raises(RuntimeError, match=r"\(3 failed trials\); last: .*ValueError: fold 2 cannot fit"):
        _tune(breaks_in_the_second_fold, tuner=tuner, max_evals=3)


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_an_objective_yielding_nothing_fails(tuner):
    with pytest.raises(RuntimeError, match=r"last: .*the objective yielded no fold loss"):
        _tune(lambda family, params: iter(()), tuner=tuner, max_evals=2)


# ---- first points (each family's library defaults) ---------------------------------------------------------

@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_first_points_come_first_and_count_as_evaluations(tuner):
    first_points = {"steps": {"n": 7, "kind": "b"}, "parabola": {"x": 4.0}}
    result = _tune(tuner=tuner, max_evals=12, first_points=first_points)
    assert result.trials[:2] == (Trial("steps", {"n": 7, "kind": "b"}, 0.0), Trial("parabola", {"x": 4.0}, 10.0))
    assert len(result.trials) == 12
    assert result.best.loss == 0.0


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_a_first_point_may_leave_parameters_to_the_library_and_lie_outside_the_space(tuner):
    seen = []

    def recording(family, params):
        seen.append((family, dict(params)))
        return 1.0 if family == "steps" else 0.5

    spaces = {**SPACES, "steps": {**SPACES["steps"], "fixed": Choice((3,))}}
    _tune(recording, spaces, tuner=tuner, max_evals=6,
          first_points={"steps": {"fixed": 99}, "parabola": {"x": 100.0}})
    # The space's one-value parameter is a decision and wins; the others are left to the library's defaults.
    assert seen[:2] == [("steps", {"fixed": 3}), ("parabola", {"x": 100.0})]
    assert len(seen) == 6


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_first_points_spending_the_budget_end_the_search(tuner):
    def slow(family, params):
        time.sleep(0.3)
        return objective(family, params)

    result = _tune(slow, tuner=tuner, max_evals=20, timeout=0.2, first_points={"parabola": {"x": 0.0}})
    assert result.trials == (Trial("parabola", {"x": 0.0}, 2.0),)


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_a_first_point_for_an_untuned_family(tuner):
    with pytest.raises(ScenarioError, match=r"a first point for family 'forest', which is not tuned; tuned "
                                            r"families: \['parabola', 'steps'\]"):
        _tune(tuner=tuner, max_evals=3, first_points={"forest": {}})


@pytest.mark.parametrize("tuner", TUNER_NAMES)
def test_a_failing_first_point_does_not_stop_the_search(tuner):
    def defaults_break(family, params):
        if params == {"x": 0.0}:
            raise ValueError("defaults cannot fit")
        return objective(family, params)

    result = _tune(defaults_break, tuner=tuner, max_evals=8, first_points={"parabola": {"x": 0.0}})
    assert len(result.trials) == 7 and {"x": 0.0} not in [t.params for t in result.trials]


# ---- through the config and the pipeline ---------------------------------------------------------------------

def test_a_config_choosing_optuna_tunes_a_scenario_reproducibly(weekly_frame):
    config = parse_config({
        "name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
        "time_column": "week", "data": {"streams": [{"name": "sales", "path": "sales.parquet"}]},
        "split": {"test_size": 4, "validation_size": 4, "min_train_rows": 10},
        "models": {"families": ["linear", "lightgbm"],
                   "search_space": {"lightgbm": {"n_estimators": {"type": "int", "low": 10, "high": 40}}}},
        "tuning": {"tuner": "optuna", "max_evals": 6},
    }, source="test")
    assert isinstance(make_tuner(config.tuning.tuner, config.tuning.algorithm), OptunaTuner)
    first, second = (fit_scenario(weekly_frame(60), {"store": 1}, config) for _ in range(2))
    assert set(first.model.family.split("+")) <= {"linear", "lightgbm"} and first.n_evals >= 1
    assert (first.model.params, first.metrics, first.leaderboard) == (second.model.params, second.metrics,
                                                                      second.leaderboard)
