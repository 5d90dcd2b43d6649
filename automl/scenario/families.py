"""Registered model families: a search space as data plus a builder, nothing else.

Estimator libraries are imported inside ``build`` so validating a config stays fast. Every builder takes
``threads`` explicitly: a Spark task owns ``spark.task.cpus`` cores and its model must use exactly those,
``categorical``, the positions of category-code columns: LightGBM splits them as categories, the linear
family one-hot encodes them (rare levels pooled), the forest reads the codes (trees are indifferent), and
``bounded``, the positions of inputs the linear family must not extrapolate: it clips them to the range seen at
fit (:mod:`automl.scenario.clipping`), as trees do by construction (which ones: ``Problem.bounded``), and may
read them through a spline basis (``spline_knots``): a curve per input instead of a slope, flat beyond the range.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from automl.scenario.space import Choice, Distribution, Float, Int

__all__ = ["FAMILIES", "ModelFamily", "fit_estimator"]

# Rounds without improvement on the validation fold before LightGBM stops adding trees.
_PATIENCE = 20
# Levels rarer than this share of the rows are pooled into one column by the linear family's one-hot encoder.
_RARE_LEVEL_SHARE = 0.05



@dataclass(frozen=True)
class ModelFamily:
    """A tunable estimator family; ``space`` maps parameter names to distributions, ``modules`` are the
    libraries ``build`` imports (Spark's Python workers import them ahead of the first scenario), ``defaults``
    the library's own defaults, every scenario's first trial (tuning then cannot end worse than them)."""

    name: str
    tasks: frozenset[str]
    space: dict[str, Distribution]
    build: Callable[..., Any]
    modules: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    # Further first trials, scored after the defaults: points a short search rarely draws and cheap to try.
    starts: tuple[dict[str, Any], ...] = ()
    # Parameters that read inputs held to their fitted range through curves: searched only where the data allows
    # them (``Problem.curves``: no time order, enough rows), or where the config's search_space names them.
    curve_params: frozenset[str] = frozenset()

    @property
    def param_names(self) -> frozenset[str]:
        return frozenset(self.space)


def fit_estimator(estimator: Any, x: np.ndarray, y: np.ndarray,
                  eval_set: tuple[np.ndarray, np.ndarray] | None = None) -> Any:
    """Fit ``estimator``; LightGBM given a validation set stops adding trees once they stop helping there
    (``best_iteration_``), so its number of trees is chosen on validation rather than guessed."""
    if not type(estimator).__module__.startswith("lightgbm"):
        return estimator.fit(x, y)
    import lightgbm as lgb

    options: dict[str, Any] = {}
    # A classifier cannot score a validation class it never saw in its fit rows.
    if eval_set is not None and (not hasattr(estimator, "predict_proba")
                                 or set(np.unique(eval_set[1])) <= set(np.unique(y))):
        # LightGBM 4.7 renamed eval_set to eval_X / eval_y (the old name warns); older versions know only eval_set.
        data = ({"eval_X": (eval_set[0],), "eval_y": (eval_set[1],)} if "eval_X" in _fit_arguments(estimator)
                else {"eval_set": [eval_set]})
        options = {**data, "callbacks": [lgb.early_stopping(_PATIENCE, first_metric_only=True, verbose=False)]}
    with warnings.catch_warnings():
        # Categorical columns are a constructor parameter (see _lightgbm); LightGBM would rather see them as
        # a Dataset argument, which means the same here.
        warnings.filterwarnings("ignore", message="categorical_feature keyword", category=UserWarning)
        return estimator.fit(x, y, **options)


def _fit_arguments(estimator: Any) -> frozenset[str]:
    import inspect

    return frozenset(inspect.signature(type(estimator).fit).parameters)


def _lightgbm(task: str, params: dict[str, Any], threads: int, seed: int, categorical: tuple[int, ...] = (),
              bounded: tuple[int, ...] = ()) -> Any:
    import lightgbm as lgb

    estimator = lgb.LGBMRegressor if task == "regression" else lgb.LGBMClassifier
    extra = {"categorical_feature": list(categorical)} if categorical else {}
    return estimator(**params, **extra, subsample_freq=1, n_jobs=threads, random_state=seed, verbosity=-1)


def _random_forest(task: str, params: dict[str, Any], threads: int, seed: int,
                   categorical: tuple[int, ...] = (), bounded: tuple[int, ...] = ()) -> Any:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    estimator = RandomForestRegressor if task == "regression" else RandomForestClassifier
    return estimator(**params, n_jobs=threads, random_state=seed)


def _linear(task: str, params: dict[str, Any], threads: int, seed: int, categorical: tuple[int, ...] = (),
            bounded: tuple[int, ...] = ()) -> Any:
    # Linear models need complete, scaled inputs; the indicator keeps "was missing" as a signal. Category codes
    # are not magnitudes: they become one-hot columns (missing and unseen levels too), rare levels pooled.
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

    from automl.scenario.clipping import ClipToFitRange

    if task == "regression":
        model = Ridge(alpha=params["alpha"], random_state=seed)
    else:
        model = LogisticRegression(C=1.0 / params["alpha"], max_iter=2000, random_state=seed,
                                   class_weight=params.get("class_weight"))
    imputer = SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True)
    numeric = make_pipeline(imputer, StandardScaler())
    if bounded and params.get("spline_knots"):
        # A cubic B-spline basis per input (knots at its quantiles) lets the model bend: churn falls steeply in
        # the first months of tenure, then flattens. Constant beyond the fitted range, as the clipping asks.
        spline = SplineTransformer(n_knots=params["spline_knots"], knots="quantile", extrapolation="constant")
        numeric = make_pipeline(imputer, spline)
    steps = [ClipToFitRange(tuple(bounded))] if bounded else []
    if not categorical:
        return make_pipeline(*steps, numeric, model)
    onehot = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=_RARE_LEVEL_SHARE,
                           sparse_output=False)
    columns = ColumnTransformer([("onehot", onehot, list(categorical))], remainder=numeric)
    return make_pipeline(*steps, columns, model)


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
            {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31, "min_child_samples": 20,
             "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 0.0},
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
            {"n_estimators": 100, "max_depth": None, "min_samples_leaf": 1, "max_features": 1.0},
        ),
        ModelFamily(
            "linear",
            frozenset({"regression", "classification"}),
            {"alpha": Float(1e-3, 100.0, log=True), "spline_knots": Choice((0, 4, 8))},
            _linear,
            ("sklearn.compose", "sklearn.impute", "sklearn.linear_model", "sklearn.pipeline",
             "sklearn.preprocessing", "automl.scenario.clipping"),
            {"alpha": 1.0, "spline_knots": 0},
            starts=({"alpha": 1.0, "spline_knots": 4},),
            curve_params=frozenset({"spline_knots"}),
        ),
    )
}
