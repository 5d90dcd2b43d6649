"""Calibrated probabilities are never worse than the class prior on the rows they were fitted on."""
from __future__ import annotations

import numpy as np
import pytest

from automl.scenario.calibration import Calibration, fit_calibration
from automl.scenario.metrics import compute_metrics


def _log_loss(proba, labels):
    return compute_metrics(["log_loss"], labels, proba.argmax(axis=1), proba)["log_loss"]


def test_overconfident_noise_falls_back_to_the_prior():
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.3).astype(int)
    positive = rng.choice([0.01, 0.99], 300)  # confident and unrelated to the labels
    proba = np.column_stack([1 - positive, positive])
    prior = np.bincount(labels) / len(labels)

    calibration = fit_calibration(proba, labels, prior)
    calibrated = calibration.apply(proba)

    prior_loss = _log_loss(np.tile(prior, (300, 1)), labels)
    assert _log_loss(proba, labels) > 2 * prior_loss
    assert _log_loss(calibrated, labels) <= prior_loss + 1e-9


def test_informative_but_overconfident_scores_keep_their_ranking_and_improve():
    rng = np.random.default_rng(1)
    score = rng.normal(size=400)
    labels = (score + rng.normal(scale=1.0, size=400) > 0).astype(int)
    positive = 1 / (1 + np.exp(-8 * score))  # right direction, far too sharp
    proba = np.column_stack([1 - positive, positive])

    calibration = fit_calibration(proba, labels, np.bincount(labels) / 400)
    calibrated = calibration.apply(proba)

    assert _log_loss(calibrated, labels) < _log_loss(proba, labels)
    assert calibration.weight > 0.5
    auc = [compute_metrics(["roc_auc"], labels, labels, p)["roc_auc"] for p in (proba, calibrated)]
    assert auc[1] == pytest.approx(auc[0], abs=1e-3)  # monotone: the ranking stays (up to clipped extremes)


def test_multiclass_blends_with_the_prior_and_rows_sum_to_one():
    proba = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]] * 20)
    labels = np.array([1, 2, 0] * 20)  # always wrong
    calibration = fit_calibration(proba, labels, np.array([1 / 3] * 3))
    calibrated = calibration.apply(proba)
    assert calibration.weight == 0.0
    np.testing.assert_allclose(calibrated.sum(axis=1), 1.0)


def test_an_identity_calibration_changes_nothing():
    proba = np.array([[0.2, 0.8], [0.6, 0.4]])
    np.testing.assert_allclose(Calibration((0.5, 0.5)).apply(proba), proba)
