"""Config parsing: defaults of a minimal file, and one located ConfigError line per problem."""
from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from automl.config import ROW_ID, Config, load_config, parse_config, secret_values
from automl.errors import ConfigError
from automl.scenario.families import FAMILIES, ModelFamily
from automl.scenario.space import Float

SOURCE = "use_case.yaml"

MINIMAL_YAML = """\
name: demand
task: regression
scenario_keys: [store]
target: units
time_column: week
data:
  streams:
    - name: sales
      path: data/sales.parquet
    - name: stores
      path: data/stores.parquet
"""


def minimal(**changes) -> dict:
    """A fresh valid document; keyword arguments replace top-level settings."""
    document = {
        "name": "demand",
        "task": "regression",
        "scenario_keys": ["store"],
        "target": "units",
        "time_column": "week",
        "data": {"streams": [{"name": "sales", "path": "data/sales.parquet"},
                             {"name": "stores", "path": "data/stores.parquet"}]},
    }
    document.update(changes)
    return document


def problems(document: dict, **kwargs) -> list[str]:
    """The located lines of the ConfigError the document raises (header checked here once)."""
    with pytest.raises(ConfigError) as info:
        parse_config(document, source=SOURCE, **kwargs)
    header, *lines = str(info.value).splitlines()
    count = len(lines)
    assert header == f"{SOURCE}: {count} problem{'s' if count > 1 else ''} in the config:"
    assert all(line.startswith("  - ") for line in lines)
    return [line[4:] for line in lines]


def parse(document: dict, **kwargs) -> Config:
    return parse_config(document, source=SOURCE, **kwargs)


# --- a good file ------------------------------------------------------------------------------------------


def test_minimal_file_parses_with_defaults(tmp_path):
    path = tmp_path / "demand.yaml"
    path.write_text(MINIMAL_YAML, encoding="utf-8")

    config = load_config(path)

    assert config.name == "demand"
    assert [s.name for s in config.data.streams] == ["sales", "stores"]
    assert config.data.base_stream == "sales"
    assert config.split_method == "time"
    assert config.primary_metric == "rmse"
    assert config.report_metrics == ["rmse", "mae", "wape", "r2"]
    assert config.horizon == 1  # fractional holdouts: one period
    assert config.sample_id_columns == ["week"]
    assert config.models.families == ["lightgbm", "random_forest", "linear"]
    assert config.tuning.max_evals == 20
    assert config.output_path.endswith("demand")
    assert config.experiment_name == "automl-demand"
    assert secret_values(config) == frozenset()


@pytest.mark.parametrize(("task", "time_column", "method"), [
    ("regression", "week", "time"),
    ("classification", "week", "time"),
    ("regression", None, "random"),
    ("classification", None, "stratified"),
])
def test_auto_split_method_follows_task_and_time(task, time_column, method):
    config = parse(minimal(task=task, time_column=time_column))
    assert config.split_method == method


def test_explicit_split_method_wins():
    assert parse(minimal(split={"method": "random"})).split_method == "random"


def test_primary_metric_default_per_task_and_report_puts_primary_first():
    assert parse(minimal(task="classification")).primary_metric == "roc_auc"
    config = parse(minimal(metrics={"primary": "mae", "report": ["rmse", "mae"]}))
    assert config.primary_metric == "mae"
    assert config.report_metrics == ["mae", "rmse"]


def test_horizon_is_the_larger_whole_number_holdout():
    assert parse(minimal(split={"test_size": 8, "validation_size": 4})).horizon == 8
    assert parse(minimal(split={"test_size": 0.2, "validation_size": 3})).horizon == 3


def test_sample_id_columns():
    assert parse(minimal(sample_id=["order_id"])).sample_id_columns == ["order_id"]
    assert parse(minimal(time_column=None)).sample_id_columns == [ROW_ID]  # a row hash from the data layer


def test_target_lags_at_least_the_horizon_are_accepted():
    config = parse(minimal(split={"test_size": 4, "validation_size": 4},
                           features={"target_lags": [4, 8], "target_windows": [3]}))
    assert config.features.target_lags == [4, 8]


def test_search_space_overrides_accept_distributions_and_fixed_values():
    config = parse(minimal(models={"families": ["random_forest"], "search_space": {"random_forest": {
        "n_estimators": {"type": "int", "low": 10, "high": 20}, "max_depth": None, "min_samples_leaf": 3}}}))
    space = config.models.search_space["random_forest"]
    assert space["n_estimators"].type == "int"
    assert space["max_depth"] is None
    assert space["min_samples_leaf"] == 3


def test_config_is_immutable():
    config = parse(minimal())
    with pytest.raises(ValidationError, match="frozen"):
        config.name = "other"


# --- every problem located: file, field path, what was expected ---------------------------------------------


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match=r"use_case\.yaml: 1 problem in the config:\n  - tragte: unknown setting"):
        parse(minimal(tragte="units"))


def test_unknown_nested_key_suggests_the_right_one():
    [line] = problems(minimal(tuning={"max_eval": 5}))
    assert line.startswith("tuning.max_eval: unknown setting; did you mean 'max_evals'? expected one of: ")
    assert "timeout_seconds" in line
    assert line.endswith("(got 5)")


def test_unknown_key_in_a_stream_is_located_by_stream_name():
    document = minimal()
    document["data"]["streams"][1]["pathh"] = "x"
    [line] = problems(document)
    assert line.startswith("data.streams[stores].pathh: unknown setting; did you mean 'path'?")


def test_unknown_key_in_a_distribution():
    document = minimal(models={"families": ["linear"], "search_space": {"linear": {"alpha": {"type": "float",
                                                                                               "lo": 1, "high": 2}}}})
    lines = problems(document)
    assert any(line.startswith("models.search_space.linear.alpha.lo: unknown setting; did you mean 'low'?")
               for line in lines)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"tuning": {"max_evals": "lots"}}, "tuning.max_evals: Input should be a valid integer"),
    ({"tuning": {"max_evals": 0}}, "tuning.max_evals: Input should be greater than or equal to 1 (got 0)"),
    ({"scenario_keys": "store"}, "scenario_keys: Input should be a valid list (got 'store')"),
    ({"task": "forecast"}, "task: Input should be 'regression' or 'classification' (got 'forecast')"),
    ({"data": ["sales"]}, "data: expected a mapping of settings (got ['sales'])"),
    ({"split": {"test_size": 1.5}}, "split.test_size: expected a whole number of rows/periods >= 1 or a fraction "
                                    "between 0 and 1 (got 1.5)"),
    ({"split": {"test_size": "x"}}, "split.test_size: expected a whole number"),
    ({"metrics": {"positive_class": [1]}}, "metrics.positive_class: expected a string, number or boolean"),
    ({"execution": {"max_failed_fraction": 2}}, "execution.max_failed_fraction: Input should be less than or "
                                                "equal to 1"),
])
def test_wrong_types_and_ranges_give_one_clean_line(changes, expected):
    [line] = problems(minimal(**changes))
    assert line.startswith(expected)


def test_union_members_never_leak_into_the_field_path():
    lines = problems(minimal(split={"test_size": "x", "validation_size": 0}, spark={"conf": {"a": [1]}},
                             models={"families": ["linear"], "search_space": {"linear": {"alpha": {"type": 3}}}}))
    fields = sorted(line.split(": ")[0] for line in lines)
    assert fields == ["models.search_space.linear.alpha.type", "spark.conf.a", "split.test_size",
                      "split.validation_size"]


def test_invalid_mapping_key():
    [line] = problems(minimal(spark={"conf": {1: "x"}}))
    assert line == "spark.conf.1: invalid key: Input should be a valid string (got 1)"


def test_missing_required_settings_are_all_reported():
    document = minimal()
    del document["target"], document["name"]
    document["data"] = {}
    lines = problems(document)
    assert sorted(lines) == ["data.streams: required setting is missing", "name: required setting is missing",
                             "target: required setting is missing"]


def test_every_problem_reported_at_once():
    lines = problems(minimal(task="forecast", tuning={"max_evals": -1, "sedd": 1}, selection={"method": "x"}))
    assert len(lines) == 4


@pytest.mark.parametrize("stream", [
    {"name": "sales", "path": "a.parquet", "table": "db.sales"},
    {"name": "sales"},
])
def test_stream_needs_exactly_one_of_path_and_table(stream):
    with pytest.raises(ConfigError, match=r"data\.streams\[sales\]: give exactly one of 'path' or 'table'"):
        parse(minimal(data={"streams": [stream]}))


def test_table_stream_needs_a_table_format():
    with pytest.raises(ConfigError, match=r"data\.streams\[sales\]: 'table' needs format 'table' or 'delta'"):
        parse(minimal(data={"streams": [{"name": "sales", "table": "db.sales"}]}))


def test_join_to_unknown_stream():
    data = minimal()["data"]
    data["joins"] = [{"stream": "stores", "on": ["store"]}, {"stream": "promos", "on": ["store"]}]
    with pytest.raises(ConfigError, match=re.escape(
            "data.joins[1].stream: unknown stream 'promos'; expected one of ['sales', 'stores'] (got 'promos')")):
        parse(minimal(data=data))


def test_unknown_base_stream_and_repeated_names():
    data = {"streams": [{"name": "sales", "path": "a"}, {"name": "sales", "path": "b"}], "base": "nope"}
    lines = problems(minimal(data=data))
    assert lines[0].startswith("data.streams: stream names must be unique; repeated: ['sales']")
    assert lines[1].startswith("data.base: unknown stream 'nope'")


def test_unknown_model_family():
    with pytest.raises(ConfigError, match=re.escape(
            "models.families: unknown model families ['xgboost']; registered: ['lightgbm', 'linear', "
            "'random_forest']")):
        parse(minimal(models={"families": ["lightgbm", "xgboost"]}))


def test_search_space_override_for_unknown_parameter():
    models = {"families": ["linear"], "search_space": {"linear": {"alpha": 1.0, "beta": 2}}}
    with pytest.raises(ConfigError, match=re.escape(
            "models.search_space.linear.beta: unknown parameter of 'linear'; expected one of ['alpha', "
            "'spline_knots'] (got 2)")):
        parse(minimal(models=models))


def test_splines_on_a_series_are_an_error_naming_the_field():
    models = {"families": ["linear"], "search_space": {"linear": {"spline_knots": 4}}}
    assert parse(minimal(models=models, time_column=None)).models.search_space["linear"]["spline_knots"] == 4
    with pytest.raises(ConfigError, match=re.escape("models.search_space.linear.spline_knots: a spline basis is for "
                                                    "data without time_column (got 4)")):
        parse(minimal(models=models))


def test_search_space_for_family_not_selected():
    models = {"families": ["linear"], "search_space": {"lightgbm": {"num_leaves": 8}}}
    with pytest.raises(ConfigError, match=r"models\.search_space\.lightgbm: family is not in 'families'"):
        parse(minimal(models=models))


@pytest.mark.parametrize(("spec", "expected"), [
    ({"type": "float", "low": 2, "high": 1}, "type 'float' needs 'low' <= 'high'"),
    ({"type": "float", "low": 0, "high": 1, "log": True}, "'log' needs 'low' > 0"),
    ({"type": "choice"}, "type 'choice' needs a non-empty 'values' list"),
    ([1, 2], "expected a distribution"),
])
def test_bad_distribution_override(spec, expected):
    models = {"families": ["linear"], "search_space": {"linear": {"alpha": spec}}}
    [line] = problems(minimal(models=models))
    assert line.startswith(f"models.search_space.linear.alpha: {expected}")


def test_metric_of_the_wrong_task():
    with pytest.raises(ConfigError, match=re.escape(
            "metrics.primary: metric 'accuracy' is not a regression metric; expected one of ['mae', 'r2', 'rmse', "
            "'wape'] (got 'accuracy')")):
        parse(minimal(metrics={"primary": "accuracy"}))
    with pytest.raises(ConfigError, match=r"metrics\.report\[1\]: metric 'rmse' is not a classification metric"):
        parse(minimal(task="classification", metrics={"report": ["f1", "rmse"]}))


def test_family_that_does_not_support_the_task(monkeypatch):
    family = ModelFamily("regression_only", frozenset({"regression"}), {"alpha": Float(0.1, 1.0)}, lambda *a: None)
    monkeypatch.setitem(FAMILIES, family.name, family)
    with pytest.raises(ConfigError, match=r"models\.families: model family 'regression_only' does not support "
                                          r"task 'classification'"):
        parse(minimal(task="classification", models={"families": ["regression_only"]}))


def test_target_lag_shorter_than_the_horizon():
    with pytest.raises(ConfigError, match=re.escape(
            "features.target_lags: every lag must be >= the forecast horizon 8 (max of split.test_size and "
            "split.validation_size), else the holdout leaks (got [4, 8])")):
        parse(minimal(split={"test_size": 8, "validation_size": 4}, features={"target_lags": [4, 8]}))


def test_target_lags_need_whole_number_holdouts_and_a_time_column():
    with pytest.raises(ConfigError, match=r"features\.target_lags: target lags and windows need split\.test_size"):
        parse(minimal(features={"target_lags": [4]}))
    with pytest.raises(ConfigError, match=r"features\.target_windows: target lags and windows need time_column"):
        parse(minimal(time_column=None, features={"target_windows": [3]}))


def test_time_split_without_time_column():
    with pytest.raises(ConfigError, match=re.escape("split.method: method 'time' needs time_column or split.order_by (got 'time')")):
        parse(minimal(time_column=None, split={"method": "time"}))


def test_stratified_split_for_regression():
    with pytest.raises(ConfigError, match=r"split\.method: method 'stratified' is for classification only"):
        parse(minimal(split={"method": "stratified"}))


def test_scenario_keys_must_not_hold_target_or_time():
    with pytest.raises(ConfigError, match=re.escape(
            "scenario_keys: must not contain the target or time column: ['week']")):
        parse(minimal(scenario_keys=["store", "week"]))


def test_unknown_featuretools_primitive():
    with pytest.raises(ConfigError, match=r"features\.trans_primitives: unknown featuretools transform "
                                          r"primitives \['no_such_primitive'\]"):
        parse(minimal(features={"trans_primitives": ["month", "no_such_primitive"]}))


# --- reading the file ----------------------------------------------------------------------------------------


def test_invalid_yaml_names_line_and_column(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: demand\ntask: [regression\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: line 3, column 1: not valid YAML"):
        load_config(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: cannot read config file: No such file"):
        load_config(path)


def test_binary_file(tmp_path):
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00name")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: not a UTF-8 text file"):
        load_config(path)


@pytest.mark.parametrize(("text", "got"), [("", "an empty document"), ("- a\n- b\n", "list"), ("3", "int")])
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    path = tmp_path / "odd.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"the top level must be a mapping of settings, got {got}"):
        load_config(path)


def test_validation_errors_name_the_file(tmp_path):
    path = tmp_path / "demand.yaml"
    path.write_text(MINIMAL_YAML + "tuning:\n  max_eval: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: 1 problem in the config:\n  - tuning\.max_eval"):
        load_config(path)


# --- environment interpolation ---------------------------------------------------------------------------------


def test_env_interpolation_and_secrets(monkeypatch):
    monkeypatch.setenv("SALES_TOKEN", "s3cret")
    monkeypatch.setenv("DATA_ROOT", "/mnt/data")
    monkeypatch.delenv("OUTPUT_ROOT", raising=False)
    document = minimal(output={"path": "${OUTPUT_ROOT:-/tmp/out}/demand"})
    document["data"]["streams"][0]["path"] = "${DATA_ROOT}/sales.parquet"
    document["data"]["streams"][0]["options"] = {"token": "${SALES_TOKEN}"}

    config = parse(document)

    assert config.data.streams[0].path == "/mnt/data/sales.parquet"
    assert config.data.streams[0].options == {"token": "s3cret"}
    assert config.output.path == "/tmp/out/demand"
    assert secret_values(config) == frozenset({"s3cret", "/mnt/data"})  # defaults are not secrets


def test_env_interpolation_feeds_typed_settings(monkeypatch):
    monkeypatch.setenv("EVALS", "7")
    assert parse(minimal(tuning={"max_evals": "${EVALS}"})).tuning.max_evals == 7


def test_unset_env_variable(monkeypatch):
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    document = minimal()
    document["data"]["streams"][1]["path"] = "${NO_SUCH_VARIABLE}/stores.parquet"
    with pytest.raises(ConfigError, match=re.escape(
            "use_case.yaml: data.streams.1.path: environment variable NO_SUCH_VARIABLE is not set "
            "(use ${NO_SUCH_VARIABLE:-default} to give a default)")):
        parse(document)


# --- --set overrides -------------------------------------------------------------------------------------------


def test_overrides_by_dotted_path_stream_name_and_index():
    config = parse(minimal(), overrides=["tuning.max_evals=5", "data.streams.sales.path=s3://b/sales.parquet",
                                         "data.streams.1.format=csv", "split.test_size=0.3",
                                         "models.families=[linear]"])
    assert config.tuning.max_evals == 5
    assert config.data.streams[0].path == "s3://b/sales.parquet"
    assert config.data.streams[1].format == "csv"
    assert config.split.test_size == 0.3
    assert config.models.families == ["linear"]


def test_override_into_an_empty_section():
    assert parse(minimal(tuning=None), overrides=["tuning.seed=3"]).tuning.seed == 3


def test_override_does_not_change_the_document():
    document = minimal()
    parse(document, overrides=["tuning.max_evals=5", "data.streams.sales.path=x"])
    assert "tuning" not in document
    assert document["data"]["streams"][0]["path"] == "data/sales.parquet"


@pytest.mark.parametrize(("item", "expected"), [
    ("tuning.max_evals", "--set 'tuning.max_evals': expected dotted.key=value, e.g. tuning.max_evals=10"),
    ("=5", "--set '=5': expected dotted.key=value"),
    ("data.streams.promos.path=x", "--set data.streams.promos.path: no list item 'promos' at data.streams"),
    ("data.streams.9.path=x", "--set data.streams.9.path: no list item '9' at data.streams"),
    ("name.first=x", "--set name.first: name is a value, not a section"),
    ("data.streams.\u00b2.path=x", "--set data.streams.\u00b2.path: no list item '\u00b2' at data.streams"),
])
def test_bad_overrides(item, expected):
    with pytest.raises(ConfigError, match=f"^{re.escape(SOURCE)}: {re.escape(expected)}"):
        parse(minimal(), overrides=[item])


def test_override_values_are_validated_like_the_file():
    with pytest.raises(ConfigError, match=r"tuning\.max_evals: Input should be greater than or equal to 1 \(got 0\)"):
        parse(minimal(), overrides=["tuning.max_evals=0"])


def test_fault_injection_is_not_a_user_setting():
    # A test-only hook (the AUTOML_FAULT_INJECTION environment variable), not part of the user schema.
    [line] = problems(minimal(execution={"fault_injection": 0.1}))
    assert line.startswith("execution.fault_injection: unknown setting")
