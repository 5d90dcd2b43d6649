"""The final model's feature importances, by the names the user knows, as shares that sum to 1.

Gain for LightGBM, impurity decrease for the forest, |coefficient| on standardised inputs for the linear
family (one-hot levels and missing-value indicators summed back onto their column); an average over the
members of an ensemble; none for a naive model, which reads no feature.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np

__all__ = ["feature_importances"]

TOP = 20
_COLUMN = re.compile(r"x(\d+)")


def feature_importances(estimator: Any, names: list[str], top: int = TOP) -> dict[str, float]:
    """The ``top`` features of ``estimator`` (fitted on columns ``names``), largest share first."""
    scores = _scores(estimator, names)
    total = float(sum(scores.values()))
    if not scores or total <= 0:
        return {}
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:top]
    return {name: round(float(value) / total, 6) for name, value in ranked if value > 0}


def _scores(estimator: Any, names: list[str]) -> dict[str, float]:
    members = getattr(estimator, "members", None)
    if members is not None:
        totals: dict[str, float] = {}
        for member in members:
            for name, share in feature_importances(member, names, top=len(names) + 1).items():
                totals[name] = totals.get(name, 0.0) + share / len(members)
        return totals
    inner = getattr(estimator, "estimator", None)
    if inner is not None and hasattr(estimator, "transform"):  # a TargetModel: its inputs may end in steps
        from automl.scenario.transforms import STEPS_FEATURE

        return _scores(inner, [*names, STEPS_FEATURE] if estimator.transform == "difference" else names)
    booster = getattr(estimator, "booster_", None)
    if booster is not None:
        return dict(zip(names, booster.feature_importance(importance_type="gain").astype("float64")))
    if hasattr(estimator, "feature_importances_"):
        return dict(zip(names, np.asarray(estimator.feature_importances_, dtype="float64")))
    if hasattr(estimator, "steps"):  # the linear family's pipeline
        return _linear_scores(estimator, names)
    return {}


def _linear_scores(pipeline: Any, names: list[str]) -> dict[str, float]:
    """|coefficients| of the final step, each output column traced back to its input column by name."""
    coefficients = np.abs(np.atleast_2d(pipeline.steps[-1][1].coef_)).sum(axis=0)
    outputs = pipeline[:-1].get_feature_names_out([f"x{i}" for i in range(len(names))])
    totals: dict[str, float] = {}
    for output, value in zip(outputs, coefficients):
        match = _COLUMN.search(str(output).rsplit("__", 1)[-1])
        if match and int(match.group(1)) < len(names):
            name = names[int(match.group(1))]
            totals[name] = totals.get(name, 0.0) + float(value)
    return totals
