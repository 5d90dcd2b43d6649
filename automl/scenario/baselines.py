"""Naive forecasts: the bar every tuned model must clear, and the model a scenario ships when none does.

A naive model reads only the target. Time-indexed data gets last value, seasonal naive, drift and a window
mean; other data the mean or median (regression) or the class prior (classification). Each is fitted on the
rows before a forecast origin and predicts rows ``steps`` periods after it, so the same object scores the
validation folds, the holdout and, after :meth:`NaiveModel.observe` of the full history, future rows.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NaiveModel", "infer_season_length", "naive_candidates"]

# Median spacing of the time column (days) -> the usual season length of data at that frequency.
_SEASONS = ((0.03, 0.05, 24), (0.9, 1.1, 7), (6.5, 7.5, 52), (27.5, 31.5, 12), (88.0, 93.0, 4))


@dataclass
class NaiveModel:
    """One naive forecast, named ``naive_<kind>``.

    Args:
        kind: ``last``, ``seasonal``, ``drift``, ``window``, ``mean``, ``median`` or ``prior``.
        season: season length (``seasonal``) or window length (``window``).
        n_classes: classes of a ``prior`` (classification).
    """

    kind: str
    season: int = 0
    n_classes: int = 0
    state_: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"naive_{self.kind}"

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def fit(self, x: Any, y: np.ndarray) -> NaiveModel:
        """Remember what the forecast needs from the target (``x`` is ignored)."""
        y = np.asarray(y)
        if self.kind == "prior":
            self.state_ = {"prior": np.bincount(y.astype("int64"), minlength=self.n_classes) / len(y)}
        elif self.kind in ("mean", "median"):
            self.state_ = {"level": float(np.mean(y) if self.kind == "mean" else np.median(y))}
        elif self.kind == "window":
            self.state_ = {"level": float(np.mean(y[-self.season:]))}
        elif self.kind == "seasonal":
            self.state_ = {"tail": np.asarray(y[-self.season:], dtype="float64")}
        else:  # last, drift: the slope is the average change over the whole history
            slope = (y[-1] - y[0]) / (len(y) - 1) if self.kind == "drift" and len(y) > 1 else 0.0
            self.state_ = {"level": float(y[-1]), "slope": float(slope)}
        return self

    def observe(self, y: np.ndarray) -> None:
        """Move the forecast origin to the end of ``y`` (the latest history) without changing the kind."""
        self.fit(None, y)

    def predict(self, x: Any, steps: np.ndarray | None = None) -> np.ndarray:
        """Forecasts for ``len(x)`` rows, ``steps`` periods (1, 2, ...) after the fitted rows."""
        n = len(x)
        steps = np.arange(1, n + 1) if steps is None else np.asarray(steps)
        if self.kind == "prior":
            return self.predict_proba(x).argmax(axis=1)
        if self.kind == "seasonal":
            tail = self.state_["tail"]
            return tail[(steps - 1) % len(tail)]
        return self.state_["level"] + self.state_.get("slope", 0.0) * steps.astype("float64")

    def predict_proba(self, x: Any) -> np.ndarray:
        return np.tile(self.state_["prior"], (len(x), 1))


def naive_candidates(task: str, *, time_indexed: bool, ordered: bool, season: int | None, window: int,
                     n_classes: int = 0) -> list[NaiveModel]:
    """The naive models worth comparing for a scenario, in order of preference on ties.

    Args:
        time_indexed: one row per period (time_column): last value, seasonal, drift, window mean.
        ordered: rows in time order without periods (split.order_by): mean, median, mean of the latest rows.
        season: season length, or None when the data has no known season.
        window: rows the window mean averages.
    """
    if task == "classification":
        return [NaiveModel("prior", n_classes=n_classes)]
    if time_indexed:
        candidates = [NaiveModel("last")]
        if season:
            candidates.append(NaiveModel("seasonal", season=season))
        return [*candidates, NaiveModel("drift"), NaiveModel("window", season=max(1, window))]
    candidates = [NaiveModel("mean"), NaiveModel("median")]
    return [*candidates, NaiveModel("window", season=max(1, window))] if ordered else candidates


def infer_season_length(times: pd.Series) -> int | None:
    """Season length from the time column's spacing: hourly 24, daily 7, weekly 52, monthly 12, quarterly 4.

    Yearly or irregular data has no season (None).
    """
    values = pd.to_datetime(times).dropna().sort_values()
    if len(values) < 3:
        return None
    days = float(np.median(np.diff(values.to_numpy()).astype("timedelta64[s]").astype("float64"))) / 86400.0
    for low, high, season in _SEASONS:
        if low <= days <= high:
            return season
    return None
