"""Compact, safe encodings for the data a report embeds: rounded numbers, code books, times, JSON.

At 10,000 scenarios the embedded data, not the plotting library, decides the file size, so every array is
columnar, floats carry a handful of significant digits, repeated strings (features, families, labels) are
stored once in a code book, and times are whole days (or seconds) since the epoch.
"""
from __future__ import annotations

import json
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["CodeBook", "embed_json", "encode_times", "histogram", "key_text", "parse_json_cell", "round_float",
           "round_floats", "run_meta", "text_or_none"]

# Characters that could end the <script> element or open markup if a JSON string held them. JSON allows
# \uXXXX escapes anywhere in a string, so the parsed values are unchanged.
_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def round_float(value: Any, digits: int = 4) -> float | None:
    """``value`` with ``digits`` significant digits; None for NaN, infinities and non-numbers."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return float(f"{number:.{digits}g}")


def round_floats(values: Iterable[Any], digits: int = 4) -> list[float | None]:
    """Round an array of numbers (see :func:`round_float`); the JSON stays short and the plots exact enough."""
    array = pd.to_numeric(pd.Series(list(values) if not isinstance(values, pd.Series) else values),
                          errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in array.tolist()]


def text_or_none(value: Any, limit: int = 2000) -> str | None:
    """A display string for a cell, None for missing values; long texts are cut at ``limit`` characters."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " …"


def key_text(value: Any) -> str:
    """A scenario key value as shown and searched: its text, ``null`` when missing."""
    text = text_or_none(value, 500)
    return "null" if text is None else text


def run_meta(manifest: dict[str, Any] | None) -> dict[str, Any]:
    """The manifest fields the header shows, as text (the manifest's types vary with its writer)."""
    manifest = manifest or {}
    fields = ["use_case", "run_id", "kind", "status", "data_fingerprint", "started_at", "finished_at",
              "wall_seconds", "tracking_uri", "model_run_id", "training_run_id"]
    meta = {f: text_or_none(manifest.get(f), 500) for f in fields if manifest.get(f) is not None}
    counts = manifest.get("counts")
    if isinstance(counts, dict):
        meta["counts"] = ", ".join(f"{k} {v}" for k, v in counts.items())
    pooled = manifest.get("pooled_slopes")
    if isinstance(pooled, dict):  # a training run's first pass (automl.scenario.pooling)
        meta["pooled_slopes"] = (f"{'used' if pooled.get('trusted') else 'not used'}: {pooled.get('scenarios')} "
                                 f"scenarios, {pooled.get('inputs')} inputs, {float(pooled.get('gain', 0)):.1%} less "
                                 f"squared error than their means, {float(pooled.get('helped', 0)):.0%} of them "
                                 f"helped, {float(pooled.get('versus_own', 0)):.2f}x the error of their own slopes")
    replacements = manifest.get("default_replacements")
    if isinstance(replacements, dict):  # a time-indexed training run (automl.jobs.summary.default_replacements)
        replaced, rejected = int(replacements.get("replaced", 0)), int(replacements.get("rejected_on_holdout", 0))
        meta["default_replacements"] = (f"replaced in {replaced} series; {rejected} more beat it on validation and "
                                        f"lost to it on the holdout ({replaced / max(1, replaced + rejected):.0%} "
                                        f"held)")
    return meta


def parse_json_cell(value: Any) -> Any:
    """A JSON-string cell parsed, the raw text if it is not valid JSON, None if missing."""
    text = text_or_none(value, limit=100_000)
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class CodeBook:
    """Strings stored once: ``code("lag_1") -> 3`` and ``names`` for the page to look codes up."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._codes: dict[str, int] = {}

    def code(self, name: Any) -> int:
        """The code of ``name`` (as text), adding it on first sight."""
        text = str(name)
        if text not in self._codes:
            self._codes[text] = len(self.names)
            self.names.append(text)
        return self._codes[text]


def encode_times(values: pd.Series) -> tuple[list[float | None], str]:
    """Times as numbers since the epoch: whole days when every value is midnight, else seconds (UTC).

    Returns the numbers and their unit (``"day"`` or ``"s"``); the page turns them back into dates.
    """
    times = pd.to_datetime(values, errors="coerce", utc=True)
    nanos = times.to_numpy(dtype="datetime64[ns]").astype("int64")
    valid = ~times.isna().to_numpy()
    day = 86_400 * 10**9
    if (nanos[valid] % day == 0).all():
        return [int(n // day) if ok else None for n, ok in zip(nanos.tolist(), valid)], "day"
    return [round(n / 1e9, 3) if ok else None for n, ok in zip(nanos.tolist(), valid)], "s"


def histogram(values: Iterable[Any], *, bins: int = 30, clip: tuple[float, float] | None = None
              ) -> dict[str, list[float]] | None:
    """Bin centres, counts and width over the finite values (clipped into ``clip`` first); None if none.

    Counting in Python keeps the page from shipping one number per scenario for an aggregate plot.
    """
    array = pd.to_numeric(pd.Series(list(values)), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return None
    if clip is not None:
        array = np.clip(array, *clip)
    low, high = float(array.min()), float(array.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(array, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    return {"x": round_floats(centres, 5), "count": counts.tolist(), "width": round_float(edges[1] - edges[0], 5)}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    if isinstance(value, (set, tuple, np.ndarray)):
        return list(value)
    return str(value)


def _finite(value: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers and ``JSON.parse`` would reject them."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def embed_json(payload: Any) -> str:
    """JSON text safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` survive.

    Example: ``embed_json({"k": "</script>"}) == '{"k":"\\\\u003c/script\\\\u003e"}'``.
    """
    options: dict[str, Any] = {"separators": (",", ":"), "ensure_ascii": False, "allow_nan": False,
                               "default": _json_default}
    try:
        text = json.dumps(payload, **options)
    except ValueError:  # a NaN slipped through (e.g. inside a parameters cell): walk the payload once
        text = json.dumps(_finite(payload), **options)
    for char, escape in _SCRIPT_ESCAPES.items():
        text = text.replace(char, escape)
    return text
