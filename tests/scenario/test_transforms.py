"""Target transforms: the difference transform extrapolates a trend that trees alone flat-line on."""
from __future__ import annotations

import numpy as np
import pytest

from automl.scenario.families import FAMILIES
from automl.scenario.transforms import Ensemble, TargetModel

HORIZON = 6


def _trend(n: int) -> tuple[np.ndarray, np.ndarray]:
    """A level rising by 2 per period plus a small wiggle; the one feature carries no level information."""
    t = np.arange(n)
    x = np.sin(t / 3.0)[:, None]
    return x, 100.0 + 2.0 * t + x[:, 0]


def _forest() -> object:
    return FAMILIES["random_forest"].build("regression", {"n_estimators": 50, "max_depth": None,
                                                          "min_samples_leaf": 1, "max_features": 1.0}, 1, 0)


def test_difference_extrapolates_a_linear_trend_where_the_plain_forest_flat_lines():
    x, y = _trend(60 + HORIZON)
    steps = np.arange(1, HORIZON + 1)
    plain = TargetModel(_forest(), "none").fit(x[:60], y[:60]).predict(x[60:], steps)
    differenced = TargetModel(_forest(), "difference", HORIZON).fit(x[:60], y[:60]).predict(x[60:], steps)

    assert plain.max() <= y[:60].max()  # a forest never leaves the training range
    assert differenced.min() > y[:60].max()  # the forecast keeps rising with the trend
    np.testing.assert_allclose(differenced, y[60:], atol=2.5)  # the wiggle of the origin is not a feature
    assert np.abs(differenced - y[60:]).mean() < np.abs(plain - y[60:]).mean() / 5


def test_difference_is_horizon_aware_each_step_from_the_last_known_value():
    x, y = _trend(60)
    model = FAMILIES["linear"].build("regression", {"alpha": 1e-6}, 1, 0)
    fitted = TargetModel(model, "difference", HORIZON).fit(x[:, :0] + 0.0, y)  # no feature but the steps
    # A pure trend: step k after the last value is y[-1] + 2k (the wiggle averages out on a line).
    np.testing.assert_allclose(fitted.predict(np.zeros((HORIZON, 0)), np.arange(1, HORIZON + 1)),
                               y[-1] + 2.0 * np.arange(1, HORIZON + 1), atol=1.0)


def test_observe_moves_the_forecast_origin_without_refitting():
    x, y = _trend(60)
    model = TargetModel(FAMILIES["linear"].build("regression", {"alpha": 1e-6}, 1, 0), "difference", 3)
    model.fit(x[:40], y[:40])
    before = model.predict(x[40:41], np.array([1]))[0]
    model.observe(y)
    assert model.predict(x[40:41], np.array([1]))[0] == pytest.approx(before + y[-1] - y[39])


@pytest.mark.parametrize("transform", ["none", "log1p", "standardize"])
def test_transforms_answer_on_the_original_scale(transform):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 2))
    y = np.exp(2 + 0.3 * x[:, 0])
    model = TargetModel(FAMILIES["linear"].build("regression", {"alpha": 1e-3}, 1, 0), transform).fit(x, y)
    assert np.abs(model.predict(x) - y).mean() < 0.2 * y.mean()


def test_an_ensemble_averages_its_members():
    x, y = _trend(30)
    members = [TargetModel(FAMILIES["linear"].build("regression", {"alpha": a}, 1, 0)).fit(x, y) for a in (1, 50)]
    np.testing.assert_allclose(Ensemble(members).predict(x), (members[0].predict(x) + members[1].predict(x)) / 2)
