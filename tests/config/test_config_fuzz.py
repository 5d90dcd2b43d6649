"""Property tests: whatever a user writes, config loading gives a Config or one readable ConfigError."""
from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from automl.config import Config, load_config, parse_config
from automl.errors import ConfigError

SOURCE = "fuzz.yaml"
# database=None: no .hypothesis folder in the repository; a failure prints its example and reproduce blob.
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

VALID = {
    "name": "demand",
    "task": "regression",
    "scenario_keys": ["store", "item"],
    "target": "units",
    "time_column": "week",
    "sample_id": ["week"],
    "data": {
        "streams": [
            {"name": "sales", "path": "data/sales.parquet", "options": {"mergeSchema": True}, "columns": ["a"]},
            {"name": "stores", "format": "csv", "path": "data/stores.csv", "derive": {"big": "size > 10"}},
        ],
        "joins": [{"stream": "stores", "on": ["store"], "how": "left"}],
        "filter": "units >= 0",
    },
    "split": {"method": "time", "test_size": 4, "validation_size": 4, "min_train_rows": 10},
    "features": {"trans_primitives": ["month"], "target_lags": [4, 8], "target_windows": [3]},
    "selection": {"method": "importance", "max_features": 10},
    "models": {"families": ["lightgbm", "linear"],
               "search_space": {"lightgbm": {"num_leaves": {"type": "int", "low": 4, "high": 16}},
                                "linear": {"alpha": 1.0}}},
    "tuning": {"algorithm": "tpe", "max_evals": 5, "seed": 1},
    "metrics": {"primary": "mae", "report": ["rmse"]},
    "mlflow": {"experiment": "x"},
    "output": {"path": "${FUZZ_OUTPUT:-/tmp/out}", "format": "parquet"},
    "spark": {"conf": {"spark.sql.shuffle.partitions": 4}},
    "execution": {"partitions_per_core": 2, "max_failed_fraction": 0.1},
}

_names = st.sampled_from(["name", "path", "table", "type", "low", "high", "max_evals", "families", "streams",
                          "linear", "lightgbm", "sales", "int", "str", "float", "[key]", "0", "${FUZZ_UNSET}"])
_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), _names,
    st.sampled_from(["auto", "time", "random", "regression", "classification", "rmse", "accuracy",
                     "${FUZZ_UNSET}", "${HOME}", "${FUZZ_UNSET:-7}", "0.5", "1e3", "-1"]),
)
_keys = st.one_of(st.text(max_size=8), _names, st.integers(-3, 3), st.booleans(), st.none())
VALUES = st.recursive(_leaves, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(_keys, inner, max_size=3)), max_leaves=6)


def _paths(node, prefix=()):
    """Every (container path, key) pair in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix, key
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield prefix, index
            yield from _paths(value, (*prefix, index))


def _containers(node, prefix=()):
    if isinstance(node, (dict, list)):
        yield prefix
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _containers(value, (*prefix, key))


def _at(document, path):
    for part in path:
        document = document[part]
    return document


@st.composite
def mutated_documents(draw):
    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "replace", "append"]))
        if kind in ("delete", "replace"):
            paths = list(_paths(document))
            if not paths:
                continue
            parent, key = draw(st.sampled_from(paths))
            container = _at(document, parent)
            if kind == "delete":
                del container[key]
            else:
                container[key] = draw(VALUES)
        else:
            parent = _at(document, draw(st.sampled_from(list(_containers(document)))))
            if isinstance(parent, dict):
                parent[draw(_keys)] = draw(VALUES)
            else:
                parent.append(draw(VALUES))
    return document


def _check(call) -> None:
    """The property: a Config, or a ConfigError with a non-empty message that names the source."""
    try:
        result = call()
    except ConfigError as exc:
        message = str(exc)
        assert message.strip()
        assert SOURCE in message, message
        assert "constrained-" not in message and "function-" not in message, message  # no pydantic union noise
    else:
        assert isinstance(result, Config)


@FUZZ
@given(document=mutated_documents())
def test_mutated_documents_give_config_or_config_error(document):
    _check(lambda: parse_config(document, source=SOURCE))


@FUZZ
@given(document=mutated_documents(), overrides=st.lists(st.one_of(
    st.text(max_size=20),
    st.builds(lambda key, value: f"{key}={value}",
              st.sampled_from(["tuning.max_evals", "data.streams.sales.path", "data.streams.1.format",
                               "data.streams.9.path", "name.x", "split", "models.search_space.linear.alpha",
                               "a..b", "data.joins.0.on"]),
              st.text(max_size=10) | st.sampled_from(["5", "[1, 2]", "{a: 1}", "null", "{", "x: y: z"]))),
    max_size=3))
def test_overrides_give_config_or_config_error(document, overrides):
    _check(lambda: parse_config(document, source=SOURCE, overrides=overrides))


@st.composite
def yaml_texts(draw):
    """Random text, or the valid document's YAML with a few characters inserted, deleted or replaced."""
    if draw(st.booleans()):
        return draw(st.text(max_size=200))
    text = yaml.safe_dump(VALID, sort_keys=False)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        junk = draw(st.sampled_from([":", "-", " ", "\n", "\t", "[", "{", "'", '"', "*", "&a", "!!python/object", "#",
                                     "%", "@", "`", "|", ">", "?", "\x00", "\ufeff"]) | st.text(max_size=3))
        cut = draw(st.integers(0, 3))
        text = text[:at] + junk + text[at + cut:]
    return text


@FUZZ
@given(text=yaml_texts())
def test_yaml_text_gives_config_or_config_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / SOURCE
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(lambda: load_config(path))


def test_the_unmutated_document_is_valid(monkeypatch):
    monkeypatch.delenv("FUZZ_OUTPUT", raising=False)
    assert parse_config(copy.deepcopy(VALID), source=SOURCE).output.path == "/tmp/out"
