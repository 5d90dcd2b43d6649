"""Feature selection: drop what carries no information, then keep the most useful ``max_features``."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["select_features"]


def select_features(features: pd.DataFrame, target: np.ndarray, *, task: str, method: str, max_features: int,
                    seed: int, threads: int) -> list[str]:
    """Names of the columns to keep, in their original order.

    Constant and empty columns are always dropped; ``importance`` ranks by a small random forest,
    ``mutual_info`` by mutual information with the target.
    """
    informative = [c for c in features.columns if features[c].nunique(dropna=True) > 1]
    if method == "none" or len(informative) <= max_features:
        return informative
    subset = features[informative]
    if method == "importance":
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        forest = RandomForestRegressor if task == "regression" else RandomForestClassifier
        model = forest(n_estimators=60, max_depth=8, n_jobs=threads, random_state=seed).fit(subset, target)
        scores = model.feature_importances_
    else:
        from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

        filled = subset.fillna(subset.median())
        rank = mutual_info_regression if task == "regression" else mutual_info_classif
        scores = rank(filled, target, random_state=seed)
    keep = set(np.asarray(informative)[np.argsort(-scores, kind="stable")[:max_features]])
    return [c for c in informative if c in keep]
