"""Naive forecasts: the bar every tuned model must clear, and the model a scenario ships when none does.

A naive model reads only the target. Time-indexed data gets the theta method (its default), last value,
seasonal naive and a window mean; other data the mean or median (regression) or the class prior
(classification). Each is fitted on the rows before a forecast origin and predicts rows ``steps`` periods
after it, so the same object scores the validation folds, the holdout and, after :meth:`NaiveModel.observe`
of the full history, future rows.

Theta (Assimakopoulos & Nikolopoulos, 2000; the M3 competition's winner) is simple exponential smoothing
with half the history's linear slope as drift, on the seasonally adjusted series when the data has a
season. Plain drift (last value plus the average change over the whole history) is not a candidate: it
overshoots once growth slows: on the gapminder panel (185 countries) it validated better than theta on every
fold in 44 countries, and there it was worse than the last value on the holdout in 30% of them, theta in 2%
(docs/benchmarks.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NaiveModel", "infer_season_length", "naive_candidates"]

_KINDS = ("last", "seasonal", "window", "theta", "mean", "median", "prior")
# Smoothing weights simple exponential smoothing chooses from (by one-step-ahead squared error).
_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
# Smoothing runs over the latest rows only: at weight >= 0.05 a row this far back moves the level by less than
# 0.95 ** 2000 (1e-45) of its value, and a Python loop over a 2,000,000-period history would take seconds.
_SES_ROWS = 2000

# Median spacing of the time column (days) -> the usual season length of data at that frequency.
_SEASONS = ((0.03, 0.05, 24), (0.9, 1.1, 7), (6.5, 7.5, 52), (27.5, 31.5, 12), (88.0, 93.0, 4))


@dataclass
class NaiveModel:
    """One naive forecast, named ``naive_<kind>`` (``theta`` for the theta method).

    Args:
        kind: ``last``, ``seasonal``, ``window``, ``theta``, ``mean``, ``median`` or ``prior``.
        season: season length (``seasonal``, ``theta``; 0: none) or window length (``window``).
        n_classes: classes of a ``prior`` (classification).
    """

    kind: str
    season: int = 0
    n_classes: int = 0
    state_: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown naive forecast {self.kind!r}; expected one of {_KINDS}")

    @property
    def name(self) -> str:
        return "theta" if self.kind == "theta" else f"naive_{self.kind}"

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
        elif self.kind == "theta":
            self.state_ = _theta(np.asarray(y, dtype="float64"), self.season)
        else:  # last
            self.state_ = {"level": float(y[-1])}
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
        if self.kind == "theta":
            state = self.state_
            factors = state["factors"][(state["n"] + steps - 1) % len(state["factors"])]
            return (state["level"] + state["slope"] * steps.astype("float64")) * factors
        return np.full(n, self.state_["level"], dtype="float64")

    def predict_proba(self, x: Any) -> np.ndarray:
        return np.tile(self.state_["prior"], (len(x), 1))


def naive_candidates(task: str, *, time_indexed: bool, ordered: bool, season: int | None, window: int,
                     n_classes: int = 0, validated: bool = True) -> list[NaiveModel]:
    """The naive models worth comparing for a scenario; the first is its default forecast, which another
    replaces only by validating better on every fold (:func:`automl.scenario.search.search`).

    Args:
        time_indexed: one row per period (time_column): theta, last value, seasonal, window mean.
        ordered: rows in time order without periods (split.order_by): mean, median, mean of the latest rows.
        season: season length, or None when the data has no known season.
        window: rows the window mean averages.
        validated: False when the validation rows are too few to compare forecasts: only the simplest one
            (class prior, last value, mean), which the scenario then ships.
    """
    if task == "classification":
        return [NaiveModel("prior", n_classes=n_classes)]
    if not validated:
        return [NaiveModel("last" if time_indexed else "mean")]
    if time_indexed:
        candidates = [NaiveModel("theta", season=season or 0), NaiveModel("last")]
        if season:
            candidates.append(NaiveModel("seasonal", season=season))
        return [*candidates, NaiveModel("window", season=max(1, window))]
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


def _theta(y: np.ndarray, season: int) -> dict[str, Any]:
    """The theta method's state: SES level and half the linear slope of the (seasonally adjusted) series.

    Multiplicative seasonal factors (a centred moving average's ratios, averaged per position in the season)
    are used only with two full seasons of positive values; otherwise the factors are all 1.
    """
    n = len(y)
    factors = np.ones(1)
    if season > 1 and n >= 2 * season and (y > 0).all():
        trend = pd.Series(y).rolling(season, center=True, min_periods=season).mean().to_numpy()
        ratios = y / trend
        positions = np.arange(n) % season
        factors = np.array([np.nanmean(ratios[positions == k]) for k in range(season)])
        factors = factors / factors.mean() if np.isfinite(factors).all() and (factors > 0).all() else np.ones(1)
    adjusted = y / factors[np.arange(n) % len(factors)]
    slope = float(np.polyfit(np.arange(n), adjusted, 1)[0]) if n > 1 else 0.0
    return {"level": _ses_level(adjusted), "slope": slope / 2.0, "factors": factors, "n": n}


def _ses_level(y: np.ndarray) -> float:
    """The final level of simple exponential smoothing, its weight chosen on one-step-ahead errors."""
    y = y[-_SES_ROWS:]
    best_error, best_level = np.inf, float(y[-1])
    for alpha in _ALPHAS:
        level, error = y[0], 0.0
        for value in y[1:]:
            error += (value - level) ** 2
            level += alpha * (value - level)
        if error < best_error:
            best_error, best_level = error, float(level)
    return best_level
