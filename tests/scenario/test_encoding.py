"""Prediction columns are checked against their training kinds; dates become calendar parts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl.errors import ScenarioError
from automl.scenario.encoding import calendar_parts, column_kinds, convert_like


def test_kinds_of_training_columns():
    frame = pd.DataFrame({"n": [1.5], "i": [2], "b": [True], "d": pd.to_datetime(["2024-01-01"]), "s": ["x"]})
    assert column_kinds(frame) == {"n": "numeric", "i": "numeric", "b": "numeric", "d": "datetime",
                                   "s": "category"}


def test_a_value_that_is_not_a_number_is_named_not_scored_as_missing():
    kinds = {"price": "numeric", "region": "category"}
    new = pd.DataFrame({"price": ["2.5", "oops", None], "region": ["north", "east", "west"]})
    with pytest.raises(ScenarioError, match=r"column 'price' was numeric in training but .* \(e.g. 'oops' in 1 rows\)"):
        convert_like(new, kinds)


def test_numbers_arriving_as_text_are_converted():
    converted = convert_like(pd.DataFrame({"price": ["2.5", None], "when": ["2024-01-01", None]}),
                             {"price": "numeric", "when": "datetime"})
    assert converted["price"].tolist()[0] == 2.5 and np.isnan(converted["price"].tolist()[1])
    assert converted["when"].iloc[0] == pd.Timestamp("2024-01-01") and pd.isna(converted["when"].iloc[1])


def test_a_bad_date_is_named():
    with pytest.raises(ScenarioError, match=r"column 'when' was datetime .*'soon'"):
        convert_like(pd.DataFrame({"when": ["2024-01-01", "soon"]}), {"when": "datetime"})


def test_calendar_parts_of_a_timestamp():
    parts = calendar_parts("departed", pd.Series(pd.to_datetime(["2024-03-01 14:30", None])))
    assert list(parts) == ["departed.year", "departed.month", "departed.dayofyear", "departed.dayofweek",
                           "departed.hour"]
    assert [parts[k][0] for k in parts] == [2024, 3, 61, 4, 14]
    assert all(np.isnan(parts[k][1]) for k in parts)
