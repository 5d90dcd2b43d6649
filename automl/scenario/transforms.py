"""Regression models fitted on a transformed target, and averages of several models.

Trees cannot extrapolate a level they never saw: on a trending series they flat-line. Fitted on the change
from the last value known at forecast time (``difference``), they forecast changes, which stay in range.
The anchor is mlforecast's ``target_transforms`` (``Differences``, local scaling), made direct rather than
recursive: a row ``k`` periods after its forecast origin is modelled as ``y[t] - y[origin]`` with ``k`` as
a feature, and the training rows are cut into blocks of ``horizon`` periods whose origins mimic how the
holdout and future rows will be forecast (their origin is the last known value, ``k`` = 1..horizon).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from automl.scenario.families import fit_estimator
from automl.scenario.model import class_probabilities

__all__ = ["TRANSFORMS", "Ensemble", "TargetModel"]

TRANSFORMS = ("none", "log1p", "standardize", "difference")
STEPS_FEATURE = "steps_ahead"


class TargetModel:
    """``estimator`` fitted on ``transform(y)``; ``predict`` answers on the original scale.

    Args:
        estimator: an unfitted regressor.
        transform: one of :data:`TRANSFORMS`.
        horizon: periods between a forecast origin and the furthest row forecast from it (``difference``).

    ``predict(x, steps)`` takes, for ``difference``, each row's periods after the end of the fitted rows
    (1, 2, ...); :meth:`observe` moves that end to the latest history without refitting.
    """

    def __init__(self, estimator: Any, transform: str = "none", horizon: int = 1) -> None:
        self.estimator = estimator
        self.transform = transform
        self.horizon = max(1, horizon)

    def fit(self, x: np.ndarray, y: np.ndarray,
            eval_set: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None) -> TargetModel:
        """Fit on rows in time order; ``eval_set`` (x, y, steps) lets LightGBM stop adding trees."""
        y = np.asarray(y, dtype="float64")
        self.mean_, self.scale_ = float(np.mean(y)), float(np.std(y)) or 1.0
        if self.transform == "difference":
            steps = (np.arange(len(y)) - len(y)) % self.horizon + 1  # the last fitted row is `horizon` ahead
            origin = np.arange(len(y)) - steps
            keep = origin >= 0  # the first rows have no earlier value to start from
            x_fit, z = _with_steps(x, steps)[keep], y[keep] - y[origin[keep]]
        else:
            x_fit, z = x, self._forward(y)
        self.level_ = float(y[-1])
        valid = None
        if eval_set is not None:
            x_valid, y_valid, steps_valid = eval_set
            valid = self._inputs(x_valid, steps_valid), self._forward_valid(np.asarray(y_valid, dtype="float64"))
        fit_estimator(self.estimator, x_fit, z, valid)
        return self

    def predict(self, x: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        raw = np.asarray(self.estimator.predict(self._inputs(x, steps)), dtype="float64")
        if self.transform == "difference":
            return self.level_ + raw
        if self.transform == "log1p":
            return np.expm1(raw)
        if self.transform == "standardize":
            return raw * self.scale_ + self.mean_
        return raw

    def observe(self, y: np.ndarray) -> None:
        """Forecast from the end of ``y`` (the full history) from now on."""
        self.level_ = float(np.asarray(y, dtype="float64")[-1])

    @property
    def best_iteration_(self) -> int | None:
        return getattr(self.estimator, "best_iteration_", None) or None

    def _inputs(self, x: np.ndarray, steps: np.ndarray | None) -> np.ndarray:
        if self.transform != "difference":
            return x
        steps = np.arange(1, len(x) + 1) if steps is None else np.asarray(steps)
        return _with_steps(x, steps)

    def _forward(self, y: np.ndarray) -> np.ndarray:
        if self.transform == "log1p":
            return np.log1p(y)
        if self.transform == "standardize":
            return (y - self.mean_) / self.scale_
        return y

    def _forward_valid(self, y: np.ndarray) -> np.ndarray:
        return y - self.level_ if self.transform == "difference" else self._forward(y)


class Ensemble:
    """The average of fitted models (soft voting for classification)."""

    def __init__(self, members: list[Any], n_classes: int = 0) -> None:
        self.members = members
        self.n_classes = n_classes

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def predict(self, x: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
        if self.n_classes:
            return self.predict_proba(x).argmax(axis=1)
        return np.mean([m.predict(x, steps) for m in self.members], axis=0)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.mean([class_probabilities(m, x, self.n_classes) for m in self.members], axis=0)

    def observe(self, y: np.ndarray) -> None:
        for member in self.members:
            if hasattr(member, "observe"):
                member.observe(y)


def _with_steps(x: np.ndarray, steps: np.ndarray) -> np.ndarray:
    return np.column_stack([x, np.asarray(steps, dtype="float64")])
