"""Every "cannot model" reason, worded once for the pipeline and the Spark-side pre-check."""
from __future__ import annotations

import pytest

from automl.config import parse_config
from automl.scenario.checks import continuous_labels, min_rows_needed, reason_from_statistics, too_few_rows


def _config(**split):
    return parse_config({"name": "d", "task": "regression", "scenario_keys": ["store"], "target": "units",
                         "time_column": "week", "data": {"streams": [{"name": "s", "path": "s.parquet"}]},
                         "split": split}, source="test")


def _stats(**changes):
    return {"rows": 40, "target_rows": 40, "target_min": 1.0, "target_max": 9.0, "distinct_times": 40, **changes}


def test_a_three_row_scenario_says_how_many_rows_are_needed():
    reason = reason_from_statistics(_stats(rows=3, target_rows=3, distinct_times=3), _config())
    assert reason == ("too few rows: 3 rows with a target; at least 25 are needed (split.min_train_rows 20 for "
                      "training plus the holdout, split.test_size 0.2)")
    assert "-" not in reason


@pytest.mark.parametrize(("split", "needed"), [({}, 25), ({"test_size": 8}, 28), ({"min_train_rows": 5}, 7),
                                               ({"test_size": 0.5, "min_train_rows": 3}, 6)])
def test_min_rows_needed_leaves_the_training_rows_after_the_holdout(split, needed):
    config = _config(**split)
    assert min_rows_needed(config) == needed
    assert too_few_rows(needed, config) is None and too_few_rows(needed - 1, config) is not None


@pytest.mark.parametrize(("changes", "reason"), [
    ({"target_rows": 0}, "target column 'units' has no values (null in all 40 rows)"),
    ({"target_min": 5.0, "target_max": 5.0}, None),  # a constant history is its own forecast: trained
    ({"distinct_times": 38}, "duplicated (scenario, week) rows: 40 rows but 38 distinct times"),
    ({}, None),
])
def test_reasons_from_statistics(changes, reason):
    found = reason_from_statistics(_stats(**changes), _config())
    assert found == reason if reason is None else found.startswith(reason)


def test_a_classification_target_with_one_label_is_skipped_before_training():
    config = parse_config({"name": "c", "task": "classification", "scenario_keys": ["segment"], "target": "churned",
                           "data": {"streams": [{"name": "s", "path": "s.parquet"}]}}, source="test")
    reason = reason_from_statistics(_stats(target_min="no", target_max="no", distinct_times=None), config)
    assert reason == "target 'churned' has a single class ('no'): nothing to learn"


def test_a_float_target_with_many_values_is_not_a_set_of_labels():
    assert continuous_labels("y", 2, 1000) is None and continuous_labels("y", 10, 30) is None
    assert continuous_labels("y", 300, 400).startswith("target 'y' looks continuous for classification: 300")
