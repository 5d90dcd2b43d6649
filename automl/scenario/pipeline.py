"""One scenario end to end in pandas: split -> enrich -> select -> tune -> refit -> evaluate.

:func:`fit_scenario` raises :class:`~automl.errors.ScenarioError` for data it cannot model and lets any other
failure propagate (``automl debug`` opens a debugger on it); the job layer turns both into the scenario's
results row (:mod:`automl.results`), so one scenario never stops the others.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from automl.errors import ScenarioError
from automl.scenario import checks
from automl.scenario.baselines import infer_season_length, naive_candidates
from automl.scenario.calibration import fit_calibration
from automl.scenario.features import FeatureEnricher
from automl.scenario.importance import feature_importances
from automl.scenario.keys import scenario_seed
from automl.scenario.metrics import METRICS, compute_metrics, to_loss
from automl.scenario.model import ScenarioModel
from automl.scenario.pooling import POOLED_EFFECT, Moments, PooledEffect, PooledEvidence, design
from automl.scenario.resources import Stopwatch
from automl.scenario.search import (Problem, SearchResult, fit, fit_member, member_name, predict, search,
                                   steps_after)
from automl.scenario.select import select_features
from automl.scenario.split import holdout_split, validation_folds
from automl.scenario.targets import check_fold_classes, parse_target
from automl.scenario.transforms import Ensemble

if TYPE_CHECKING:
    from automl.config import Config

__all__ = ["PIPELINE_STEPS", "ScenarioFit", "fit_scenario", "identity_hashes", "not_inputs", "pooled_moments",
           "pools", "predict_scenario", "prepare_rows"]

# The steps fit_scenario times, in order (the job layer adds its own "publish").
PIPELINE_STEPS = ("split", "features", "select", "tune", "refit", "evaluate")


@dataclass
class ScenarioFit:
    """A trained scenario: its model and what was measured on the way.

    ``baseline`` holds the holdout metrics of ``baseline_name``, the naive forecast that validated best;
    ``rejected`` the model that replaced the default forecast on validation and lost to it on the holdout
    (``tuning.confirm_on_holdout``), with both scores, when the default shipped for that reason; ``holdout``
    one row per holdout row (sample ids, ``actual``, ``prediction``, ``baseline`` and, for
    classification, ``probability``); ``importances`` the final model's top features as shares of 1.
    """

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
    baseline_name: str = ""
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)
    importances: dict[str, float] = field(default_factory=dict)
    rejected: str = ""


def prepare_rows(frame: pd.DataFrame, config: Config, *, training: bool) -> pd.DataFrame:
    """Rows in a canonical order; for training, only rows with a target.

    With a time column: sorted by it (one row per period). For training without one: sorted by
    ``split.order_by`` if set, then by the sample id (else the row's content), so the same rows in any
    order give the same splits and the same result.
    """
    rows = frame
    if training:
        if config.target not in rows.columns:
            raise ScenarioError(checks.missing_column("target", config.target))
        rows = rows[rows[config.target].notna()]
        if rows.empty:
            raise ScenarioError(checks.no_target_values(config.target, len(frame)))
    time_column = config.time_column
    if time_column is not None:
        if time_column not in rows.columns:
            raise ScenarioError(checks.missing_column("time", time_column))
        rows = rows.assign(**{time_column: pd.to_datetime(rows[time_column])})
        duplicated = rows[time_column].duplicated()
        if duplicated.any():
            first = rows.loc[duplicated, time_column].iloc[0]
            raise ScenarioError(checks.duplicated_times(time_column, int(duplicated.sum()), first))
        rows = rows.sort_values(time_column, kind="stable")
    elif training:
        rows = rows.iloc[_canonical_order(rows, config)]
    return rows.reset_index(drop=True)


def fit_scenario(frame: pd.DataFrame, keys: dict[str, Any], config: Config, *, threads: int = 1,
                 deadline: float | None = None, seconds: dict[str, float] | None = None,
                 pooled: PooledEvidence | None = None) -> ScenarioFit:
    """Train, tune and evaluate one scenario; raises :class:`ScenarioError` for data it cannot model.

    ``pooled``: every scenario's :func:`pooled_moments` combined (when :func:`pools`), so this one can use
    slopes fitted on the others (:mod:`automl.scenario.pooling`); None or untrusted: its own rows only.
    """
    seconds = {} if seconds is None else seconds
    watch = Stopwatch(seconds)
    seed = scenario_seed(config.tuning.seed, keys)
    if deadline is not None and time.time() >= deadline:
        raise ScenarioError("the job deadline (execution.deadline_seconds) passed before this scenario started")
    task, target, time_column = config.task, config.target, config.time_column
    ordered = time_column is not None or config.split.order_by is not None
    with watch("split"):
        rows, labels, classes, train, test = _holdout(frame, config, seed)
        method = config.split_method
        folds = [(train[i], train[v]) for i, v in validation_folds(
            rows.iloc[train], method=method, size=config.split.validation_size, folds=config.split.validation_folds,
            target=target, seed=seed + 1, min_train_rows=max(2, len(train) // 4))]
        if classes is not None:
            check_fold_classes(labels, folds, config.primary_metric)
        horizon = max(len(test), *(len(v) for _, v in folds)) if ordered else 1
        season = _season(config, rows, folds)
        learnable = classes is not None or np.ptp(labels[train]) > 0  # a constant history is its own forecast
    with watch("features"):
        effect = _pooled_effect(pooled, rows.iloc[train], labels[train], config) if learnable else None
        enricher = _enricher(config, horizon, season, effect).fit(rows.iloc[train])
        features = enricher.transform(rows)
    with watch("select"):
        selected = select_features(features.iloc[train], labels[train], task=task,
                                   method=config.selection.method, max_features=config.selection.max_features,
                                   seed=seed, threads=threads)
        if effect is not None and POOLED_EFFECT not in selected:
            selected.append(POOLED_EFFECT)  # the default forecast reads it
        if not selected:
            raise ScenarioError("no informative feature: every candidate column is constant or empty")
        # Models get plain float arrays: feature names such as "LAG(units, week, periods=4)" break LightGBM.
        x = features[selected].to_numpy(dtype="float64")
    problem = Problem(task, config.primary_metric, x, labels, folds, ordered, horizon, len(classes or ()),
                      tuple(i for i, name in enumerate(selected) if name in enricher.categorical_),
                      "balanced" if config.models.class_weight == "balanced" else None, threads, seed,
                      time_indexed=time_column is not None)
    with watch("tune"):
        budget = config.tuning.timeout_seconds
        if deadline is not None:
            budget = max(1.0, min(budget, deadline - time.time()))
        validated = learnable and sum(len(v) for _, v in folds) >= config.split.min_validation_rows
        candidates = naive_candidates(task, time_indexed=time_column is not None, ordered=ordered, season=season,
                                      window=season or horizon, n_classes=problem.n_classes, validated=validated,
                                      pooled=selected.index(POOLED_EFFECT) if effect is not None else None)
        outcome = search(problem, config, candidates, _transforms(config, labels, ordered), budget, tune=validated)
    with watch("refit"):
        estimator = _final(problem, outcome, train)
    with watch("evaluate"):
        calibration = _calibration(problem, outcome, train) if classes is not None and outcome.members else None
        names = config.report_metrics
        prediction, proba = _scored(problem, estimator, train, test, calibration)
        metrics = compute_metrics(names, labels[test], prediction, proba)
        naive = _naive_on_holdout(problem, outcome.naive, train, test, names)
        default = naive if outcome.naive.name == candidates[0].name else None
        # Whatever replaced the default forecast on the folds must beat it on the holdout too: with two or three
        # folds and many challengers, some challenger wins every fold by luck (docs/benchmarks.md).
        rejected = ""
        if config.tuning.confirm_on_holdout and (outcome.members or default is None):
            default = default or _naive_on_holdout(problem, candidates[0], train, test, names)
            primary = problem.primary
            if to_loss(primary, metrics[primary]) > to_loss(primary, default.metrics[primary]):
                rejected = (f"{_describe(outcome)[0]} ({primary} {metrics[primary]:.6g} on the holdout, "
                            f"{default.model.name} {default.metrics[primary]:.6g})")
                outcome = dataclasses.replace(outcome, naive=candidates[0], members=[])
                estimator, calibration, naive = default.model, None, default
                prediction, proba, metrics = default.prediction, default.proba, default.metrics
        baseline = naive.metrics
        holdout = _holdout_frame(rows.iloc[test], config, classes, labels[test], prediction, proba,
                                 naive.prediction)
    with watch("refit"):
        if config.split.refit_on_all_rows:
            enricher.fit(rows)
            everything = np.arange(len(rows))
            problem = dataclasses.replace(problem, x=enricher.transform(rows)[selected].to_numpy(dtype="float64"))
            estimator = _final(problem, outcome, everything)
        elif ordered and hasattr(estimator, "observe"):
            estimator.observe(labels)  # forecasts start after the latest row, like the lags do
        enricher.remember_history(rows)
    family, params = _describe(outcome)
    if family == "pooled_slopes":
        params = effect.describe()
    model = ScenarioModel(task, dict(keys), enricher, selected, estimator, family, params, classes,
                          ordered=ordered, calibration=calibration)
    leaderboard = outcome.leaderboard(lambda loss: -loss if METRICS[problem.primary].greater_is_better else loss)
    return ScenarioFit(model, metrics, baseline, leaderboard, len(outcome.trials.trials), len(rows), len(train),
                       len(test), seed, seconds, baseline_name=outcome.naive.name, holdout=holdout,
                       importances=feature_importances(estimator, selected), rejected=rejected)


def predict_scenario(frame: pd.DataFrame, model: ScenarioModel, config: Config) -> pd.DataFrame:
    """Predictions for one scenario's rows with their sample ids; raises on unusable input."""
    rows = prepare_rows(frame, config, training=False)
    missing = sorted(set(model.enricher.raw_columns_) - set(rows.columns) - {config.target})
    if missing:
        raise ScenarioError(f"prediction input lacks columns the model needs: {missing}")
    rows = model.enricher.convert(rows)
    horizon = model.enricher.horizon
    if config.time_column is not None and len(rows) > horizon and (
            model.enricher.target_lags or model.enricher.target_windows):
        raise ScenarioError(f"{len(rows)} future periods exceed the horizon of {horizon} the model's "
                            f"target lags were built for (split.test_size / split.validation_size)")
    scored = model.predict(rows)
    ids = rows[[c for c in config.sample_id_columns if c in rows.columns]]
    return pd.concat([ids, scored], axis=1)


def pools(config: Config) -> bool:
    """Whether scenarios share slopes (``models.pooled_slopes``): regression without time order, where every
    scenario's rows are a sample of the same kind of units (pupils, houses, customers)."""
    return (config.models.pooled_slopes and config.task == "regression" and config.time_column is None
            and config.split.order_by is None)


def pooled_moments(frame: pd.DataFrame, keys: dict[str, Any], config: Config) -> Moments | None:
    """The first pass of pooling: the moments of the rows :func:`fit_scenario` will train on (the same split),
    or None for a scenario it would skip."""
    try:
        rows, labels, _, train, _ = _holdout(frame, config, scenario_seed(config.tuning.seed, keys))
    except ScenarioError:
        return None
    return _moments(rows.iloc[train], labels[train], config) if np.ptp(labels) > 0 else None  # constant: naive


def _holdout(frame: pd.DataFrame, config: Config,
             seed: int) -> tuple[pd.DataFrame, np.ndarray, list[Any] | None, np.ndarray, np.ndarray]:
    """Rows in canonical order, their labels and classes, and the training and holdout positions."""
    rows = prepare_rows(frame, config, training=True)
    labels, classes = parse_target(rows[config.target], config)
    few = checks.too_few_rows(len(rows), config)
    if few:
        raise ScenarioError(few)
    train, test = holdout_split(rows, method=config.split_method, size=config.split.test_size, target=config.target,
                                seed=seed, min_train_rows=config.split.min_train_rows)
    return rows, labels, classes, train, test


def not_inputs(config: Config) -> list[str]:
    """Columns never read as model inputs: the target, time, keys, sample ids and ``features.drop_columns``."""
    return [config.target, *([config.time_column] if config.time_column else []), *config.scenario_keys,
            *config.sample_id_columns, *config.features.drop_columns]


def _pooled_effect(pooled: PooledEvidence | None, train: pd.DataFrame, labels: np.ndarray,
                   config: Config) -> PooledEffect | None:
    """The slopes of every other scenario (its own moments subtracted), when the config pools and the evidence
    is trusted."""
    if pooled is None or not pools(config) or not pooled.trusted:
        return None
    return PooledEffect(pooled.slopes_without(_moments(train, labels, config))).fit(train)


def _moments(train: pd.DataFrame, labels: np.ndarray, config: Config) -> Moments:
    """The training rows' moments: what the first pass sends, and what a scenario subtracts as its own."""
    return Moments.of(design(train, not_inputs(config)), labels)


def _canonical_order(rows: pd.DataFrame, config: Config) -> np.ndarray:
    """Positions sorting rows by ``split.order_by``, then by a hash of the sample ids (else of the row)."""
    hashed = identity_hashes(rows, config)
    order_by = config.split.order_by
    if order_by is None:
        return np.argsort(hashed, kind="stable")
    if order_by not in rows.columns:
        raise ScenarioError(checks.missing_column("split.order_by", order_by))
    return np.lexsort((hashed, pd.to_datetime(rows[order_by], errors="coerce").to_numpy()))


def identity_hashes(rows: pd.DataFrame, config: Config, *, text_fallback: bool = True) -> np.ndarray:
    """One hash per row, of its sample ids (else of the whole row): a row's own, whatever rows surround it.

    Cells pandas cannot hash (lists, dicts) make every row's hash that of its text (``text_fallback``), else
    raise TypeError.
    """
    ids = [c for c in config.sample_id_columns if c in rows.columns]
    identity = rows[ids] if ids else rows
    try:
        return pd.util.hash_pandas_object(identity, index=False).to_numpy()
    except TypeError:
        if not text_fallback:
            raise
        return pd.util.hash_pandas_object(identity.astype(str), index=False).to_numpy()


def _season(config: Config, rows: pd.DataFrame, folds: list[tuple[np.ndarray, np.ndarray]]) -> int | None:
    """The season length for seasonal naive and lags: configured, else inferred; it must fit the history."""
    if config.time_column is None:
        return None
    configured = config.models.season_length
    season = configured or infer_season_length(rows[config.time_column])
    shortest = min(len(inner) for inner, _ in folds)
    if season is not None and season >= shortest:
        if configured:
            raise ScenarioError(f"models.season_length {configured} is not shorter than the history: the "
                                f"shortest validation fold fits on {shortest} rows")
        return None  # an inferred season longer than the history: no seasonal naive for this scenario
    return season


def _enricher(config: Config, horizon: int, season: int | None, pooled: PooledEffect | None) -> FeatureEnricher:
    """With a time column and no lags configured: target lags from the horizon on, a seasonal lag, a trend."""
    exclude = [*config.scenario_keys, *(c for c in config.sample_id_columns if c != config.time_column)]
    settings = config.features
    defaults = (config.time_column is not None and config.task == "regression"
                and not {"target_lags", "target_windows"} & settings.model_fields_set)
    lags = None
    if defaults:
        lags = [horizon, horizon + 1, horizon + 2]
        if season:
            lags.append(season * -(-horizon // season))  # the first multiple of the season >= the horizon
    return FeatureEnricher(settings, target=config.target, time_column=config.time_column, horizon=horizon,
                           exclude=exclude, target_lags=sorted(set(lags)) if lags else None, trend=defaults,
                           pooled=pooled)


def _transforms(config: Config, labels: np.ndarray, ordered: bool) -> list[str]:
    """Target transforms to try; ``auto`` tries those that can help this scenario."""
    chosen = config.models.target_transform if config.task == "regression" else "none"
    if chosen != "auto":
        return [chosen]
    return ["none", *(["difference"] if ordered else []), *(["log1p"] if labels.min() >= 0 else [])]


@dataclass
class _NaiveHoldout:
    """A naive forecast fitted on the training rows and scored on the holdout."""

    model: Any
    prediction: np.ndarray
    proba: np.ndarray | None
    metrics: dict[str, float]


def _naive_on_holdout(problem: Problem, naive: Any, train: np.ndarray, test: np.ndarray,
                      names: list[str]) -> _NaiveHoldout:
    model = fit(problem, dataclasses.replace(naive), train)
    prediction, proba = predict(problem, model, problem.x[test], steps_after(problem, train, test))
    return _NaiveHoldout(model, prediction, proba, compute_metrics(names, problem.labels[test], prediction, proba))


def _final(problem: Problem, outcome: SearchResult, rows: np.ndarray) -> Any:
    """The chosen model (naive, one family, or the average of the top families) fitted on ``rows``."""
    if not outcome.members:
        return fit(problem, dataclasses.replace(outcome.naive), rows)
    fitted = [fit_member(problem, m, outcome.naive, rows) for m in outcome.members]
    return fitted[0] if len(fitted) == 1 else Ensemble(fitted, problem.n_classes)


def _calibration(problem: Problem, outcome: SearchResult, train: np.ndarray):
    """Calibration of the chosen classifier on its out-of-fold probabilities (never worse than the prior)."""
    probabilities, truth = [], []
    for inner, valid in problem.folds:
        probabilities.append(predict(problem, _final(problem, outcome, inner), problem.x[valid], None)[1])
        truth.append(problem.labels[valid])
    prior = np.bincount(problem.labels[train], minlength=problem.n_classes) / len(train)
    return fit_calibration(np.concatenate(probabilities), np.concatenate(truth), prior)


def _scored(problem: Problem, estimator: Any, train: np.ndarray, test: np.ndarray,
            calibration: Any) -> tuple[np.ndarray, np.ndarray | None]:
    prediction, proba = predict(problem, estimator, problem.x[test], steps_after(problem, train, test))
    if calibration is not None and proba is not None:
        proba = calibration.apply(proba)
        prediction = proba.argmax(axis=1)
    return prediction, proba


def _holdout_frame(rows: pd.DataFrame, config: Config, classes: list[Any] | None, actual: np.ndarray,
                   prediction: np.ndarray, proba: np.ndarray | None, baseline: np.ndarray) -> pd.DataFrame:
    """One row per holdout row: its ids, the actual value, the model's and the baseline's predictions."""
    ids = [c for c in dict.fromkeys([*config.sample_id_columns, *[config.time_column] * bool(config.time_column)])
           if c in rows.columns]
    frame = rows[ids].reset_index(drop=True)
    if classes is None:
        return frame.assign(actual=actual, prediction=prediction, baseline=baseline)
    labels = np.asarray(classes, dtype=object)
    frame = frame.assign(actual=labels[actual], prediction=labels[prediction], baseline=labels[baseline])
    if proba is not None:
        best = proba[np.arange(len(proba)), prediction]
        frame["probability"] = proba[:, -1] if len(labels) == 2 else best
    return frame


def _describe(outcome: SearchResult) -> tuple[str, dict[str, Any]]:
    """``best_family`` and ``best_params`` of the shipped model."""
    if not outcome.members:
        naive = outcome.naive
        return naive.name, ({"season": naive.season} if naive.season else {})
    members = outcome.members
    if len(members) == 1:
        return member_name(members[0]), members[0].params
    return "+".join(member_name(m) for m in members), {m.family: m.params for m in members}

