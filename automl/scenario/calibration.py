"""Class probabilities that are never worse than the class prior on the validation folds.

Boosted trees and forests fitted on a few hundred rows give over-confident probabilities: their log loss can
be worse than always answering the class frequencies. Fitted on the chosen model's out-of-fold probabilities,
a :class:`Calibration` first rescales binary scores (Platt scaling on the log-odds) and then blends with the
prior, with the weight that minimises validation log loss; weight 0 *is* the prior, so the result can only
match or beat it there. Both steps are monotone, so the ranking (roc_auc) is unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "fit_calibration"]

_WEIGHTS = np.linspace(0.0, 1.0, 21)
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """``weight * platt(p) + (1 - weight) * prior``; ``slope``/``intercept`` act on binary log-odds."""

    prior: tuple[float, ...]
    weight: float = 1.0
    slope: float = 1.0
    intercept: float = 0.0

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        p = np.asarray(probabilities, dtype="float64")
        if p.shape[1] == 2 and (self.slope, self.intercept) != (1.0, 0.0):
            positive = 1.0 / (1.0 + np.exp(-(self.slope * _logit(p[:, 1]) + self.intercept)))
            p = np.column_stack([1.0 - positive, positive])
        return self.weight * p + (1.0 - self.weight) * np.asarray(self.prior)[None, :]


def fit_calibration(probabilities: np.ndarray, labels: np.ndarray, prior: np.ndarray) -> Calibration:
    """The calibration with the lowest log loss on out-of-fold ``probabilities`` of ``labels`` (codes)."""
    p = np.asarray(probabilities, dtype="float64")
    slope, intercept = 1.0, 0.0
    if p.shape[1] == 2 and len(np.unique(labels)) == 2:
        from sklearn.linear_model import LogisticRegression

        platt = LogisticRegression(C=1e4).fit(_logit(p[:, 1])[:, None], labels)
        slope, intercept = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        if slope <= 0:  # a reversed ranking is noise on these few rows, not a signal to keep
            slope, intercept = 1.0, 0.0
    scaled = Calibration(tuple(prior), 1.0, slope, intercept).apply(p)
    losses = [_log_loss(w * scaled + (1 - w) * prior[None, :], labels) for w in _WEIGHTS]
    return Calibration(tuple(float(v) for v in prior), float(_WEIGHTS[int(np.argmin(losses))]), slope, intercept)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _log_loss(p: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-15, 1.0))))
