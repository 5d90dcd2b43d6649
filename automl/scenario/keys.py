"""Scenario identity: a readable label, a filesystem-safe slug and a seed that depends only on the keys."""
from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["scenario_label", "scenario_seed", "scenario_slug", "to_python"]


def _plain(value: Any) -> str:
    # numpy scalars and Python scalars of equal value must give the same text (int64(1) == 1).
    value = to_python(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def scenario_label(keys: Mapping[str, Any]) -> str:
    """``store_id=1,item_id=7``: the form users type after ``--scenario``."""
    return ",".join(f"{name}={_plain(value)}" for name, value in keys.items())


def scenario_slug(keys: Mapping[str, Any]) -> str:
    """A short, unique, filesystem-safe name for a scenario's files."""
    label = scenario_label(keys)
    readable = re.sub(r"[^A-Za-z0-9_.=-]+", "_", label)[:60]
    return f"{readable}-{hashlib.sha1(label.encode()).hexdigest()[:10]}"


def scenario_seed(base_seed: int, keys: Mapping[str, Any]) -> int:
    """Seed from the configured seed and the keys only, so results never depend on task or order."""
    digest = hashlib.sha256(f"{base_seed}|{scenario_label(keys)}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def to_python(value: Any) -> Any:
    """A key value as a plain Python scalar, so labels, seeds and lookups agree across processes."""
    if isinstance(value, np.datetime64):
        # .item() of a nanosecond datetime64 is an int: go through pandas, as Series.iloc[0] would.
        value = pd.Timestamp(value)
    if value is pd.NaT:
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    return value.item() if hasattr(value, "item") else value
