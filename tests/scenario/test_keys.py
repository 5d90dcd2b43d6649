"""Scenario identity: the same keys give the same label, slug and seed, however the values were read."""
from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
import pytest

from automl.scenario.keys import scenario_id, scenario_label, scenario_seed, scenario_slug, to_python


def test_label_is_what_users_type():
    assert scenario_label({"store_id": 1, "item": "a b"}) == "store_id=1,item=a b"


@pytest.mark.parametrize(("numpy_value", "python_value"), [
    (np.int64(7), 7),
    (np.float64(2.5), 2.5),
    (np.bool_(True), True),
    (np.str_("x"), "x"),
    (np.datetime64("2021-01-04T00:00:00.000000000"), datetime.datetime(2021, 1, 4)),
    (pd.Timestamp("2021-01-04"), datetime.datetime(2021, 1, 4)),
])
def test_numpy_pandas_and_python_values_agree(numpy_value, python_value):
    assert to_python(numpy_value) == python_value
    assert type(to_python(numpy_value)) is type(python_value)
    assert scenario_label({"k": numpy_value}) == scenario_label({"k": python_value})
    assert scenario_seed(1, {"k": numpy_value}) == scenario_seed(1, {"k": python_value})


def test_datetime_keys_read_by_position_or_from_the_array_agree():
    column = pd.Series(pd.to_datetime(["2021-01-04"]))
    assert scenario_label({"week": column.iloc[0]}) == scenario_label({"week": column.to_numpy()[0]})
    assert scenario_label({"week": column.iloc[0]}) == "week=2021-01-04T00:00:00"


def test_missing_key_values_are_none():
    assert to_python(pd.NaT) is None and to_python(None) is None


def test_seed_depends_on_base_seed_and_keys_only():
    seed = scenario_seed(42, {"store": 1})
    assert seed == scenario_seed(42, {"store": 1})
    assert 0 <= seed < 2**31
    assert seed != scenario_seed(43, {"store": 1})
    assert seed != scenario_seed(42, {"store": 2})


def test_slug_is_filesystem_safe_short_and_unique():
    awkward = {"path": "a/b c:*?", "long": "x" * 200}
    slug = scenario_slug(awkward)
    assert re.fullmatch(r"[A-Za-z0-9_.=-]+", slug)
    assert len(slug) <= 81
    assert scenario_slug({"k": "a/b"}) != scenario_slug({"k": "a_b"})  # same readable part, other hash
    assert scenario_slug(awkward) == slug


@pytest.mark.parametrize(("first", "second"), [
    ({"a": "x,b=y", "b": "z"}, {"a": "x", "b": "y,b=z"}),  # same label, same readable slug
    ({"a": None}, {"a": "None"}),
    ({"a": None}, {"a": "<null>"}),
    ({"a": 1}, {"a": "1"}),
    ({"a": True}, {"a": 1}),
    ({"a": 1.5}, {"a": "1.5"}),
    ({"a": datetime.date(2021, 1, 4)}, {"a": "2021-01-04"}),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # key order is part of the config, so part of the identity
])
def test_scenarios_that_print_alike_keep_distinct_ids_and_files(first, second):
    assert scenario_id(first) != scenario_id(second)
    assert scenario_slug(first) != scenario_slug(second)


def test_nulls_and_whole_floats_read_from_pandas_keep_the_identity_of_the_python_values():
    with_null = pd.Series([1, None], dtype="float64")  # an integer key column with a null, as pandas reads it
    assert scenario_id({"k": with_null.iloc[0]}) == scenario_id({"k": 1})
    assert scenario_id({"k": with_null.iloc[1]}) == scenario_id({"k": None}) == scenario_id({"k": pd.NaT})
    assert scenario_label({"k": with_null.iloc[1]}) == "k=<null>"
