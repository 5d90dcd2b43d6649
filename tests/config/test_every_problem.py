"""Every problem at once: cross-field rules whose settings are valid run while other settings are invalid."""
from __future__ import annotations

import pytest

from automl.config import parse_config
from automl.errors import ConfigError


def lines(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="use_case.yaml")
    header, *rest = str(info.value).splitlines()
    assert header == f"use_case.yaml: {len(rest)} problem{'s' if len(rest) > 1 else ''} in the config:"
    return [line[4:] for line in rest]


def document(**changes) -> dict:
    base = {"name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
            "time_column": "week",
            "data": {"streams": [{"name": "sales", "path": "sales.parquet"}, {"name": "stores", "path": "s.parquet"}]}}
    base.update(changes)
    return base


def test_unknown_join_stream_bad_metric_and_short_lag_reported_together():
    raw = document(metrics={"primary": "accuracy"},
                   split={"test_size": 8, "validation_size": 4}, features={"target_lags": [2]})
    raw["data"]["joins"] = [{"stream": "promos", "on": ["store"]}]

    found = lines(raw)

    assert [line.split(":")[0] for line in found] == ["data.joins[0].stream", "metrics.primary",
                                                     "features.target_lags"]
    assert "unknown stream 'promos'" in found[0]
    assert "metric 'accuracy' is not a regression metric" in found[1]
    assert "every lag must be >= the forecast horizon 8" in found[2]


def test_rules_inside_a_section_run_while_another_setting_of_it_is_invalid():
    raw = document(models={"families": ["xgboost"], "class_weight": "heavy"})
    raw["data"].update(base="nope", snapshot="maybe")
    assert sorted(line.split(":")[0] for line in lines(raw)) == [
        "data.base", "data.snapshot", "models.class_weight", "models.families"]


def test_rules_inside_a_list_item_run_while_another_setting_of_it_is_invalid():
    raw = document()
    raw["data"]["streams"][1] = {"name": "stores", "path": "a", "table": "b", "columns": "store"}
    found = lines(raw)
    assert [line.split(":")[0] for line in found] == ["data.streams[stores].columns", "data.streams[stores]"]
    assert "give exactly one of 'path' or 'table'" in found[1]


def test_a_rule_reading_an_invalid_setting_stays_silent():
    # task is invalid, so the metric rule (which needs the task) cannot judge 'accuracy': one line, not two.
    found = lines(document(task="forecast", metrics={"primary": "accuracy"}))
    assert [line.split(":")[0] for line in found] == ["task"]


def test_a_missing_required_setting_does_not_stop_the_other_rules():
    raw = document(metrics={"primary": "accuracy"})
    del raw["target"]
    fields = [line.split(":")[0] for line in lines(raw)]
    assert fields == ["target", "metrics.primary"]
