"""The dbutils/display stand-in behaves like Databricks where the notebooks depend on it."""
from __future__ import annotations

import pytest
from dbutils_standin import DBUtils, WidgetNotDefined, cells, resolve_task_values, run_notebook


def _notebook(tmp_path, *cells_source: str):
    path = tmp_path / "nb.py"
    path.write_text("# Databricks notebook source\n" + "\n\n# COMMAND ----------\n\n".join(cells_source) + "\n")
    return path


def test_widgets_take_passed_values_over_defaults_and_must_exist():
    dbutils = DBUtils({"config": "a.yaml", "extra": "x"})
    dbutils.widgets.text("config", "default.yaml", "Config")
    dbutils.widgets.text("run_date", "")
    assert dbutils.widgets.get("config") == "a.yaml"
    assert dbutils.widgets.get("run_date") == ""
    with pytest.raises(WidgetNotDefined, match="no widget named 'extra'"):
        dbutils.widgets.get("extra")
    assert dbutils.widgets.unread() == {"extra"}


def test_dropdown_checks_its_choices():
    with pytest.raises(ValueError, match="value 'maybe' is not one of"):
        DBUtils({"small": "maybe"}).widgets.dropdown("small", "false", ["false", "true"])


def test_run_notebook_stops_at_exit_and_records_display(tmp_path):
    path = _notebook(tmp_path, "# MAGIC %md\n# MAGIC # Title", 'dbutils.widgets.text("n", "2")',
                     'display(int(dbutils.widgets.get("n")) * 2)\ndbutils.jobs.taskValues.set(key="k", value=1)',
                     'dbutils.notebook.exit("done")', 'raise AssertionError("after exit")')
    run = run_notebook(path, spark=None, parameters={"n": "5"}, task_key="t")
    assert run.exit_value == "done"
    assert run.display.shown == [10]
    assert run.dbutils.task_values == {"t": {"k": 1}}


def test_errors_point_at_the_notebook_line(tmp_path):
    path = _notebook(tmp_path, "x = 1", "y = 2\nraise RuntimeError('boom')")
    with pytest.raises(RuntimeError) as info:
        run_notebook(path, spark=None)
    assert info.traceback[-1].lineno + 1 == 7  # the raise is line 7 of the file


def test_exit_takes_a_string(tmp_path):
    with pytest.raises(TypeError, match="takes a string"):
        run_notebook(_notebook(tmp_path, "dbutils.notebook.exit({'a': 1})"), spark=None)


def test_cells_reject_magics_other_than_markdown(tmp_path):
    with pytest.raises(NotImplementedError, match="magic '%pip' cells cannot run locally"):
        cells(_notebook(tmp_path, "# MAGIC %pip install automl"))
    plain = tmp_path / "plain.py"
    plain.write_text("print(1)\n")
    with pytest.raises(ValueError, match="first line must be"):
        cells(plain)


def test_task_value_references_resolve_like_the_jobs_service():
    values = {"train": {"run_id": "abc"}}
    assert resolve_task_values({"id": "{{tasks.train.values.run_id}}", "x": "y"}, values) == {"id": "abc", "x": "y"}
    with pytest.raises(KeyError, match="task value train.other was never set"):
        resolve_task_values({"id": "{{tasks.train.values.other}}"}, values)
