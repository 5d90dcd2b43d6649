"""Scenario identity: one injective id over typed key values, a readable label, a filesystem name, a seed.

``scenario_id`` is the identity used for every file, checkpoint, MLflow tag and lookup. It hashes a typed,
unambiguous encoding of the key values, so keys that print alike stay apart: a null and the string "None",
``1`` and ``"1"``, ``("x,b=y", "z")`` and ``("x", "y,b=z")``. The label is for people (``--scenario``); the
slug puts a readable prefix in front of the id for file names.
"""
from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import math
import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["NULL_TEXT", "scenario_id", "scenario_label", "scenario_seed", "scenario_slug", "to_python"]

# How a null key value is written in labels and typed after --scenario.
NULL_TEXT = "<null>"
_ID_HEX = 20  # 80 bits; the job layer also refuses a collision among a run's scenarios outright


def to_python(value: Any) -> Any:
    """A key value as a plain Python scalar, so ids, labels, seeds and lookups agree across processes.

    Nulls (None, NaN, NaT) become None. A whole float becomes an int: pandas turns an integer column with a
    null into floats, and the same scenario must keep its identity whichever rows travel with it.
    """
    if isinstance(value, np.datetime64):
        # .item() of a nanosecond datetime64 is an int: go through pandas, as Series.iloc[0] would.
        value = pd.Timestamp(value)
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer():
            return int(value)
    return value


def _typed(value: Any) -> list[str]:
    """``[type tag, text]``: equal for equal values of one type, different across types and for null."""
    value = to_python(value)
    if value is None:
        return ["null", ""]
    if isinstance(value, bool):
        return ["bool", str(value)]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, decimal.Decimal):
        return ["decimal", str(value.normalize())]
    if isinstance(value, datetime.datetime):
        return ["timestamp", value.isoformat()]
    if isinstance(value, datetime.date):
        return ["date", value.isoformat()]
    return ["string", str(value)]


def scenario_id(keys: Mapping[str, Any]) -> str:
    """The scenario's identity: a hash of the key names and typed values (hex, filesystem-safe)."""
    encoded = json.dumps([[name, *_typed(value)] for name, value in keys.items()], ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()[:_ID_HEX]


def _plain(value: Any) -> str:
    value = to_python(value)
    if value is None:
        return NULL_TEXT
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def scenario_label(keys: Mapping[str, Any]) -> str:
    """``store_id=1,item_id=7``: the form users type after ``--scenario`` (a null is ``<null>``)."""
    return ",".join(f"{name}={_plain(value)}" for name, value in keys.items())


def scenario_slug(keys: Mapping[str, Any]) -> str:
    """A file name for the scenario: a readable prefix, then its :func:`scenario_id`."""
    readable = re.sub(r"[^A-Za-z0-9_.=-]+", "_", scenario_label(keys))[:60]
    return f"{readable}-{scenario_id(keys)}"


def scenario_seed(base_seed: int, keys: Mapping[str, Any]) -> int:
    """Seed from the configured seed and the keys only, so results never depend on task or order."""
    digest = hashlib.sha256(f"{base_seed}|{scenario_label(keys)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
