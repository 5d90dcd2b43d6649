"""Seeded synthetic run outputs shaped like the demand demo's: results, holdout, predictions, manifest.

They follow the report's input contract (see ``automl.report``), so tests and the scale benchmark exercise
the builder on realistic columns without training thousands of models. Scenario ``i`` has keys
``store_id = i // 100 + 1`` and ``item_id = i % 100 + 1``.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["FEATURES", "STEPS", "predict_inputs", "train_inputs"]

STEPS = ("split", "features", "select", "tune", "refit", "evaluate", "publish")
FEATURES = ["promo_depth", "log_price", "season_sin", "season_cos", "weeks_elapsed", "MONTH(week)",
            "WEEK(week)", "units_lag_8", "units_lag_13", "units_lag_52", "units_mean_4", "units_mean_13",
            "on_promo", "discount_pct", "price", "store_size_sqm", "store_type = large", "holiday",
            "units_lag_8 / price", "region = north", "region = south", "temperature"]
FAMILIES = ("lightgbm", "random_forest", "linear")
HOLDOUT_START = "2023-11-06"  # a Monday: weekly rows like the demand demo's


def _keys(n: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n)
    return i // 100 + 1, i % 100 + 1


def train_inputs(n_scenarios: int = 20, *, holdout_rows: int = 8, task: str = "regression", n_failed: int = 1,
                 n_skipped: int = 1, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(results, holdout, manifest) of a training run; the last scenarios fail or are skipped."""
    rng = np.random.default_rng(seed)
    store, item = _keys(n_scenarios)
    ids = [f"s{i:06d}" for i in range(n_scenarios)]
    weeks = pd.date_range(HOLDOUT_START, periods=holdout_rows, freq="W-MON")
    level = rng.uniform(20, 400, n_scenarios)[:, None]
    season = 1 + 0.25 * np.sin(np.arange(holdout_rows) / 3 + rng.uniform(0, 6, n_scenarios)[:, None])
    actual = (level * season * rng.normal(1, 0.08, (n_scenarios, holdout_rows))).round(2)
    noise = rng.uniform(0.02, 0.3, (n_scenarios, 1))  # some scenarios are hard: the baseline beats them
    prediction = actual * (1 + noise * rng.standard_normal(actual.shape))
    baseline = np.repeat(actual[:, :1] * rng.normal(1, 0.2, (n_scenarios, 1)), holdout_rows, axis=1)
    status = np.array(["ok"] * n_scenarios, dtype=object)
    status[n_scenarios - n_failed - n_skipped:n_scenarios - n_skipped] = "failed"
    status[n_scenarios - n_skipped:] = "skipped"
    ok = status == "ok"

    if task == "classification":
        probability = rng.uniform(0, 1, actual.shape).round(4)
        truth = np.where(rng.uniform(0, 1, actual.shape) < probability, "yes", "no")
        holdout_values = {"actual": truth.ravel(), "prediction": np.where(probability > 0.5, "yes", "no").ravel(),
                          "baseline": np.full(truth.size, "no"), "probability": probability.ravel()}
        score = np.array([np.mean((p > 0.5) == (t == "yes")) for p, t in zip(probability, truth)])
        baseline_score = np.array([np.mean(t == "no") for t in truth])
        metrics = {"metric_accuracy": score}
        primary = "accuracy"
    else:
        holdout_values = {"actual": actual.ravel(), "prediction": prediction.round(3).ravel(),
                          "baseline": baseline.round(3).ravel()}
        score = np.sqrt(((actual - prediction) ** 2).mean(axis=1))
        baseline_score = np.sqrt(((actual - baseline) ** 2).mean(axis=1))
        metrics = {"metric_rmse": score, "metric_mae": np.abs(actual - prediction).mean(axis=1),
                   "metric_wape": np.abs(actual - prediction).sum(axis=1) / np.abs(actual).sum(axis=1)}
        primary = "rmse"
    better = score > baseline_score if task == "classification" else score < baseline_score
    worse = (0.7, 0.98) if task == "classification" else (1.02, 1.3)  # the chosen family leads the leaderboard

    family = rng.choice(FAMILIES, n_scenarios, p=[0.6, 0.3, 0.1])
    steps = {f"seconds_{s}": rng.gamma(2.0, scale, n_scenarios).round(3)
             for s, scale in zip(STEPS, (0.01, 0.2, 0.1, 1.5, 0.2, 0.05, 0.3))}
    results = pd.DataFrame({
        "store_id": store, "item_id": item, "scenario_id": ids, "run_id": "run-synthetic",
        "status": status,
        "error": np.where(status == "failed", "ValueError: Input contains NaN in column 'price'",
                          np.where(status == "skipped", "only 12 training rows (< split.min_train_rows = 20)", "")),
        "error_type": np.where(status == "failed", "ValueError", np.where(status == "skipped", "ScenarioError", "")),
        "primary_metric": primary,
        "score": np.where(ok, score, np.nan), "baseline_score": np.where(ok, baseline_score, np.nan),
        "beats_baseline": pd.array(np.where(ok, better, None), dtype="boolean"),
        **{name: np.where(ok, values, np.nan) for name, values in metrics.items()},
        "best_family": np.where(ok, family, None),
        "best_params": [json.dumps(_params(f, rng)) if o else None for f, o in zip(family, ok)],
        "leaderboard": [json.dumps({f: round(float(s * (1.0 if f == best else rng.uniform(*worse))), 4)
                                    for f in FAMILIES}) if o else None for s, best, o in zip(score, family, ok)],
        "importances": [json.dumps(_importances(rng)) if o else None for o in ok],
        "selected_features": [list(rng.choice(FEATURES, 12, replace=False)) if o else None for o in ok],
        "n_rows": rng.integers(100, 160, n_scenarios),
        **steps,
        "seconds_total": np.sum(list(steps.values()), axis=0).round(3),
        "peak_memory_mb": rng.normal(240, 30, n_scenarios).round(1),
    })
    holdout = pd.DataFrame({
        "store_id": np.repeat(store, holdout_rows), "item_id": np.repeat(item, holdout_rows),
        "scenario_id": np.repeat(ids, holdout_rows), "week": np.tile(weeks, n_scenarios), **holdout_values})
    holdout = holdout[np.repeat(ok, holdout_rows)].reset_index(drop=True)
    counts = {s: int((status == s).sum()) for s in ("ok", "failed", "skipped")}
    manifest = {"use_case": "demand", "run_id": "run-synthetic", "kind": "train",
                "data_fingerprint": "9f2c4e1b7a3d5f60", "status": "succeeded", "counts": counts,
                "started_at": "2024-06-03T08:00:00+00:00", "finished_at": "2024-06-03T08:00:31+00:00",
                "wall_seconds": 31.4, "tracking_uri": "sqlite:///output/demand/mlflow.db"}
    return results, holdout, manifest


def _params(family: str, rng: np.random.Generator) -> dict[str, Any]:
    if family == "lightgbm":
        return {"learning_rate": round(float(rng.uniform(0.01, 0.3)), 4), "num_leaves": int(rng.integers(8, 64)),
                "min_child_samples": int(rng.integers(5, 40)), "n_estimators": int(rng.integers(50, 400))}
    if family == "random_forest":
        return {"n_estimators": int(rng.integers(50, 300)), "max_depth": int(rng.integers(3, 16)),
                "max_features": round(float(rng.uniform(0.3, 1.0)), 3)}
    return {"alpha": round(float(rng.uniform(1e-4, 10)), 5), "l1_ratio": round(float(rng.uniform(0, 1)), 3)}


def _importances(rng: np.random.Generator) -> dict[str, float]:
    names = rng.choice(FEATURES, 20, replace=False)
    values = np.sort(rng.exponential(1.0, 20))[::-1]
    return {str(n): round(float(v / values.sum()), 5) for n, v in zip(names, values)}


def predict_inputs(n_scenarios: int = 20, *, horizon: int = 8, n_failed: int = 1, seed: int = 0
                   ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(predictions, history, manifest) of a prediction run: forecasts follow the history's last week."""
    rng = np.random.default_rng(seed)
    store, item = _keys(n_scenarios)
    history_weeks = pd.date_range("2021-01-04", periods=60, freq="W-MON")
    future = pd.date_range(history_weeks[-1] + pd.Timedelta(weeks=1), periods=horizon, freq="W-MON")
    level = rng.uniform(20, 400, n_scenarios)
    history = pd.DataFrame({
        "store_id": np.repeat(store, len(history_weeks)), "item_id": np.repeat(item, len(history_weeks)),
        "week": np.tile(history_weeks, n_scenarios),
        "actual": (np.repeat(level, len(history_weeks)) * rng.normal(1, 0.1, n_scenarios * len(history_weeks)))
        .round(2)})
    failed = np.arange(n_scenarios) >= n_scenarios - n_failed
    predictions = pd.DataFrame({
        "store_id": np.repeat(store, horizon), "item_id": np.repeat(item, horizon),
        "week": np.tile(future, n_scenarios),
        "prediction": np.where(np.repeat(failed, horizon), np.nan,
                               (np.repeat(level, horizon) * rng.normal(1, 0.05, n_scenarios * horizon)).round(2)),
        "model_run_id": "model-run-1",
        "error": np.where(np.repeat(failed, horizon), "no model for this scenario in run run-synthetic", ""),
    })
    manifest = {"use_case": "demand", "run_id": "predict-synthetic", "kind": "predict", "status": "succeeded",
                "counts": {"scored": int((~failed).sum()), "failed": int(failed.sum())},
                "training_run_id": "run-synthetic", "wall_seconds": 11.2,
                "started_at": "2024-06-03T09:00:00+00:00", "finished_at": "2024-06-03T09:00:11+00:00"}
    return predictions, history, manifest
