"""Metrics on hand-computed values, their direction, and NaN for what a holdout cannot define."""
from __future__ import annotations

import math

import numpy as np
import pytest

from automl.scenario.metrics import METRICS, compute_metrics, default_metrics, to_loss

Y = np.array([1.0, 2.0, 3.0, 4.0])
P = np.array([1.0, 2.0, 3.0, 8.0])


def test_regression_metrics_on_known_values():
    metrics = compute_metrics(["rmse", "mae", "wape", "r2"], Y, P)
    assert metrics == pytest.approx({"rmse": 2.0, "mae": 1.0, "wape": 0.4, "r2": 1 - 16 / 5})


def test_perfect_regression():
    assert compute_metrics(["rmse", "r2"], Y, Y) == {"rmse": 0.0, "r2": 1.0}


def test_undefined_regression_metrics_are_nan():
    zeros = np.zeros(3)
    metrics = compute_metrics(["wape", "r2"], zeros, np.ones(3))
    assert math.isnan(metrics["wape"]) and math.isnan(metrics["r2"])


def test_binary_classification_metrics_on_known_values():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])
    prediction = proba.argmax(axis=1)  # [0, 0, 0, 1]
    metrics = compute_metrics(["accuracy", "f1", "roc_auc", "log_loss"], y, prediction, proba)
    expected_log_loss = -np.mean(np.log([0.9, 0.6, 0.35, 0.8]))
    assert metrics == pytest.approx({"accuracy": 0.75, "f1": 2 / 3, "roc_auc": 0.75, "log_loss": expected_log_loss})


def test_multiclass_metrics():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.6, 0.3]])
    metrics = compute_metrics(["accuracy", "f1", "roc_auc"], y, proba.argmax(axis=1), proba)
    assert metrics["accuracy"] == 0.75
    assert metrics["f1"] == pytest.approx(np.mean([1.0, 2 / 3, 2 / 3]))  # macro over the three classes
    assert metrics["roc_auc"] == pytest.approx(1.0)


def test_roc_auc_of_a_single_class_holdout_is_nan():
    one_class = np.array([1, 1, 1])
    proba = np.array([[0.2, 0.8]] * 3)
    assert math.isnan(compute_metrics(["roc_auc"], one_class, np.ones(3, dtype=int), proba)["roc_auc"])


def test_multiclass_roc_auc_is_sklearns_one_vs_rest_macro():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = np.tile([0, 1, 2, 3], 10)
    proba = rng.dirichlet(np.ones(4), size=len(y))
    expected = roc_auc_score(y, proba, multi_class="ovr", average="macro")
    assert compute_metrics(["roc_auc"], y, proba.argmax(axis=1), proba)["roc_auc"] == pytest.approx(expected)


def test_multiclass_roc_auc_averages_the_classes_present():
    y = np.array([0, 1, 0, 1])  # class 2 is absent from this small holdout
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    # class 0: positives score .7, .6 against .2, .5 -> 1.0; class 1: .7, .4 against .2, .3 -> 1.0
    assert compute_metrics(["roc_auc"], y, proba.argmax(axis=1), proba)["roc_auc"] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["roc_auc", "log_loss"])
def test_probability_metrics_without_probabilities_are_nan(name):
    y = np.array([0, 1, 0, 1])
    assert math.isnan(compute_metrics([name], y, y)[name])


@pytest.mark.parametrize(("name", "value", "loss"), [
    ("rmse", 2.0, 2.0), ("mae", 1.0, 1.0), ("wape", 0.3, 0.3), ("log_loss", 0.4, 0.4),
    ("r2", 0.5, -0.5), ("accuracy", 0.9, -0.9), ("f1", 0.7, -0.7), ("roc_auc", 0.8, -0.8),
])
def test_to_loss_makes_lower_better(name, value, loss):
    assert to_loss(name, value) == loss


@pytest.mark.parametrize("name", sorted(METRICS))
def test_nan_is_the_worst_loss(name):
    assert to_loss(name, float("nan")) == math.inf


def test_default_metrics_belong_to_their_task():
    for task in ("regression", "classification"):
        names = default_metrics(task)
        assert names and all(METRICS[name].task == task for name in names)
    assert default_metrics("regression")[0] == "rmse"
    assert default_metrics("classification")[0] == "roc_auc"
