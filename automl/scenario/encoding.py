"""Column kinds remembered at fit, checked at prediction, and dates turned into calendar parts.

A model trained on a numeric column must not score strings such as ``"oops"`` as missing values without a
word: :func:`convert_like` converts prediction columns to the kinds seen in training and names the column
and a value that does not convert. A date that is not the time column becomes its calendar parts, which
future dates share with past ones, unlike the timestamp itself.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from automl.errors import ScenarioError

__all__ = ["CALENDAR_PARTS", "calendar_parts", "column_kinds", "convert_like"]

CALENDAR_PARTS = ("year", "month", "dayofyear", "dayofweek", "hour")


def calendar_parts(name: str, column: pd.Series) -> dict[str, np.ndarray]:
    """``<name>.year``, ``.month``, ``.dayofyear``, ``.dayofweek``, ``.hour`` as floats (NaN when missing)."""
    times = pd.to_datetime(column, errors="coerce")
    return {f"{name}.{part}": getattr(times.dt, part).astype("Float64").to_numpy("float64", na_value=np.nan)
            for part in CALENDAR_PARTS}


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """``numeric``, ``datetime`` or ``category`` per column, as the training rows hold them."""
    kinds = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_datetime64_any_dtype(column):
            kinds[name] = "datetime"
        elif pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
            kinds[name] = "numeric"
        else:
            kinds[name] = "category"
    return kinds


def convert_like(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """``frame`` with numeric and date columns converted to the kind they had in training.

    Raises:
        ScenarioError: a value that does not convert, e.g. ``"oops"`` in a numeric column.
    """
    converted = {}
    for name, kind in kinds.items():
        if name not in frame.columns or kind == "category":
            continue
        column = frame[name]
        if kind == "numeric" and not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
            values = pd.to_numeric(column.astype(object), errors="coerce")
        elif kind == "datetime" and not pd.api.types.is_datetime64_any_dtype(column):
            values = pd.to_datetime(column, errors="coerce", format="mixed")
        else:
            continue
        bad = column.notna() & values.isna()
        if bad.any():
            example = column[bad].iloc[0]
            raise ScenarioError(f"column {name!r} was {kind} in training but the prediction input holds values "
                                f"that are not (e.g. {example!r} in {int(bad.sum())} rows)")
        converted[name] = values
    return frame.assign(**converted) if converted else frame
