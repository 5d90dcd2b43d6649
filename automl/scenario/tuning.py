"""Hyperparameter search behind a small interface.

The pipeline only sees :class:`Tuner`: ``tune(objective, spaces, ...) -> TuningResult``. Hyperopt is the
default; it is no longer maintained upstream, so another tuner (e.g. Optuna) is one more class registered
in :data:`TUNERS`, translating the same :mod:`automl.scenario.space` objects.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from automl.errors import ScenarioError
from automl.scenario.space import Choice, Distribution, Int

__all__ = ["HyperoptTuner", "Objective", "TUNERS", "Trial", "Tuner", "TuningResult", "make_tuner"]

# Returns a loss (lower is better) for one family and its parameters; raising marks the trial failed.
Objective = Callable[[str, dict[str, Any]], float]


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration."""

    family: str
    params: dict[str, Any]
    loss: float


@dataclass(frozen=True)
class TuningResult:
    """Every successful trial and the best one."""

    trials: tuple[Trial, ...]

    @property
    def best(self) -> Trial:
        return min(self.trials, key=lambda t: t.loss)

    def best_per_family(self, count: int) -> list[Trial]:
        """The best trial of each of the ``count`` best families, best first (ensemble members)."""
        chosen: dict[str, Trial] = {}
        for trial in sorted(self.trials, key=lambda t: t.loss):
            chosen.setdefault(trial.family, trial)
        return list(chosen.values())[:count]

    def leaderboard(self) -> dict[str, float]:
        """Best validation loss per family, best first."""
        board: dict[str, float] = {}
        for trial in sorted(self.trials, key=lambda t: t.loss):
            board.setdefault(trial.family, trial.loss)
        return board


class Tuner(Protocol):
    """Minimises an objective over several model families' spaces within a budget."""

    def tune(self, objective: Objective, spaces: dict[str, dict[str, Distribution]], *, max_evals: int,
             timeout_seconds: float, seed: int) -> TuningResult: ...


class HyperoptTuner:
    """Tree-structured Parzen estimators (or random / annealing) over a choice of families."""

    def __init__(self, algorithm: str = "tpe") -> None:
        self.algorithm = algorithm

    def tune(self, objective: Objective, spaces: dict[str, dict[str, Distribution]], *, max_evals: int,
             timeout_seconds: float, seed: int) -> TuningResult:
        import hyperopt
        from hyperopt import hp

        logging.getLogger("hyperopt").setLevel(logging.WARNING)
        space = hp.choice("family", [
            {"family": family, "params": {name: _to_hyperopt(f"{family}.{name}", dist)
                                          for name, dist in params.items()}}
            for family, params in spaces.items()
        ])
        trials: list[Trial] = []
        errors: list[str] = []

        def evaluate(point: dict[str, Any]) -> dict[str, Any]:
            family, params = point["family"], _from_hyperopt(spaces[point["family"]], point["params"])
            try:
                loss = float(objective(family, params))
            except Exception as exc:  # one bad configuration must not end the search
                errors.append(f"{family}: {type(exc).__name__}: {exc}")
                return {"status": hyperopt.STATUS_FAIL}
            if not math.isfinite(loss):  # e.g. a metric undefined on this validation set
                errors.append(f"{family}: the objective returned a non-finite loss ({loss})")
                return {"status": hyperopt.STATUS_FAIL}
            trials.append(Trial(family, params, loss))
            return {"status": hyperopt.STATUS_OK, "loss": loss}

        algo = {"tpe": hyperopt.tpe.suggest, "random": hyperopt.rand.suggest,
                "anneal": hyperopt.anneal.suggest}[self.algorithm]
        started = time.monotonic()
        try:
            # An infinite budget means no time limit (int(inf) would raise).
            timeout = max(1, int(timeout_seconds)) if math.isfinite(timeout_seconds) else None
            hyperopt.fmin(evaluate, space, algo=algo, max_evals=max_evals, timeout=timeout,
                          trials=hyperopt.Trials(), rstate=np.random.default_rng(seed), show_progressbar=False)
        except hyperopt.exceptions.AllTrialsFailed:
            pass
        if not trials:
            detail = errors[-1] if errors else f"no trial finished within {time.monotonic() - started:.0f}s"
            raise RuntimeError(f"tuning found no working model ({len(errors)} failed trials); last: {detail}")
        return TuningResult(tuple(trials))


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


TUNERS: dict[str, Callable[[str], Tuner]] = {"hyperopt": HyperoptTuner}


def make_tuner(name: str, algorithm: str) -> Tuner:
    """The registered tuner ``name`` configured with ``algorithm``."""
    if name not in TUNERS:
        raise ScenarioError(f"unknown tuner {name!r}; registered: {sorted(TUNERS)}")
    return TUNERS[name](algorithm)
