"""Naive forecasts: the bar every tuned model must clear, and the model a scenario ships when none does.

A naive model reads only the target (``pooled_slopes`` also the effect of slopes pooled across scenarios,
:mod:`automl.scenario.pooling`, then the default in place of the mean). Time-indexed data gets a damped trend
(its default), the theta method, last value, seasonal naive and a window mean; other data the mean or median
(regression) or the class prior (classification). Each is fitted on the rows before a forecast origin and
predicts rows ``steps`` periods after it, so the same object scores the validation folds, the holdout and,
after :meth:`NaiveModel.observe` of the full history, future rows.

The default, ``damped``, is the equal-weight combination of a damped-trend forecast (Holt's linear method
with a damped trend, on the seasonally adjusted series when the data has a season) and the last value. A
trend learnt from the history keeps most of its value when the series goes on as before, and averaging it
with the last value halves the damage when the trend turns in the forecast years. Over every group of the
shared trending panels, against the last value (holdout RMSE ratio, median / share worse): gapminder life
expectancy 0.666 / 9% (theta 0.550 / 15%), fertility 0.592 / 17% (0.926 / 44%), infant mortality
0.616 / 6% (0.677 / 28%), txhousing sales 0.783 / 7% (0.799 / 26%) (docs/benchmarks.md).

Theta (Assimakopoulos & Nikolopoulos, 2000; the M3 competition's winner) is simple exponential smoothing
with half the history's linear slope as drift, seasonally adjusted likewise. Plain drift (last value plus the
average change over the whole history) is not a candidate: it overshoots once growth slows: on the gapminder
panel (185 countries) it validated better than theta on every fold in 44 countries, and there it was worse
than the last value on the holdout in 30% of them, theta in 2%.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["NaiveModel", "infer_season_length", "naive_candidates"]

_KINDS = ("damped", "last", "seasonal", "window", "theta", "mean", "median", "prior", "pooled")
# Smoothing weights simple exponential smoothing chooses from (by one-step-ahead squared error).
_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
# The damped trend's grid: level and trend weights and the damping factor, chosen together by one-step-ahead
# squared error (all combinations are smoothed at once, one numpy step per period).
_HOLT_GRID = np.array([(alpha, beta, phi) for alpha in (0.1, 0.3, 0.5, 0.7, 0.9, 1.0)
                       for beta in (0.05, 0.1, 0.2, 0.4) for phi in (0.8, 0.9, 0.95, 0.98)]).T
# Smoothing runs over the latest rows only: at weight >= 0.05 a row this far back moves the level by less than
# 0.95 ** 2000 (1e-45) of its value, and a Python loop over a 2,000,000-period history would take seconds.
_SES_ROWS = 2000

# Median spacing of the time column (days) -> the usual season length of data at that frequency.
_SEASONS = ((0.03, 0.05, 24), (0.9, 1.1, 7), (6.5, 7.5, 52), (27.5, 31.5, 12), (88.0, 93.0, 4))


@dataclass
class NaiveModel:
    """One naive forecast, named ``naive_<kind>`` (``damped_trend`` and ``theta`` for the trend methods).

    Args:
        kind: ``damped``, ``last``, ``seasonal``, ``window``, ``theta``, ``mean``, ``median`` or ``prior``.
        season: season length (``damped``, ``seasonal``, ``theta``; 0: none) or window length (``window``).
        n_classes: classes of a ``prior`` (classification).
        column: the input holding the pooled slopes' effect (``pooled``: the mean of the fitted rows plus
            that effect's distance from its own mean there; :mod:`automl.scenario.pooling`).
    """

    kind: str
    season: int = 0
    n_classes: int = 0
    column: int = -1
    state_: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown naive forecast {self.kind!r}; expected one of {_KINDS}")

    @property
    def name(self) -> str:
        return {"damped": "damped_trend", "theta": "theta", "pooled": "pooled_slopes"}.get(self.kind,
                                                                                          f"naive_{self.kind}")

    @property
    def classes_(self) -> np.ndarray:
        return np.arange(self.n_classes)

    def fit(self, x: Any, y: np.ndarray) -> NaiveModel:
        """Remember what the forecast needs from the target (``x`` is ignored)."""
        y = np.asarray(y)
        if self.kind == "prior":
            self.state_ = {"prior": np.bincount(y.astype("int64"), minlength=self.n_classes) / len(y)}
        elif self.kind == "pooled":
            self.state_ = {"level": float(np.mean(y - np.asarray(x)[:, self.column]))}
        elif self.kind in ("mean", "median"):
            self.state_ = {"level": float(np.mean(y) if self.kind == "mean" else np.median(y))}
        elif self.kind == "window":
            self.state_ = {"level": float(np.mean(y[-self.season:]))}
        elif self.kind == "seasonal":
            self.state_ = {"tail": np.asarray(y[-self.season:], dtype="float64")}
        elif self.kind == "theta":
            self.state_ = _theta(np.asarray(y, dtype="float64"), self.season)
        elif self.kind == "damped":
            self.state_ = _damped(np.asarray(y, dtype="float64"), self.season)
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
        if self.kind in ("theta", "damped"):
            state = self.state_
            factors = state["factors"][(state["n"] + steps - 1) % len(state["factors"])]
            if self.kind == "theta":
                return (state["level"] + state["slope"] * steps.astype("float64")) * factors
            phi = state["phi"]  # the trend's sum over the horizon, phi + phi^2 + ... + phi^steps
            trend = state["trend"] * phi * (1.0 - phi ** steps.astype("float64")) / (1.0 - phi)
            return 0.5 * (state["level"] + trend) * factors + 0.5 * state["last"]
        if self.kind == "pooled":
            return self.state_["level"] + np.asarray(x)[:, self.column]
        return np.full(n, self.state_["level"], dtype="float64")

    def predict_proba(self, x: Any) -> np.ndarray:
        return np.tile(self.state_["prior"], (len(x), 1))


def naive_candidates(task: str, *, time_indexed: bool, ordered: bool, season: int | None, window: int,
                     n_classes: int = 0, validated: bool = True, pooled: int | None = None) -> list[NaiveModel]:
    """The naive models worth comparing for a scenario; the first is its default forecast, which another
    replaces only by validating better on every fold (:func:`automl.scenario.search.search`).

    Args:
        time_indexed: one row per period (time_column): damped trend, theta, last value, seasonal, window
            mean.
        ordered: rows in time order without periods (split.order_by): mean, median, mean of the latest rows.
        season: season length, or None when the data has no known season.
        window: rows the window mean averages.
        validated: False when the validation rows are too few to compare forecasts, or a regression target
            is constant: only the simplest one (class prior, last value, mean), which the scenario then ships.
        pooled: the input holding the effect of slopes pooled across scenarios, trusted across scenarios
            (:mod:`automl.scenario.pooling`): its forecast is the default in place of the mean.
    """
    if task == "classification":
        return [NaiveModel("prior", n_classes=n_classes)]
    if pooled is not None and not time_indexed:
        default = NaiveModel("pooled", column=pooled)
        return [default] if not validated else [default, NaiveModel("mean"), NaiveModel("median")]
    if not validated:
        return [NaiveModel("last" if time_indexed else "mean")]
    if time_indexed:
        candidates = [NaiveModel("damped", season=season or 0), NaiveModel("theta", season=season or 0),
                      NaiveModel("last")]
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


def _seasonally_adjusted(y: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative seasonal factors (a centred moving average's ratios, averaged per position in the
    season) and the series divided by them; the factors are used only with two full seasons of positive
    values, otherwise a single factor of 1 leaves the series as it is."""
    n = len(y)
    if season <= 1 or n < 2 * season or not (y > 0).all():
        return np.ones(1), y
    trend = pd.Series(y).rolling(season, center=True, min_periods=season).mean().to_numpy()
    ratios = y / trend
    positions = np.arange(n) % season
    factors = np.array([np.nanmean(ratios[positions == k]) for k in range(season)])
    if not (np.isfinite(factors).all() and (factors > 0).all()):
        return np.ones(1), y
    factors = factors / factors.mean()
    return factors, y / factors[positions]


def _theta(y: np.ndarray, season: int) -> dict[str, Any]:
    """The theta method's state: SES level and half the linear slope of the (seasonally adjusted) series."""
    n = len(y)
    factors, adjusted = _seasonally_adjusted(y, season)
    slope = float(np.polyfit(np.arange(n), adjusted, 1)[0]) if n > 1 else 0.0
    return {"level": _ses_level(adjusted), "slope": slope / 2.0, "factors": factors, "n": n}


def _damped(y: np.ndarray, season: int) -> dict[str, Any]:
    """The damped-trend combination's state: Holt's level, trend and damping on the (seasonally adjusted)
    series, chosen over :data:`_HOLT_GRID` by one-step-ahead squared error, and the last value."""
    factors, adjusted = _seasonally_adjusted(y, season)
    adjusted = adjusted[-_SES_ROWS:]
    alpha, beta, phi = _HOLT_GRID
    level = np.full(alpha.shape, adjusted[0])
    trend = np.full(alpha.shape, adjusted[1] - adjusted[0] if len(adjusted) > 1 else 0.0)
    error = np.zeros(alpha.shape)
    for value in adjusted[1:]:
        forecast = level + phi * trend
        error += (value - forecast) ** 2
        new_level = alpha * value + (1.0 - alpha) * forecast
        trend = beta * (new_level - level) + (1.0 - beta) * phi * trend
        level = new_level
    best = int(np.argmin(error))
    return {"level": float(level[best]), "trend": float(trend[best]), "phi": float(phi[best]),
            "last": float(y[-1]), "factors": factors, "n": len(y)}


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
