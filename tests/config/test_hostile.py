"""Hostile configs: YAML bombs and duplicate keys, names that escape the output directory, SQL that reaches the
JVM or the file system, and secrets that must not surface anywhere."""
from __future__ import annotations

import json
import re
import time
import tracemalloc

import pytest

from automl.config import load_config, parse_config, redact, redact_config, secret_values
from automl.config.expressions import refused_calls
from automl.config.yaml_text import MAX_VALUES, load_yaml
from automl.errors import ConfigError

HEAD = """\
name: demand
task: regression
scenario_keys: [store]
target: units
data:
  streams:
    - name: sales
      path: sales.parquet
"""

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def write(tmp_path, text: str):
    path = tmp_path / "use_case.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- YAML -------------------------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_fast_and_small(tmp_path):
    path = write(tmp_path, HEAD + BILLION_LAUGHS)
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"line 14, column \d+: not valid YAML: the document expands to more than "
                                          r"100,000 values through aliases"):
        load_config(path)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert seconds < 0.5
    assert peak < 5 * 2**20  # bytes: the 10^9-value expansion never happens


def test_recursive_alias_is_refused():
    with pytest.raises(Exception, match="an alias refers to a value that contains it"):
        load_yaml("a: &a [1, *a]\n")


def test_aliases_within_the_bound_and_merge_keys_still_work():
    document = load_yaml("defaults: &d {max_evals: 5, seed: 1}\ntuning:\n  <<: *d\n  seed: 2\nlist: &l [1, 2]\n"
                         "again: *l\n")
    assert document["tuning"] == {"max_evals": 5, "seed": 2}
    assert document["again"] == [1, 2]
    wide = "a: &a [" + ",".join(["1"] * 1000) + "]\nb: [" + ",".join(["*a"] * (MAX_VALUES // 1000 - 2)) + "]\n"
    assert len(load_yaml(wide)["b"]) == MAX_VALUES // 1000 - 2


def test_duplicate_keys_are_refused_naming_key_and_lines(tmp_path):
    path = write(tmp_path, HEAD + "tuning:\n  max_evals: 5\n  seed: 1\n  max_evals: 50\n")
    with pytest.raises(ConfigError, match=re.escape(
            "line 12, column 3: not valid YAML: duplicate key 'max_evals' (first given on line 10); each setting "
            "may appear once")):
        load_config(path)


def test_duplicate_top_level_key(tmp_path):
    with pytest.raises(ConfigError, match=r"duplicate key 'name' \(first given on line 1\)"):
        load_config(write(tmp_path, HEAD + "name: other\n"))


def test_yaml_11_booleans_stay_strings():
    assert load_yaml("on: [store]\nflag: yes\nreal: true\n") == {"on": ["store"], "flag": "yes", "real": True}


@pytest.mark.parametrize("name", [".", "..", "a/b"])
def test_name_cannot_leave_the_output_directory(tmp_path, name):
    text = HEAD.replace("name: demand", f"name: '{name}'")
    with pytest.raises(ConfigError, match=r"  - name: expected a name of letters, digits, '_', '-' and '\.'"):
        load_config(write(tmp_path, text))


# --- SQL that leaves the row ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("expression", "function"), [
    ("reflect('java.lang.System', 'getenv', 'HOME')", "reflect"),
    ("REFLECT ('java.lang.System', 'exit', 0)", "reflect"),
    ("Java_Method('java.lang.System', 'exit', 0)", "java_method"),
    ("try_reflect\n('java.lang.System', 'getenv', 'HOME')", "try_reflect"),
    ("`reflect`('java.lang.System', 'exit', 0)", "reflect"),
    ("system.builtin.reflect('java.lang.System', 'exit', 0)", "reflect"),
    ("reflect/* hidden */('java.lang.System', 'exit', 0)", "reflect"),
    ("IDENTIFIER('reflect')('java.lang.System', 'exit', 0)", "identifier"),
    ("concat('a', x) || reflect('java.lang.System', 'exit', 0)", "reflect"),
    ("from_protobuf(payload, 'M', '/etc/passwd')", "from_protobuf"),
    # A raw string ends at its first quote: the call after it is real.
    ("r'\\' || reflect('java.lang.System', 'exit', 0)", "reflect"),
])
def test_functions_reaching_the_jvm_or_files_are_refused(expression, function):
    [problem] = refused_calls(expression)
    assert problem.startswith(f"calls {function}(), which ")


@pytest.mark.parametrize("expression", [
    "(SELECT max(units) FROM sales)",
    "(FROM text.`/etc/passwd` |> LIMIT 1)",
    "units IN (TABLE text.`/etc/passwd`)",
    "exists(array(1), x -> x IN (VALUES (1)))",
])
def test_subqueries_are_refused(expression):
    [problem] = refused_calls(expression)
    assert problem.startswith("holds a query")


@pytest.mark.parametrize("expression", [
    "units / price",
    "concat('reflect(', name)",            # inside a string literal
    "\"java_method('x')\"",                # a double-quoted string literal
    "`reflect` + 1",                       # a column named reflect, not a call
    "reflect_rate * 2",
    "units -- reflect('java.lang.System', 'exit', 0)",
    "extract(YEAR FROM week) > 2020",
    "trim(BOTH ' ' FROM region)",
    "(values + 1) * 2",                    # a column named values
    "input_file_name() <> ''",
    "CASE WHEN promo THEN 'from select' ELSE 'x' END",
])
def test_ordinary_expressions_pass(expression):
    assert refused_calls(expression) == []


def test_refused_expressions_are_located_by_field_all_at_once():
    raw = {"name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
           "data": {"streams": [{"name": "sales", "path": "s.parquet", "filter": "java_method('a', 'b') IS NULL",
                                 "derive": {"ok": "units * 2", "home": "reflect('java.lang.System', 'getenv', 'HOME')"}}],
                    "derive": {"cwd": "try_reflect('java.lang.System', 'getProperty', 'user.dir')"},
                    "filter": "concat('reflect(', 'x') <> ''"}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw, source="use_case.yaml")
    found = str(info.value).splitlines()[1:]
    assert [line[4:].split(": ")[0] for line in found] == [
        "data.streams[sales].filter", "data.streams[sales].derive.home", "data.derive.cwd"]
    assert "calls reflect(), which runs any Java method in the JVM" in found[1]


# --- secrets ----------------------------------------------------------------------------------------------------


def test_a_secret_in_the_tracking_uri_never_leaves_redact_config(monkeypatch):
    monkeypatch.setenv("MLFLOW_PASSWORD", "pa$$/w0rd")
    raw = {"name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
           "data": {"streams": [{"name": "sales", "path": "s.parquet"}]},
           "mlflow": {"tracking_uri": "https://user:${MLFLOW_PASSWORD}@mlflow.example/"}}
    config = parse_config(raw)
    assert config.mlflow.tracking_uri == "https://user:pa$$/w0rd@mlflow.example/"  # the real value for MLflow

    shown = redact_config(config)

    assert shown["mlflow"]["tracking_uri"] == "https://user:***@mlflow.example/"
    assert "pa$$/w0rd" not in json.dumps(shown)
    assert shown["name"] == "demand" and shown["data"]["streams"][0]["path"] == "s.parquet"


def test_redact_covers_url_encoded_forms_and_ignores_empty_values(monkeypatch):
    assert redact("uri=https://u:pa%24%24%2Fw0rd@h and pa$$/w0rd", {"pa$$/w0rd", ""}) == "uri=https://u:***@h and ***"
    assert redact("nothing to hide", frozenset()) == "nothing to hide"
    monkeypatch.setenv("TOKEN", "tok-123")
    config = parse_config({"name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
                           "data": {"streams": [{"name": "s", "path": "p", "options": {"token": "${TOKEN}"}}]}})
    assert redact("Spark said: option token=tok-123 failed", secret_values(config)) == \
        "Spark said: option token=*** failed"
