"""Settings added for prediction passthrough, promotion, registry, Optuna, target transforms and event data."""
from __future__ import annotations

import pytest

from automl.config import parse_config
from automl.errors import ConfigError

SOURCE = "use_case.yaml"


def document(**changes) -> dict:
    base = {"name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
            "time_column": "week", "data": {"streams": [{"name": "sales", "path": "sales.parquet"}]}}
    base.update(changes)
    return base


def lines(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source=SOURCE)
    return [line[4:] for line in str(info.value).splitlines()[1:]]


def test_defaults_of_the_new_settings():
    config = parse_config(document())
    assert config.predict.keep_columns == []
    assert config.execution.min_beats_baseline_fraction is None
    assert config.models.promote == "always"
    assert config.models.target_transform == "none"
    assert config.models.season_length is None
    assert config.models.class_weight == "none"
    assert (config.mlflow.scenario_runs, config.mlflow.registered_model, config.mlflow.registered_alias) == \
        ("per_scenario", None, "champion")
    assert config.tuning.tuner == "hyperopt"
    assert config.split.order_by is None


def test_new_settings_accept_their_values():
    config = parse_config(document(
        time_column=None, split={"order_by": "ordered_at"}, predict={"keep_columns": ["order_id"]},
        execution={"min_beats_baseline_fraction": 0.8},
        models={"promote": "beats_baseline", "target_transform": "difference", "season_length": 52},
        mlflow={"scenario_runs": "none", "registered_model": "demand", "registered_alias": "prod-2"},
        tuning={"tuner": "optuna", "algorithm": "random"}))
    assert config.split_method == "time"  # event data: holdout = the latest rows by order_by
    assert config.models.target_transform == "difference"
    assert config.mlflow.registered_alias == "prod-2"
    assert parse_config(document(task="classification", models={"class_weight": "balanced"})).models.class_weight \
        == "balanced"
    assert parse_config(document(models={"families": []})).models.families == []  # forecast methods only


@pytest.mark.parametrize(("changes", "expected"), [
    ({"predict": {"keep_columns": ["store", "region"]}},
     "predict.keep_columns: ['store'] are already in every prediction row (scenario keys, target or sample id)"),
    ({"predict": {"keep_columns": ["units"]}}, "predict.keep_columns: ['units'] are already"),
    ({"execution": {"min_beats_baseline_fraction": 1.5}},
     "execution.min_beats_baseline_fraction: Input should be less than or equal to 1"),
    ({"models": {"promote": "best"}}, "models.promote: Input should be 'always' or 'beats_baseline'"),
    ({"models": {"season_length": 1}}, "models.season_length: Input should be greater than or equal to 2"),
    ({"mlflow": {"registered_alias": "1st"}}, "mlflow.registered_alias: String should match pattern"),
    ({"mlflow": {"registered_alias": "a b"}}, "mlflow.registered_alias: String should match pattern"),
    ({"mlflow": {"scenario_runs": "all"}}, "mlflow.scenario_runs: Input should be 'per_scenario' or 'none'"),
    ({"tuning": {"tuner": "optuna", "algorithm": "anneal"}},
     "tuning.algorithm: tuner 'optuna' supports algorithms 'tpe' and 'random', not 'anneal'"),
    ({"time_column": None, "models": {"target_transform": "difference"}},
     "models.target_transform: 'difference' needs an order: set time_column or split.order_by (got 'difference')"),
    ({"task": "classification", "models": {"target_transform": "log1p"}},
     "models.target_transform: a target transform is for regression only"),
    ({"models": {"class_weight": "balanced"}}, "models.class_weight: class weights are for classification only"),
    ({"time_column": None, "models": {"families": []}},
     "models.families: an empty list (forecast methods only) needs regression with time_column"),
    ({"task": "classification", "models": {"families": []}},
     "models.families: an empty list (forecast methods only) needs regression with time_column"),
    ({"models": {"families": [], "promote": "beats_baseline"}},
     "models.promote: a forecast method is its own baseline: with families [] use 'always'"),
    ({"split": {"order_by": "ordered_at"}}, "split.order_by: set either time_column (one row per period) or "
                                            "split.order_by (event data), not both"),
    ({"time_column": None, "split": {"order_by": "store"}}, "split.order_by: must not be a scenario key or the target"),
])
def test_new_settings_are_checked(changes, expected):
    [line] = lines(document(**changes))
    assert line.startswith(expected), line


@pytest.mark.parametrize("name", [".", "..", "../up", "a/b", "a\\b", "-x", ".hidden", "", "two words"])
def test_name_is_a_plain_directory_name(name):
    [line] = lines(document(name=name))
    assert line.startswith("name: expected a name of letters, digits"), line


@pytest.mark.parametrize("name", ["demand", "demand-v1.2", "_x", "7eleven"])
def test_plain_names_are_accepted(name):
    assert parse_config(document(name=name)).name == name
