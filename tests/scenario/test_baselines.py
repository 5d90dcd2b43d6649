"""Naive forecasts: each kind's arithmetic, forecasting after observing the history, and season inference."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.scenario.baselines import NaiveModel, infer_season_length, naive_candidates

HISTORY = np.array([1.0, 2.0, 4.0, 3.0, 5.0, 6.0, 8.0, 7.0])


@pytest.mark.parametrize(("model", "expected"), [
    (NaiveModel("last"), [7.0, 7.0, 7.0]),
    (NaiveModel("seasonal", season=4), [5.0, 6.0, 8.0]),  # the same position one season back
    (NaiveModel("window", season=2), [7.5, 7.5, 7.5]),
    (NaiveModel("mean"), [4.5, 4.5, 4.5]),
    (NaiveModel("median"), [4.5, 4.5, 4.5]),
])
def test_each_naive_forecast(model, expected):
    forecast = model.fit(None, HISTORY).predict(np.zeros((3, 1)), np.array([1, 2, 3]))
    np.testing.assert_allclose(forecast, expected)


def test_seasonal_naive_repeats_the_last_season_beyond_it():
    model = NaiveModel("seasonal", season=3).fit(None, HISTORY)
    np.testing.assert_array_equal(model.predict(np.zeros((7, 1)), np.arange(1, 8)), [6, 8, 7, 6, 8, 7, 6])


def test_observe_moves_the_origin_to_the_latest_history():
    model = NaiveModel("last").fit(None, HISTORY[:4])
    model.observe(HISTORY)
    assert model.predict(np.zeros((1, 1)), np.array([1]))[0] == 7.0


def test_the_class_prior_answers_the_training_frequencies():
    model = NaiveModel("prior", n_classes=3).fit(None, np.array([0, 0, 1, 0]))
    np.testing.assert_allclose(model.predict_proba(np.zeros((2, 1))), [[0.75, 0.25, 0.0]] * 2)
    assert model.predict(np.zeros((2, 1))).tolist() == [0, 0]
    assert model.classes_.tolist() == [0, 1, 2]


def test_candidates_by_kind_of_data():
    names = lambda models: [m.name for m in models]  # noqa: E731
    assert names(naive_candidates("regression", time_indexed=True, ordered=True, season=12, window=12)) == [
        "damped_trend", "theta", "naive_last", "naive_seasonal", "naive_window"]  # first: the default to beat
    assert names(naive_candidates("regression", time_indexed=True, ordered=True, season=None, window=5)) == [
        "damped_trend", "theta", "naive_last", "naive_window"]
    assert names(naive_candidates("regression", time_indexed=False, ordered=True, season=None, window=5)) == [
        "naive_mean", "naive_median", "naive_window"]
    assert names(naive_candidates("regression", time_indexed=False, ordered=False, season=None, window=1)) == [
        "naive_mean", "naive_median"]
    assert names(naive_candidates("classification", time_indexed=True, ordered=True, season=7, window=7,
                                  n_classes=2)) == ["naive_prior"]


def test_too_few_validation_rows_leave_only_the_simplest_forecast():
    names = lambda models: [m.name for m in models]  # noqa: E731
    assert names(naive_candidates("regression", time_indexed=True, ordered=True, season=12, window=12,
                                  validated=False)) == ["naive_last"]
    assert names(naive_candidates("regression", time_indexed=False, ordered=False, season=None, window=1,
                                  validated=False)) == ["naive_mean"]


def test_the_damped_trend_keeps_a_constant_series_constant():
    forecast = NaiveModel("damped").fit(None, np.full(12, 5.0)).predict(np.zeros((4, 1)), np.arange(1, 5))
    np.testing.assert_allclose(forecast, 5.0)


def test_the_damped_trend_follows_a_trend_ever_more_slowly():
    trend = 2.0 + 3.0 * np.arange(20)  # last value 59
    steps = np.array([1, 2, 3, 10, 100, 10_000])
    forecast = NaiveModel("damped").fit(None, trend).predict(np.zeros((6, 1)), steps)
    line = 59.0 + 3.0 * steps
    assert (np.diff(forecast) > 0).all() and (forecast > 59.0).all() and (forecast < line).all()
    gains = np.diff(NaiveModel("damped").fit(None, trend).predict(np.zeros((30, 1)), np.arange(1, 31)))
    assert (np.diff(gains) < 0).all()  # damped: each period adds less than the one before
    assert forecast[-1] < 59.0 + 0.5 * 3.0 * 0.98 / (1 - 0.98) + 1e-6  # bounded by the strongest damping's sum


def test_the_damped_trend_averages_the_seasonal_level_with_the_last_value():
    factors = np.array([0.8, 1.2, 1.1, 0.9])
    history = 10.0 * np.tile(factors, 3)[:-1]  # level 10, no trend; ends on the 1.1 position: last value 11
    model = NaiveModel("damped", season=4).fit(None, history)
    np.testing.assert_allclose(model.predict(np.zeros((5, 1)), np.arange(1, 6)),
                               0.5 * 10.0 * factors[[3, 0, 1, 2, 3]] + 0.5 * 11.0)


def test_theta_continues_a_trend_at_half_its_slope():
    trend = 2.0 + 3.0 * np.arange(20)  # SES follows it exactly (weight 1): the level is the last value
    forecast = NaiveModel("theta").fit(None, trend).predict(np.zeros((3, 1)), np.array([1, 2, 3]))
    np.testing.assert_allclose(forecast, [59.0 + 1.5, 59.0 + 3.0, 59.0 + 4.5])


def test_theta_carries_the_season_of_positive_data_forward():
    factors = np.array([0.8, 1.2, 1.1, 0.9])
    history = 10.0 * np.tile(factors, 3)  # three seasons, no trend
    model = NaiveModel("theta", season=4).fit(None, history[:-1])  # ends one period into a season
    np.testing.assert_allclose(model.predict(np.zeros((5, 1)), np.arange(1, 6)), 10.0 * factors[[3, 0, 1, 2, 3]])


def test_theta_without_a_usable_season_is_not_seasonal():
    history = np.array([0.0, 4.0, 2.0, 0.0, 4.0, 2.0, 0.0, 4.0, 2.0])  # a zero: no multiplicative factors
    forecast = NaiveModel("theta", season=3).fit(None, history).predict(np.zeros((3, 1)), np.array([1, 2, 3]))
    assert np.ptp(np.diff(forecast)) < 1e-9  # a straight line, not the 0-4-2 pattern


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown naive forecast 'drift'"):
        NaiveModel("drift")


@pytest.mark.parametrize(("freq", "season"), [("h", 24), ("D", 7), ("W-MON", 52), ("MS", 12), ("QS", 4),
                                              ("YS", None)])
def test_season_length_from_the_time_column_frequency(freq, season):
    assert infer_season_length(pd.Series(pd.date_range("2020-01-01", periods=30, freq=freq))) == season


def test_irregular_or_tiny_time_columns_have_no_season():
    assert infer_season_length(pd.Series(pd.to_datetime(["2020-01-01", "2020-01-02"]))) is None
    irregular = pd.Series(pd.to_datetime(["2020-01-01", "2020-01-04", "2020-01-09", "2020-01-20"]))
    assert infer_season_length(irregular) is None
