"""Data checks against a real local Spark: every problem at once with field paths, case-clashing columns,
and ANSI row-value failures traced back to the derive that raised them."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from automl.config import parse_config
from automl.data.check import check_data
from automl.data.master import build_master, explain_failure
from automl.data.streams import read_stream
from automl.errors import ConfigError, DataError

pytestmark = pytest.mark.spark


@pytest.fixture
def sales(tmp_path):
    path = tmp_path / "sales.parquet"
    pd.DataFrame({"store": [1, 1, 2, 2], "week": pd.to_datetime(["2024-01-01", "2024-01-08"] * 2),
                  "units": [5.0, 6.0, 7.0, 0.0], "code": ["1", "2", "abc", "4"]}).to_parquet(path)
    return path


def config(sales_path, **changes):
    document = {"name": "check", "task": "regression", "scenario_keys": ["store"], "target": "units",
                "time_column": "week", "data": {"streams": [{"name": "sales", "path": str(sales_path)}]}}
    document.update(changes)
    return parse_config(document)


def problem_lines(spark, cfg, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as info:
        check_data(spark, cfg, **kwargs)
    header, *lines = str(info.value).splitlines()
    assert header == f"check: {len(lines)} problem{'s' if len(lines) > 1 else ''} with the training data:"
    return [line[4:] for line in lines]


def test_a_fitting_config_passes(spark, sales):
    check_data(spark, config(sales, data={"streams": [{"name": "sales", "path": str(sales)}],
                                          "derive": {"double": "units * 2"}, "filter": "units >= 0"},
                             predict={"keep_columns": ["code"]}))


def test_missing_path_misspelt_target_and_broken_derive_reported_at_once(spark, sales, tmp_path):
    cfg = config(sales, target="unitz", data={
        "streams": [{"name": "sales", "path": str(sales)},
                    {"name": "stores", "path": str(tmp_path / "no_such_dir" / "stores.parquet")}],
        "joins": [{"stream": "stores", "on": ["store"]}],
        "derive": {"ratio": "units *", "ok": "units + 1"}})

    lines = problem_lines(spark, cfg)

    assert [line.split(": ")[0] for line in lines] == ["data.streams[stores].path", "data.derive.ratio", "target"]
    assert "cannot read parquet" in lines[0] and "PATH_NOT_FOUND" in lines[0]
    assert "invalid Spark SQL expression 'units *'" in lines[1]
    assert lines[2].startswith("target: target column 'unitz' is missing; columns are ['code', 'ok', 'store', "
                               "'units', 'week'] (streams ['stores'] could not be read")
    assert not any("\tat " in line or "org.apache" in line for line in lines)


def test_every_referenced_column_is_checked(spark, sales):
    cfg = config(sales, sample_id=["week", "order_id"], predict={"keep_columns": ["region"]},
                 data={"streams": [{"name": "sales", "path": str(sales), "columns": ["store", "week", "unit"],
                                    "derive": {"bad": "nope + 1"}, "filter": "region = 'north'"}]})
    fields = [line.split(": ")[0] for line in problem_lines(spark, cfg)]
    # the stream keeps store and week: units is gone, so the target is missing too
    assert fields == ["data.streams[sales].columns", "data.streams[sales].derive.bad", "data.streams[sales].filter",
                      "sample_id[1]", "target", "predict.keep_columns[0]"]


def test_join_columns_missing_on_one_side(spark, sales, tmp_path):
    stores = tmp_path / "stores.parquet"
    pd.DataFrame({"shop": [1, 2], "size": [10, 20]}).to_parquet(stores)
    cfg = config(sales, data={"streams": [{"name": "sales", "path": str(sales)}, {"name": "stores", "path": str(stores)}],
                              "joins": [{"stream": "stores", "on": ["store"]}]})
    [line] = problem_lines(spark, cfg)
    assert line.startswith("data.joins[0].on: join columns ['store'] are not in both sides")
    with pytest.raises(DataError, match=r"^data\.joins\[0\]\.on: join columns \['store'\]"):
        build_master(spark, cfg)


def test_columns_equal_but_for_case_name_both_and_the_way_out(spark, tmp_path, sales):
    path = tmp_path / "clash.parquet"
    pq.write_table(pa.table({"store": [1], "Month": [1], "month": [2], "units": [1.0]}), path)
    cfg = config(sales, time_column=None, data={"streams": [{"name": "sales", "path": str(path)}]})

    with pytest.raises(DataError) as info:
        read_stream(spark, cfg.data.streams[0])

    message = str(info.value)
    assert message.startswith(f"data.streams[sales].path: cannot read parquet '{path}': columns ['Month', 'month'] "
                              "differ only in letter case")
    assert "spark.conf: {spark.sql.caseSensitive: true}" in message and "'columns:'" in message
    assert "\n" not in message and "org.apache" not in message
    assert spark.conf.get("spark.sql.caseSensitive") == "false"  # the probe restored the session
    [line] = problem_lines(spark, cfg)
    assert "columns ['Month', 'month'] differ only in letter case" in line


def _failure(frame) -> Exception:
    with pytest.raises(Exception) as info:
        frame.collect()
    return info.value


def test_division_by_zero_in_a_derive_names_the_field(spark, sales):
    cfg = config(sales, data={"streams": [{"name": "sales", "path": str(sales)}],
                              "derive": {"double": "units * 2", "ratio": "units / 0"}})
    error = explain_failure(_failure(build_master(spark, cfg)), cfg)
    assert isinstance(error, DataError)
    assert str(error).startswith("data.derive.ratio: the expression 'units / 0' fails on a row's value: "
                                 "[DIVIDE_BY_ZERO] Division by zero.")
    assert "\n" not in str(error)


def test_a_malformed_cast_in_a_stream_derive_names_the_field(spark, sales):
    cfg = config(sales, data={"streams": [{"name": "sales", "path": str(sales),
                                           "derive": {"code_number": "CAST(code AS INT) + 1"}}]})
    error = explain_failure(_failure(build_master(spark, cfg)), cfg)
    assert str(error).startswith("data.streams[sales].derive.code_number: the expression 'CAST(code AS INT) + 1' "
                                 "fails on a row's value: [CAST_INVALID_INPUT] The value 'abc'")


def test_failures_that_are_not_config_expressions_are_left_alone(spark, sales):
    cfg = config(sales, data={"streams": [{"name": "sales", "path": str(sales)}], "derive": {"ok": "units + 1"}})
    from pyspark.sql import functions as F
    outside = build_master(spark, cfg).withColumn("x", F.expr("store div 0"))
    assert explain_failure(_failure(outside), cfg) is None  # the framework's own expression, not the config's
    assert explain_failure(ValueError("boom"), cfg) is None
