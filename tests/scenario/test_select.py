"""select_features: uninformative columns always go, then at most max_features, in the original order."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.scenario.select import select_features


def _frame(n_rows: int = 100, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = pd.DataFrame({
        "noise_a": rng.normal(size=n_rows),
        "signal": rng.normal(size=n_rows),
        "constant": 1.0,
        "empty": np.nan,
        "one_value_and_nans": np.where(np.arange(n_rows) % 2 == 0, 3.0, np.nan),
        "noise_b": rng.normal(size=n_rows),
        "weak": rng.normal(size=n_rows),
    })
    features.loc[::7, "signal"] = np.nan  # selectors must cope with missing values
    signal, weak = features["signal"].fillna(0).to_numpy(), features["weak"].to_numpy()
    target = 3 * signal + 2 * weak + rng.normal(0, 0.1, n_rows)
    return features, target


def _select(features, target, **kwargs):
    options = {"task": "regression", "method": "importance", "max_features": 10, "seed": 0, "threads": 1}
    return select_features(features, target, **{**options, **kwargs})


@pytest.mark.parametrize("method", ["importance", "mutual_info", "none"])
def test_constant_and_empty_columns_are_always_dropped(method):
    features, target = _frame()
    assert _select(features, target, method=method) == ["noise_a", "signal", "noise_b", "weak"]


@pytest.mark.parametrize("method", ["importance", "mutual_info"])
def test_at_most_max_features_keeping_the_strongest_in_original_order(method):
    features, target = _frame()
    selected = _select(features, target, method=method, max_features=2)
    assert selected == ["signal", "weak"]


def test_classification_target():
    features, target = _frame()
    selected = _select(features, (target > 0).astype(int), task="classification", max_features=1)
    assert selected == ["signal"]


def test_selection_is_deterministic_for_a_seed():
    features, target = _frame(seed=3)
    runs = [_select(features, target, max_features=3, seed=11) for _ in range(2)]
    assert runs[0] == runs[1] and len(runs[0]) == 3


def test_nothing_informative_gives_an_empty_list():
    assert _select(pd.DataFrame({"a": [1.0] * 5, "b": [np.nan] * 5}), np.arange(5.0)) == []
