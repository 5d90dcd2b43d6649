"""One scenario end to end in pandas: split -> enrich -> select -> tune -> refit -> evaluate.

:func:`fit_scenario` raises :class:`~automl.errors.ScenarioError` for data it cannot model and lets any other
failure propagate (``automl debug`` opens a debugger on it); the job layer turns both into the scenario's
results row (:mod:`automl.results`), so one scenario never stops the others.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from automl.config import Config
from automl.errors import ScenarioError
from automl.scenario.families import FAMILIES
from automl.scenario.features import FeatureEnricher
from automl.scenario.keys import scenario_seed
from automl.scenario.metrics import METRICS, compute_metrics, to_loss
from automl.scenario.model import ScenarioModel, class_probabilities, encode_labels
from automl.scenario.select import select_features
from automl.scenario.space import to_distribution
from automl.scenario.split import holdout_split, validation_folds
from automl.scenario.tuning import make_tuner

__all__ = ["PIPELINE_STEPS", "ScenarioFit", "Stopwatch", "fit_scenario", "predict_scenario", "prepare_rows"]

# The steps fit_scenario times, in order (the job layer adds its own "publish").
PIPELINE_STEPS = ("split", "features", "select", "tune", "refit", "evaluate")


@dataclass
class ScenarioFit:
    """A trained scenario: its model and what was measured on the way."""

    model: ScenarioModel
    metrics: dict[str, float]
    baseline: dict[str, float]
    leaderboard: dict[str, float]
    n_evals: int
    n_rows: int
    n_train: int
    n_test: int
    seed: int
    seconds: dict[str, float] = field(default_factory=dict)


class Stopwatch:
    """Adds the wall time of each ``with watch("step"):`` block to ``seconds[step]``."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self._step = ""

    def __call__(self, step: str) -> Stopwatch:
        self._step = step
        return self

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_: object) -> None:
        self.seconds[self._step] = self.seconds.get(self._step, 0.0) + time.perf_counter() - self._started


def prepare_rows(frame: pd.DataFrame, config: Config, *, training: bool) -> pd.DataFrame:
    """Rows sorted by time with a datetime time column; for training, only rows with a target."""
    rows = frame
    if training:
        if config.target not in rows.columns:
            raise ScenarioError(f"target column {config.target!r} is missing")
        rows = rows[rows[config.target].notna()]
        if rows.empty:
            raise ScenarioError(f"target column {config.target!r} has no values")
    time_column = config.time_column
    if time_column is not None:
        if time_column not in rows.columns:
            raise ScenarioError(f"time column {time_column!r} is missing")
        rows = rows.assign(**{time_column: pd.to_datetime(rows[time_column])})
        duplicated = rows[time_column].duplicated()
        if duplicated.any():
            first = rows.loc[duplicated, time_column].iloc[0]
            raise ScenarioError(f"{int(duplicated.sum())} duplicated {time_column!r} values (first: {first}); "
                                f"a scenario needs one row per period")
        rows = rows.sort_values(time_column, kind="stable")
    return rows.reset_index(drop=True)


def fit_scenario(frame: pd.DataFrame, keys: dict[str, Any], config: Config, *, threads: int = 1,
                 deadline: float | None = None, seconds: dict[str, float] | None = None) -> ScenarioFit:
    """Train, tune and evaluate one scenario; raises :class:`ScenarioError` for data it cannot model."""
    seconds = {} if seconds is None else seconds
    watch = Stopwatch(seconds)
    seed = scenario_seed(config.tuning.seed, keys)
    if deadline is not None and time.time() >= deadline:
        raise ScenarioError("the job deadline (execution.deadline_seconds) passed before this scenario started")
    task, target, method = config.task, config.target, config.split_method
    with watch("split"):
        rows = prepare_rows(frame, config, training=True)
        labels, classes = _targets(rows[target], config)
        train, test = holdout_split(rows, method=method, size=config.split.test_size, target=target, seed=seed,
                                    min_train_rows=config.split.min_train_rows)
        folds = validation_folds(rows.iloc[train], method=method, size=config.split.validation_size,
                                 folds=config.split.validation_folds, target=target, seed=seed + 1,
                                 min_train_rows=max(2, len(train) // 4))
        if classes is not None:
            _check_fold_classes(labels[train], folds, config.primary_metric)
    with watch("features"):
        exclude = [*config.scenario_keys, *(c for c in config.sample_id_columns if c != config.time_column)]
        enricher = FeatureEnricher(config.features, target=target, time_column=config.time_column,
                                   horizon=config.horizon, exclude=exclude).fit(rows.iloc[train])
        features = enricher.transform(rows)
    with watch("select"):
        selected = select_features(features.iloc[train], labels[train], task=task,
                                   method=config.selection.method, max_features=config.selection.max_features,
                                   seed=seed, threads=threads)
        if not selected:
            raise ScenarioError("no informative feature: every candidate column is constant or empty")
        # Models get plain float arrays: featuretools names such as "LAG(units, week)" break LightGBM.
        x = features[selected].to_numpy(dtype="float64")
    primary = config.primary_metric
    n_classes = len(classes or ())

    def objective(family: str, params: dict[str, Any]) -> float:
        losses = []
        for inner, valid in folds:
            fit_rows, valid_rows = train[inner], train[valid]
            model = _build(config, family, params, threads, seed).fit(x[fit_rows], labels[fit_rows])
            prediction, proba = _predict(model, x[valid_rows], task, n_classes)
            losses.append(to_loss(primary, compute_metrics([primary], labels[valid_rows], prediction, proba)[primary]))
        return float(np.mean(losses))

    with watch("tune"):
        budget = config.tuning.timeout_seconds
        if deadline is not None:
            budget = max(1.0, min(budget, deadline - time.time()))
        tuner = make_tuner(config.tuning.tuner, config.tuning.algorithm)
        result = tuner.tune(objective, _spaces(config), max_evals=config.tuning.max_evals,
                            timeout_seconds=budget, seed=seed)
        members = result.best_per_family(config.tuning.ensemble_size)
    with watch("refit"):
        estimator = _build_members(config, members, threads, seed).fit(x[train], labels[train])
    with watch("evaluate"):
        prediction, proba = _predict(estimator, x[test], task, n_classes)
        names = config.report_metrics
        metrics = compute_metrics(names, labels[test], prediction, proba)
        base_prediction, base_proba = _baseline(labels[train], len(test), task, config.time_column is not None,
                                                len(classes or ()))
        baseline = compute_metrics(names, labels[test], base_prediction, base_proba)
    with watch("refit"):
        if config.split.refit_on_all_rows:
            enricher.fit(rows)
            x_all = enricher.transform(rows)[selected].to_numpy(dtype="float64")
            estimator = _build_members(config, members, threads, seed).fit(x_all, labels)
        enricher.remember_history(rows)
    family = "+".join(m.family for m in members)
    params = members[0].params if len(members) == 1 else {m.family: m.params for m in members}
    model = ScenarioModel(task, dict(keys), enricher, selected, estimator, family, params, classes)
    leaderboard = {family: _from_loss(primary, loss) for family, loss in result.leaderboard().items()}
    return ScenarioFit(model, metrics, baseline, leaderboard, len(result.trials), len(rows), len(train),
                       len(test), seed, seconds)


def predict_scenario(frame: pd.DataFrame, model: ScenarioModel, config: Config) -> pd.DataFrame:
    """Predictions for one scenario's rows with their sample ids; raises on unusable input."""
    rows = prepare_rows(frame, config, training=False)
    missing = sorted(set(model.enricher.raw_columns_) - set(rows.columns) - {config.target})
    if missing:
        raise ScenarioError(f"prediction input lacks columns the model needs: {missing}")
    if config.time_column is not None and len(rows) > config.horizon and (
            model.enricher.settings.target_lags or model.enricher.settings.target_windows):
        raise ScenarioError(f"{len(rows)} future periods exceed the horizon of {config.horizon} the model's "
                            f"target lags were built for (split.test_size / split.validation_size)")
    scored = model.predict(rows)
    ids = rows[[c for c in config.sample_id_columns if c in rows.columns]]
    return pd.concat([ids, scored], axis=1)


def _check_fold_classes(labels: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]], primary: str) -> None:
    """Classification tuning needs two classes to fit on, and two to rank by roc_auc."""
    for inner, valid in folds:
        if len(np.unique(labels[inner])) < 2:
            raise ScenarioError("the tuning rows hold a single class: nothing to learn from them "
                                "(use a larger split.validation_size or more history)")
        if primary == "roc_auc" and len(np.unique(labels[valid])) < 2:
            raise ScenarioError("the validation rows hold a single class, so roc_auc cannot rank models "
                                "(use a larger split.validation_size or another metrics.primary)")


def _targets(values: pd.Series, config: Config) -> tuple[np.ndarray, list[Any] | None]:
    if config.task == "regression":
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.isna().any():
            raise ScenarioError(f"target {config.target!r} is not numeric (e.g. {values[numeric.isna()].iloc[0]!r})")
        if config.models.target_transform == "log1p" and (numeric < 0).any():
            raise ScenarioError(f"models.target_transform 'log1p' needs a non-negative target; {config.target!r} "
                                f"has {int((numeric < 0).sum())} negative values")
        if numeric.nunique() < 2:
            raise ScenarioError(f"target {config.target!r} is constant ({numeric.iloc[0]}): nothing to learn")
        return numeric.to_numpy(dtype="float64"), None
    codes, classes = encode_labels(values, config.metrics.positive_class)
    if len(classes) < 2:
        raise ScenarioError(f"target {config.target!r} has a single class ({classes[0]!r}): nothing to learn")
    return codes, classes


def _build(config: Config, family: str, params: dict[str, Any], threads: int, seed: int) -> Any:
    """An unfitted estimator of ``family``, fitting on the transformed target when one is configured."""
    estimator = FAMILIES[family].build(config.task, params, threads, seed)
    if config.task == "regression" and config.models.target_transform == "log1p":
        from sklearn.compose import TransformedTargetRegressor

        # Multiplicative effects (seasonality x promotion x price) become additive on the log scale.
        return TransformedTargetRegressor(estimator, func=np.log1p, inverse_func=np.expm1, check_inverse=False)
    return estimator


def _build_members(config: Config, members: list, threads: int, seed: int) -> Any:
    """The best trial's estimator, or an average of the best trial of each of the top families."""
    if len(members) == 1:
        return _build(config, members[0].family, members[0].params, threads, seed)
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    estimators = [(m.family, _build(config, m.family, m.params, threads, seed)) for m in members]
    if config.task == "regression":
        return VotingRegressor(estimators)
    return VotingClassifier(estimators, voting="soft")


def _predict(model: Any, x: np.ndarray, task: str, n_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    if task == "regression":
        return model.predict(x), None
    proba = class_probabilities(model, x, n_classes)
    return proba.argmax(axis=1), proba


def _baseline(train_labels: np.ndarray, n_test: int, task: str, has_time: bool,
              n_classes: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The naive forecast a model must beat: last value (time), mean, or the majority class."""
    if task == "regression":
        level = train_labels[-1] if has_time else train_labels.mean()
        return np.full(n_test, level, dtype="float64"), None
    prior = np.bincount(train_labels, minlength=n_classes) / len(train_labels)
    return np.full(n_test, prior.argmax()), np.tile(prior, (n_test, 1))


def _from_loss(metric: str, loss: float) -> float:
    return -loss if METRICS[metric].greater_is_better else loss


def _spaces(config: Config) -> dict[str, dict[str, Any]]:
    spaces = {}
    for family in config.models.families:
        space = dict(FAMILIES[family].space)
        space.update({name: to_distribution(spec)
                      for name, spec in config.models.search_space.get(family, {}).items()})
        spaces[family] = space
    return spaces
