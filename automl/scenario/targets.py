"""The target column as models need it: numbers for regression, class codes for classification.

Both raise :class:`~automl.errors.ScenarioError` with the reason a scenario's target cannot be modelled.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.errors import ScenarioError
from automl.scenario import checks
from automl.scenario.model import encode_labels

if TYPE_CHECKING:
    from automl.config import Config

__all__ = ["check_fold_classes", "parse_target"]


def parse_target(values: pd.Series, config: Config) -> tuple[np.ndarray, list[Any] | None]:
    """Floats and None (regression), or class codes and the classes, a binary task's positive one last
    (classification)."""
    target = config.target
    if config.task == "regression":
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any():
            raise ScenarioError(f"target {target!r} is not numeric (e.g. {values[numeric.isna()].iloc[0]!r})")
        if config.models.target_transform == "log1p" and (numeric < 0).any():
            raise ScenarioError(f"models.target_transform 'log1p' needs a non-negative target; {target!r} "
                                f"has {int((numeric < 0).sum())} negative values")
        return numeric.to_numpy(dtype="float64"), None
    n_labels = values.nunique()
    if pd.api.types.is_float_dtype(values):
        continuous = checks.continuous_labels(target, n_labels, len(values))
        if continuous:
            raise ScenarioError(continuous)
    positive = config.metrics.positive_class
    codes, classes = encode_labels(values, positive)
    if len(classes) < 2:
        raise ScenarioError(checks.single_class(target, classes[0]))
    if positive is not None and not any(c == positive or str(c) == str(positive) for c in classes):
        raise ScenarioError(checks.unknown_positive_class(positive, classes))
    return codes, classes


def check_fold_classes(labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], primary: str) -> None:
    """Classification tuning needs two classes to fit on, and two to rank by roc_auc."""
    for inner, valid in folds:
        if len(np.unique(labels[inner])) < 2:
            raise ScenarioError("the tuning rows hold a single class: nothing to learn from them "
                                "(use a larger split.validation_size or more history)")
        if primary == "roc_auc" and len(np.unique(labels[valid])) < 2:
            raise ScenarioError("the validation rows hold a single class, so roc_auc cannot rank models "
                                "(use a larger split.validation_size or another metrics.primary)")
