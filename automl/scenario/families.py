"""Registered model families: a search space as data plus a builder, nothing else.

Estimator libraries are imported inside ``build`` so validating a config stays fast. Every builder takes
``threads`` explicitly: a Spark task owns ``spark.task.cpus`` cores and its model must use exactly those.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from automl.scenario.space import Choice, Distribution, Float, Int

__all__ = ["FAMILIES", "ModelFamily"]


@dataclass(frozen=True)
class ModelFamily:
    """A tunable estimator family; ``space`` maps parameter names to distributions, ``modules`` are the
    libraries ``build`` imports (Spark's Python workers import them ahead of the first scenario)."""

    name: str
    tasks: frozenset[str]
    space: dict[str, Distribution]
    build: Callable[[str, dict[str, Any], int, int], Any]
    modules: tuple[str, ...] = ()

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(self.space)


def _lightgbm(task: str, params: dict[str, Any], threads: int, seed: int) -> Any:
    import lightgbm as lgb

    estimator = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    return estimator(**params, subsample_freq=1, n_jobs=threads, random_state=seed, verbosity=-1)


def _random_forest(task: str, params: dict[str, Any], threads: int, seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    estimator = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return estimator(**params, n_jobs=threads, random_state=seed)


def _linear(task: str, params: dict[str, Any], threads: int, seed: int) -> Any:
    # Linear models need complete, scaled inputs; the indicator keeps "was missing" as a signal.
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task == "regression":
        model = Ridge(alpha=params["alpha"], random_state=seed)
    else:
        model = LogisticRegression(C=1.0 / params["alpha"], max_iter=2000, random_state=seed)
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    return make_pipeline(imputer, StandardScaler(), model)


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in (
        ModelFamily(
            "lightgbm",
            frozenset({"regression", "classification"}),
            {
                "n_estimators": Int(50, 500, log=True),
                "learning_rate": Float(0.02, 0.3, log=True),
                "num_leaves": Int(4, 64, log=True),
                "min_child_samples": Int(3, 40, log=True),
                "subsample": Float(0.6, 1.0),
                "colsample_bytree": Float(0.5, 1.0),
                "reg_lambda": Float(1e-3, 10.0, log=True),
            },
            _lightgbm,
            ("lightgbm",),
        ),
        ModelFamily(
            "random_forest",
            frozenset({"regression", "classification"}),
            {
                "n_estimators": Int(50, 300, log=True),
                "max_depth": Choice((4, 8, 16, None)),
                "min_samples_leaf": Int(1, 10),
                "max_features": Float(0.3, 1.0),
            },
            _random_forest,
            ("sklearn.ensemble",),
        ),
        ModelFamily(
            "linear",
            frozenset({"regression", "classification"}),
            {"alpha": Float(1e-3, 100.0, log=True)},
            _linear,
            ("sklearn.impute", "sklearn.linear_model", "sklearn.pipeline", "sklearn.preprocessing"),
        ),
    )
}
