"""Holdout splits: tail for time, seeded and class-balanced otherwise, a clear error when rows run out."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.errors import ScenarioError
from automl.scenario.split import holdout_rows, holdout_split, validation_folds


def _labels(n_a: int, n_b: int) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n_a + n_b), "y": ["a"] * n_a + ["b"] * n_b})


@pytest.mark.parametrize(("size", "n_rows", "expected"), [(8, 100, 8), (0.2, 100, 20), (0.01, 10, 1), (0.25, 10, 3)])
def test_holdout_rows_from_count_or_fraction(size, n_rows, expected):
    assert holdout_rows(size, n_rows) == expected


def test_time_split_takes_the_tail():
    frame = pd.DataFrame({"y": np.arange(30.0)})
    train, test = holdout_split(frame, method="time", size=5, target="y", seed=0, min_train_rows=10)
    np.testing.assert_array_equal(train, np.arange(25))
    np.testing.assert_array_equal(test, np.arange(25, 30))


@pytest.mark.parametrize("method", ["random", "stratified"])
def test_random_splits_partition_the_rows_and_depend_only_on_the_seed(method):
    frame = _labels(30, 30)
    first = holdout_split(frame, method=method, size=0.25, target="y", seed=7, min_train_rows=5)
    again = holdout_split(frame, method=method, size=0.25, target="y", seed=7, min_train_rows=5)
    other = holdout_split(frame, method=method, size=0.25, target="y", seed=8, min_train_rows=5)

    train, test = first
    assert len(test) == 15
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(60))
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[1], other[1])


def test_stratified_keeps_the_class_balance():
    frame = _labels(80, 20)
    train, test = holdout_split(frame, method="stratified", size=0.2, target="y", seed=3, min_train_rows=5)
    assert frame.loc[test, "y"].value_counts().to_dict() == {"a": 16, "b": 4}
    assert frame.loc[train, "y"].value_counts().to_dict() == {"a": 64, "b": 16}


@pytest.mark.parametrize("size", [5, 8, 0.3])
def test_stratified_holdout_has_exactly_the_requested_rows(size):
    frame = pd.DataFrame({"y": ["a"] * 7 + ["b"] * 7 + ["c"] * 6})  # per-class rounding would give 6 for size 5
    train, test = holdout_split(frame, method="stratified", size=size, target="y", seed=0, min_train_rows=5)
    assert len(test) == holdout_rows(size, 20) and len(train) == 20 - len(test)
    assert set(frame.loc[test, "y"]) == set(frame.loc[train, "y"]) == {"a", "b", "c"}


def test_random_split_keeps_both_classes_on_balanced_data():
    frame = _labels(50, 50)
    _, test = holdout_split(frame, method="random", size=0.3, target="y", seed=1, min_train_rows=5)
    share = (frame.loc[test, "y"] == "a").mean()
    assert 0.2 < share < 0.8


def test_stratified_with_a_singleton_class_falls_back_to_random():
    frame = _labels(19, 1)
    train, test = holdout_split(frame, method="stratified", size=0.25, target="y", seed=0, min_train_rows=5)
    assert len(test) == 5 and len(train) == 15


def test_too_few_rows():
    frame = pd.DataFrame({"y": np.arange(12.0)})
    with pytest.raises(ScenarioError, match=r"too few rows: 12 rows cannot hold a holdout of 8 and 10 rows to "
                                            r"train on"):
        holdout_split(frame, method="time", size=8, target="y", seed=0, min_train_rows=10)


def test_holdout_larger_than_the_frame():
    frame = pd.DataFrame({"y": np.arange(5.0)})
    with pytest.raises(ScenarioError, match="too few rows: 5 rows cannot hold a holdout of 8 and 1 rows") as caught:
        holdout_split(frame, method="random", size=8, target="y", seed=0, min_train_rows=1)
    assert "-" not in str(caught.value)  # never "leave -3 for training"


def test_time_validation_folds_are_rolling_origins_back_from_the_end():
    frame = pd.DataFrame({"y": range(40)})
    folds = validation_folds(frame, method="time", size=5, folds=3, target="y", seed=0, min_train_rows=10)
    assert [(len(fit), list(valid)) for fit, valid in folds] == [
        (35, list(range(35, 40))), (30, list(range(30, 35))), (25, list(range(25, 30)))]
    assert all(fit.max() < valid.min() for fit, valid in folds)


def test_time_validation_folds_stop_before_too_little_history():
    frame = pd.DataFrame({"y": range(22)})
    folds = validation_folds(frame, method="time", size=5, folds=3, target="y", seed=0, min_train_rows=10)
    assert len(folds) == 2
    with pytest.raises(ScenarioError, match="too few rows to validate"):
        validation_folds(frame.head(12), method="time", size=5, folds=3, target="y", seed=0, min_train_rows=10)


def test_random_validation_folds_differ_and_repeat_for_a_seed():
    frame = pd.DataFrame({"y": range(50)})
    first = validation_folds(frame, method="random", size=0.2, folds=3, target="y", seed=1, min_train_rows=10)
    again = validation_folds(frame, method="random", size=0.2, folds=3, target="y", seed=1, min_train_rows=10)
    assert len({tuple(valid) for _, valid in first}) == 3
    assert all((a[1] == b[1]).all() for a, b in zip(first, again))


@pytest.mark.parametrize("method", ["random", "stratified"])
def test_random_validation_folds_are_disjoint_parts_of_the_training_rows(method):
    frame = pd.DataFrame({"y": np.arange(50) % 2})
    folds = validation_folds(frame, method=method, size=0.2, folds=3, target="y", seed=4, min_train_rows=10)
    valid = [set(v.tolist()) for _, v in folds]
    assert len(folds) == 3 and all(len(v) == 10 for v in valid)
    assert not (valid[0] & valid[1]) and not (valid[0] & valid[2]) and not (valid[1] & valid[2])
    for fit_rows, valid_rows in folds:
        assert sorted([*fit_rows, *valid_rows]) == list(range(50))
    if method == "stratified":
        assert all(frame["y"].iloc[list(v)].sum() == 5 for v in valid)


def test_random_validation_needs_rows_to_fit_on():
    with pytest.raises(ScenarioError, match="too few rows to validate"):
        validation_folds(pd.DataFrame({"y": range(12)}), method="random", size=0.2, folds=3, target="y", seed=0,
                         min_train_rows=11)
