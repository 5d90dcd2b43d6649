"""FeatureEnricher: no target leakage across the horizon, history for future rows, stable encodings."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.config import FeaturesConfig
from automl.scenario.features import FeatureEnricher

N_WEEKS, HORIZON = 30, 6
LAG_6, LAG_7 = "LAG(units, week, periods=6)", "LAG(units, week, periods=7)"
WINDOW_3 = "ROLLING_MEAN(week, units, window_length=3, gap=6)"


def _jumping_frame() -> pd.DataFrame:
    """Training targets 0..23, then the holdout's targets jump to 1000+: any leak shows as a value >= 1000."""
    position = np.arange(N_WEEKS)
    return pd.DataFrame({
        "store": 1,
        "week": pd.date_range("2021-01-04", periods=N_WEEKS, freq="W-MON"),
        "price": np.linspace(1.0, 2.0, N_WEEKS),
        "units": np.where(position < N_WEEKS - HORIZON, position, 1000.0 + position),
    })


def _enricher(**settings) -> FeatureEnricher:
    return FeatureEnricher(FeaturesConfig(**settings), target="units", time_column="week", horizon=HORIZON,
                           exclude=["store"])


def test_target_lags_and_windows_of_holdout_rows_only_see_training_targets():
    frame = _jumping_frame()
    n_train = N_WEEKS - HORIZON
    enricher = _enricher(target_lags=[6, 7], target_windows=[3]).fit(frame.iloc[:n_train])

    features = enricher.transform(frame)

    assert list(features.columns) == ["price", LAG_6, LAG_7, WINDOW_3]
    holdout = features.iloc[n_train:]
    assert (holdout[[LAG_6, LAG_7, WINDOW_3]] < 1000).all().all()
    units = frame["units"].to_numpy()
    for t in range(n_train, N_WEEKS):
        assert holdout.loc[t, LAG_6] == units[t - 6]
        assert holdout.loc[t, LAG_7] == units[t - 7]
        assert holdout.loc[t, WINDOW_3] == pytest.approx(units[t - 8: t - 5].mean())


def test_target_and_time_are_never_features_and_identifiers_are_dropped():
    frame = _jumping_frame().assign(batch="x")
    enricher = FeatureEnricher(FeaturesConfig(trans_primitives=["month"], drop_columns=["batch"]), target="units",
                               time_column="week", horizon=1, exclude=["store"]).fit(frame)

    columns = list(enricher.transform(frame).columns)

    assert columns == ["price", "MONTH(week)"]
    assert enricher.raw_columns_ == ["week", "price", "units"]


def test_features_are_float_and_aligned_with_the_input_index():
    frame = _jumping_frame()
    frame.index = frame.index + 100
    features = _enricher(target_lags=[6]).fit(frame).transform(frame)
    assert features.index.equals(frame.index)
    assert (features.dtypes == "float64").all()


def test_remembered_history_gives_future_rows_their_lags():
    frame = _jumping_frame()
    enricher = _enricher(target_lags=[6], target_windows=[3]).fit(frame)
    enricher.remember_history(frame)
    future = pd.DataFrame({"store": 1, "price": 1.5, "week": pd.date_range(
        frame["week"].iloc[-1] + pd.Timedelta(weeks=1), periods=HORIZON, freq="W-MON")})

    features = enricher.transform(future, with_history=True)

    units = frame["units"].to_numpy()
    np.testing.assert_array_equal(features[LAG_6].to_numpy(), units[-6:])  # week N+k looks back to N+k-6
    assert features[WINDOW_3].iloc[0] == pytest.approx(units[-8:-5].mean())
    assert features[[LAG_6, WINDOW_3]].notna().all().all()


def test_without_history_future_rows_have_no_lags():
    frame = _jumping_frame()
    enricher = _enricher(target_lags=[6]).fit(frame)
    future = frame.tail(HORIZON).drop(columns="units")
    assert enricher.transform(future)[LAG_6].isna().all()


def test_history_is_empty_without_a_time_column():
    frame = _jumping_frame().drop(columns="week")
    enricher = FeatureEnricher(FeaturesConfig(), target="units", time_column=None, horizon=1, exclude=[]).fit(frame)
    enricher.remember_history(frame)
    assert enricher.history_.empty


def test_categories_unseen_at_fit_become_nan():
    train = pd.DataFrame({"region": ["north", "south", "north"], "size": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})
    enricher = FeatureEnricher(FeaturesConfig(), target="y", time_column=None, horizon=1, exclude=[]).fit(train)

    new = pd.DataFrame({"region": ["south", "east", None], "size": [4.0, 5.0, 6.0]})
    features = enricher.transform(new)

    assert list(features.columns) == ["region", "size"]
    np.testing.assert_array_equal(features["region"].to_numpy(), [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(features["size"].to_numpy(), [4.0, 5.0, 6.0])


def test_numeric_strings_and_booleans_stay_numbers():
    train = pd.DataFrame({"code": ["1", "2", "10"], "flag": [True, False, True], "y": [1.0, 2.0, 3.0]})
    enricher = FeatureEnricher(FeaturesConfig(), target="y", time_column=None, horizon=1, exclude=[]).fit(train)
    features = enricher.transform(pd.DataFrame({"code": ["7"], "flag": [False]}))
    assert features.iloc[0].tolist() == [7.0, 0.0]


def test_disabled_featuretools_keeps_the_raw_columns():
    frame = _jumping_frame()
    enricher = FeatureEnricher(FeaturesConfig(enabled=False, target_lags=[6]), target="units", time_column="week",
                               horizon=HORIZON, exclude=["store"]).fit(frame)
    assert list(enricher.transform(frame).columns) == ["price"]


def test_ratios_over_zero_become_missing_not_infinite():
    frame = pd.DataFrame({"calls": [0.0, 2.0, 4.0, 0.0] * 5, "minutes": [10.0, 20.0, 0.0, 5.0] * 5,
                          "y": [0, 1] * 10})
    enricher = FeatureEnricher(FeaturesConfig(trans_primitives=["divide_numeric"]), target="y", time_column=None,
                               horizon=1, exclude=[]).fit(frame)
    features = enricher.transform(frame)
    ratio = features["minutes / calls"]
    assert not np.isinf(features.to_numpy()).any()
    assert ratio.isna().tolist()[:4] == [True, False, False, True] and ratio[1] == 10.0


def test_a_covariate_that_stops_being_reported_keeps_its_latest_value():
    frame = _jumping_frame()
    frame.loc[20:, "price"] = np.nan  # reported until week 20, then missing
    frame.loc[3, "price"] = np.nan  # a gap in the middle takes the value before it
    enricher = _enricher(target_lags=[6]).fit(frame.iloc[:24])

    features = enricher.transform(frame)

    price = frame["price"].to_numpy()
    assert (features["price"].iloc[20:] == price[19]).all()
    assert features.loc[3, "price"] == price[2]
    assert features.loc[0, "price"] == price[0]  # nothing earlier to fill from: rows keep their own values

    enricher.remember_history(frame.iloc[:24])
    future = pd.DataFrame({"store": 1, "week": pd.date_range(frame["week"].iloc[-1], periods=3, freq="W-MON")[1:],
                           "price": np.nan})
    assert (enricher.transform(future, with_history=True)["price"] == price[19]).all()  # from the history


def test_without_a_time_column_missing_covariates_stay_missing():
    frame = _jumping_frame().drop(columns="week")
    frame.loc[20:, "price"] = np.nan
    enricher = FeatureEnricher(FeaturesConfig(), target="units", time_column=None, horizon=1,
                               exclude=["store"]).fit(frame)
    assert enricher.transform(frame)["price"].iloc[20:].isna().all()  # no order: nothing is "the latest"
