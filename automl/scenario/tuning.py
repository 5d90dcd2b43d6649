"""Hyperparameter search behind a small interface.

The pipeline only sees :class:`Tuner`: ``tune(objective, spaces, ...) -> TuningResult``. Two tuners are
registered in :data:`TUNERS`, both translating the same :mod:`automl.scenario.space` objects: hyperopt (the
default; no longer maintained upstream) and Optuna, which also stops unpromising trials early.

An objective returns one loss per trial, or yields one loss per validation fold (e.g. a generator); the trial's
loss is then the mean of its fold losses, and a tuner that prunes may stop asking for folds once the running
mean looks unpromising. Each family may get a first point (its library defaults), evaluated in full before the
search, so tuning never ends worse than the defaults it was meant to improve.
"""
from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from automl.errors import ScenarioError
from automl.scenario.space import Choice, Distribution, Int

__all__ = ["TUNERS", "FirstPoints", "HyperoptTuner", "Objective", "OptunaTuner", "Trial", "Tuner", "TuningResult",
           "make_tuner"]

logger = logging.getLogger(__name__)

# Returns a loss (lower is better) for one family and its parameters, or yields one loss per validation fold;
# raising marks the trial failed.
Objective = Callable[[str, dict[str, Any]], float | Iterable[float]]
# Per family, parameter values to evaluate before the search (e.g. the library's defaults).
FirstPoints = Mapping[str, Mapping[str, Any]]
Spaces = dict[str, dict[str, Distribution]]


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration."""

    family: str
    params: dict[str, Any]
    loss: float


@dataclass(frozen=True)
class TuningResult:
    """Every successful trial and the best one; ``pruned`` counts trials stopped early (not in ``trials``)."""

    trials: tuple[Trial, ...]
    pruned: int = 0

    @property
    def best(self) -> Trial:
        return min(self.trials, key=lambda t: t.loss)

    def leaderboard(self) -> dict[str, float]:
        """Best validation loss per family, best first."""
        board: dict[str, float] = {}
        for trial in sorted(self.trials, key=lambda t: t.loss):
            board.setdefault(trial.family, trial.loss)
        return board


class Tuner(Protocol):
    """Minimises an objective over several model families' spaces within a budget."""

    def tune(self, objective: Objective, spaces: Spaces, *, max_evals: int, timeout_seconds: float, seed: int,
             first_points: FirstPoints | None = None) -> TuningResult: ...


# What _Search.evaluate returns for a trial the tuner stopped between folds.
_PRUNED = object()


class _Search:
    """The bookkeeping both tuners share: first points, failed and pruned trials, the time left."""

    def __init__(self, objective: Objective, spaces: Spaces, timeout_seconds: float) -> None:
        self.objective, self.spaces = objective, spaces
        self.trials: list[Trial] = []
        self.errors: list[str] = []
        self.pruned = 0
        self.started = time.monotonic()
        self.deadline = self.started + timeout_seconds

    def evaluate(self, family: str, params: dict[str, Any],
                 should_prune: Callable[[int, float], bool] | None = None) -> Any:
        """The trial's loss (recorded), None if it failed, or ``_PRUNED``.

        ``should_prune(fold, running_mean)`` is asked after each fold of an objective that yields fold losses.
        """
        try:
            outcome = self.objective(family, params)
            if isinstance(outcome, numbers.Real):
                loss = float(outcome)
            else:
                loss = self._fold_mean(family, outcome, should_prune)
        except Exception as exc:  # one bad configuration must not end the search
            self._fail(f"{family}: {type(exc).__name__}: {exc}")
            return None
        if loss is _PRUNED:
            self.pruned += 1
            return _PRUNED
        if not math.isfinite(loss):  # e.g. a metric undefined on this validation set
            self._fail(f"{family}: the objective returned a non-finite loss ({loss})")
            return None
        self.trials.append(Trial(family, params, loss))
        return loss

    def _fold_mean(self, family: str, folds: Iterable[float],
                   should_prune: Callable[[int, float], bool] | None) -> Any:
        losses: list[float] = []
        iterator = iter(folds)
        try:
            for value in iterator:
                losses.append(float(value))
                if not math.isfinite(losses[-1]):
                    return losses[-1]  # no later fold can repair the mean
                if should_prune is not None and should_prune(len(losses) - 1, float(np.mean(losses))):
                    return _PRUNED
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # stop a generator's remaining folds from fitting
                close()
        if not losses:
            raise ValueError("the objective yielded no fold loss")
        return float(np.mean(losses))

    def _fail(self, message: str) -> None:
        logger.debug("failed trial: %s", message)
        self.errors.append(message)

    def first(self, first_points: FirstPoints | None) -> list[tuple[str, dict[str, Any], float]]:
        """Evaluate each family's first point in full (never pruned); the successful ones, in family order.

        A one-value parameter of the space is a decision (a family's or the config's), so it overrides the
        first point's value.
        """
        done = []
        for family, point in (first_points or {}).items():
            if family not in self.spaces:
                raise ScenarioError(f"a first point for family {family!r}, which is not tuned; tuned families: "
                                    f"{list(self.spaces)}")
            fixed = {name: dist.options[0] for name, dist in self.spaces[family].items()
                     if isinstance(dist, Choice) and len(dist.options) == 1}
            params = {**dict(point), **fixed}
            loss = self.evaluate(family, params)
            if loss is not None:
                done.append((family, params, loss))
        return done

    def seconds_left(self) -> float:
        return self.deadline - time.monotonic()

    def result(self) -> TuningResult:
        if not self.trials:
            detail = (self.errors[-1] if self.errors
                      else f"no trial finished within {time.monotonic() - self.started:.0f}s")
            pruned = f", {self.pruned} pruned" if self.pruned else ""
            raise RuntimeError(f"tuning found no working model ({len(self.errors)} failed trials{pruned}); "
                               f"last: {detail}")
        return TuningResult(tuple(self.trials), self.pruned)


class HyperoptTuner:
    """Tree-structured Parzen estimators (or random / annealing) over a choice of families; no pruning."""

    ALGORITHMS = ("tpe", "random", "anneal")

    def __init__(self, algorithm: str = "tpe") -> None:
        self.algorithm = _known_algorithm("hyperopt", algorithm, self.ALGORITHMS)

    def tune(self, objective: Objective, spaces: Spaces, *, max_evals: int, timeout_seconds: float, seed: int,
             first_points: FirstPoints | None = None) -> TuningResult:
        import hyperopt
        from hyperopt import hp

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        search = _Search(objective, spaces, timeout_seconds)
        search.first(first_points)
        remaining = max_evals - len(first_points or {})  # first points count as evaluations, failed or not
        space = hp.choice("family", [
            {"family": family, "params": {name: _to_hyperopt(f"{family}.{name}", dist)
                                          for name, dist in params.items()}}
            for family, params in spaces.items()
        ])

        def evaluate(point: dict[str, Any]) -> dict[str, Any]:
            loss = search.evaluate(point["family"], _from_hyperopt(spaces[point["family"]], point["params"]))
            if loss is None:
                return {"status": hyperopt.STATUS_FAIL}
            return {"status": hyperopt.STATUS_OK, "loss": loss}

        algo = {"tpe": hyperopt.tpe.suggest, "random": hyperopt.rand.suggest,
                "anneal": hyperopt.anneal.suggest}[self.algorithm]
        left = search.seconds_left()
        if remaining > 0 and left > 0:
            try:
                # An infinite budget means no time limit (int(inf) would raise).
                timeout = max(1, int(left)) if math.isfinite(left) else None
                hyperopt.fmin(evaluate, space, algo=algo, max_evals=remaining, timeout=timeout,
                              trials=hyperopt.Trials(), rstate=np.random.default_rng(seed),
                              show_progressbar=False)
            except hyperopt.exceptions.AllTrialsFailed:
                pass
        return search.result()


class OptunaTuner:
    """Optuna's seeded TPE (or random) sampler, with a median pruner stopping trials between folds."""

    ALGORITHMS = ("tpe", "random")

    def __init__(self, algorithm: str = "tpe") -> None:
        self.algorithm = _known_algorithm("optuna", algorithm, self.ALGORITHMS)

    def tune(self, objective: Objective, spaces: Spaces, *, max_evals: int, timeout_seconds: float, seed: int,
             first_points: FirstPoints | None = None) -> TuningResult:
        import optuna

        # Failed trials are collected and reported by _Search; Optuna would also log each one as a warning.
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        search = _Search(objective, spaces, timeout_seconds)
        done = search.first(first_points)
        # Independent (not multivariate) TPE: each family's parameters exist only when that family is drawn,
        # which independent TPE handles as hyperopt's does; grouped multivariate TPE is still experimental.
        sampler = (optuna.samplers.TPESampler(seed=seed, multivariate=False) if self.algorithm == "tpe"
                   else optuna.samplers.RandomSampler(seed=seed))
        # Five complete trials before any pruning, so an early median is not one lucky configuration.
        study = optuna.create_study(direction="minimize", sampler=sampler,
                                    pruner=optuna.pruners.MedianPruner(n_startup_trials=5))
        for family, params, loss in done:  # the sampler learns from the first points too
            study.add_trial(_known_trial(optuna, spaces, family, params, loss))

        def run(trial: Any) -> float:
            family = trial.suggest_categorical("family", list(spaces))
            params = {name: _suggest(trial, f"{family}.{name}", dist) for name, dist in spaces[family].items()}

            def should_prune(fold: int, running_mean: float) -> bool:
                trial.report(running_mean, fold)
                return trial.should_prune()

            loss = search.evaluate(family, params, should_prune)
            if loss is _PRUNED:
                raise optuna.TrialPruned()
            return math.nan if loss is None else loss  # NaN marks the trial failed without raising

        remaining, left = max_evals - len(first_points or {}), search.seconds_left()
        if remaining > 0 and left > 0:
            study.optimize(run, n_trials=remaining, timeout=left if math.isfinite(left) else None)
        return search.result()


def _known_algorithm(tuner: str, algorithm: str, known: tuple[str, ...]) -> str:
    if algorithm not in known:
        raise ScenarioError(f"tuner {tuner!r} has no algorithm {algorithm!r} (tuning.algorithm); "
                            f"expected one of {list(known)}")
    return algorithm


def _suggest(trial: Any, label: str, dist: Distribution) -> Any:
    """An Optuna suggestion for ``dist``; a one-value distribution is passed through, not searched."""
    if isinstance(dist, Choice):
        return dist.options[0] if len(dist.options) == 1 else trial.suggest_categorical(label, list(dist.options))
    if dist.low == dist.high:
        return dist.low
    if isinstance(dist, Int):
        return trial.suggest_int(label, dist.low, dist.high, log=dist.log)
    return trial.suggest_float(label, dist.low, dist.high, log=dist.log)


def _known_trial(optuna: Any, spaces: Spaces, family: str, params: dict[str, Any], loss: float) -> Any:
    """A completed Optuna trial for a first point: its values that lie inside the searched distributions."""
    values: dict[str, Any] = {"family": family}
    distributions: dict[str, Any] = {"family": optuna.distributions.CategoricalDistribution(list(spaces))}
    for name, dist in spaces[family].items():
        if name not in params or not _searched(dist) or not _contains(dist, params[name]):
            continue
        label = f"{family}.{name}"
        values[label] = params[name]
        if isinstance(dist, Choice):
            distributions[label] = optuna.distributions.CategoricalDistribution(list(dist.options))
        elif isinstance(dist, Int):
            distributions[label] = optuna.distributions.IntDistribution(dist.low, dist.high, log=dist.log)
        else:
            distributions[label] = optuna.distributions.FloatDistribution(dist.low, dist.high, log=dist.log)
    return optuna.trial.create_trial(params=values, distributions=distributions, value=loss)


def _searched(dist: Distribution) -> bool:
    return len(dist.options) > 1 if isinstance(dist, Choice) else dist.low != dist.high


def _contains(dist: Distribution, value: Any) -> bool:
    if isinstance(dist, Choice):
        return any(value is option or (type(value) is type(option) and value == option) for option in dist.options)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    if isinstance(dist, Int) and value != int(value):
        return False
    return dist.low <= value <= dist.high


def _to_hyperopt(label: str, dist: Distribution) -> Any:
    from hyperopt import hp

    if isinstance(dist, Choice):
        return dist.options[0] if len(dist.options) == 1 else hp.choice(label, list(dist.options))
    if isinstance(dist, Int):
        if dist.low == dist.high:
            return dist.low
        if dist.log:
            return hp.qloguniform(label, math.log(dist.low), math.log(dist.high), 1)
        return hp.quniform(label, dist.low, dist.high, 1)
    if dist.low == dist.high:
        return dist.low
    if dist.log:
        return hp.loguniform(label, math.log(dist.low), math.log(dist.high))
    return hp.uniform(label, dist.low, dist.high)


def _from_hyperopt(space: dict[str, Distribution], values: dict[str, Any]) -> dict[str, Any]:
    """Cast quantised floats back to ints and keep them inside their bounds."""
    params = {}
    for name, value in values.items():
        dist = space[name]
        if isinstance(dist, Int):
            value = int(min(max(round(value), dist.low), dist.high))
        elif isinstance(value, np.generic):
            value = value.item()
        params[name] = value
    return params


TUNERS: dict[str, Callable[[str], Tuner]] = {"hyperopt": HyperoptTuner, "optuna": OptunaTuner}


def make_tuner(name: str, algorithm: str) -> Tuner:
    """The registered tuner ``name`` configured with ``algorithm``.

    Example:
        >>> from automl.scenario.space import Float
        >>> make_tuner("optuna", "tpe").tune(lambda family, params: (params["x"] - 1) ** 2,
        ...     {"parabola": {"x": Float(-5.0, 5.0)}}, max_evals=20, timeout_seconds=60, seed=0).best.loss < 0.5
        True
    """
    if name not in TUNERS:
        raise ScenarioError(f"unknown tuner {name!r} (tuning.tuner); registered: {sorted(TUNERS)}")
    return TUNERS[name](algorithm)
