"""Holdout metrics, their direction, and the naive baselines every model is compared with."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["METRICS", "MetricSpec", "compute_metrics", "default_metrics", "to_loss"]


@dataclass(frozen=True)
class MetricSpec:
    """A metric over ``(y_true, prediction, probabilities)``; classification labels are encoded 0..K-1."""

    task: str
    greater_is_better: bool
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]


def _rmse(y, p, _):
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _mae(y, p, _):
    return float(np.mean(np.abs(y - p)))


def _wape(y, p, _):
    total = float(np.sum(np.abs(y)))
    return float(np.sum(np.abs(y - p)) / total) if total > 0 else float("nan")


def _r2(y, p, _):
    spread = float(np.sum((y - np.mean(y)) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / spread if spread > 0 else float("nan")


def _accuracy(y, p, _):
    return float(np.mean(y == p))


def _f1(y, p, proba):
    from sklearn.metrics import f1_score

    n_classes = proba.shape[1] if proba is not None else int(max(y.max(), p.max())) + 1
    average = "binary" if n_classes <= 2 else "macro"
    return float(f1_score(y, p, average=average, zero_division=0.0))


def _roc_auc(y, _, proba):
    from sklearn.metrics import roc_auc_score

    if proba is None or len(np.unique(y)) < 2:
        return float("nan")  # undefined when the holdout holds a single class
    if proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    # Macro one-vs-rest over the classes present in y: sklearn's "ovr" when every class occurs, and still
    # defined when a rare class is absent from a small validation set (else every trial's loss is NaN).
    return float(np.mean([roc_auc_score(y == k, proba[:, k]) for k in np.unique(y)]))


def _log_loss(y, _, proba):
    from sklearn.metrics import log_loss

    if proba is None:
        return float("nan")  # like roc_auc: undefined without probabilities, never an exception
    return float(log_loss(y, proba, labels=list(range(proba.shape[1]))))


METRICS: dict[str, MetricSpec] = {
    "rmse": MetricSpec("regression", False, _rmse),
    "mae": MetricSpec("regression", False, _mae),
    "wape": MetricSpec("regression", False, _wape),
    "r2": MetricSpec("regression", True, _r2),
    "accuracy": MetricSpec("classification", True, _accuracy),
    "f1": MetricSpec("classification", True, _f1),
    "roc_auc": MetricSpec("classification", True, _roc_auc),
    "log_loss": MetricSpec("classification", False, _log_loss),
}


def default_metrics(task: str) -> list[str]:
    """The reported metrics for a task; the first is the default primary metric."""
    return ["rmse", "mae", "wape", "r2"] if task == "regression" else ["roc_auc", "accuracy", "f1", "log_loss"]


def compute_metrics(names: list[str], y_true: np.ndarray, prediction: np.ndarray,
                    probabilities: np.ndarray | None = None) -> dict[str, float]:
    """Compute each named metric; a metric undefined on this holdout is NaN, never an exception."""
    return {name: METRICS[name].fn(y_true, prediction, probabilities) for name in names}


def to_loss(name: str, value: float) -> float:
    """Map a metric to 'lower is better' for tuners; NaN becomes +inf so it never wins."""
    if value != value:
        return float("inf")
    return -value if METRICS[name].greater_is_better else value
