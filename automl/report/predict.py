"""The prediction report: rows scored per scenario, errors, and each scenario's forecast after its history.

Like the training report, pandas in and one self-contained HTML page out (see :mod:`automl.report.page`).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from automl.errors import DataError
from automl.report.encode import key_text, run_meta, text_or_none
from automl.report.figures import bar_figure, histogram_figure
from automl.report.holdout import encode_rows, label_book
from automl.report.page import render_page

__all__ = ["build_predict_report", "predict_payload"]

_HISTORY_ROWS = 52   # history rows shown before the forecast, per scenario
_MAX_ERRORS = 50     # distinct error messages listed


def build_predict_report(predictions: pd.DataFrame, manifest: dict[str, Any], *, scenario_keys: list[str],
                         task: str, time_column: str | None, history: pd.DataFrame | None = None) -> str:
    """The whole self-contained HTML report of a prediction run.

    Args:
        predictions: the predictions table: scenario keys, sample ids or the time column, ``prediction``
            (``probability`` for classification), ``error`` (empty or null when the row was scored) and
            optionally ``model_run_id``.
        manifest: the run manifest (use_case, run_id, status, counts, wall_seconds, training_run_id, ...).
        scenario_keys: the config's scenario key columns.
        task: ``regression`` or ``classification``.
        time_column: the config's time column, if any.
        history: optional rows before the forecast (e.g. the training run's holdout): scenario keys, the time
            column and ``actual``; its last 52 rows per scenario are drawn before the forecast.

    Example:
        ``write_report(build_predict_report(predictions, manifest, scenario_keys=["store"],
        task="regression", time_column="week", history=holdout), run_dir / "report.html")``
    """
    payload = predict_payload(predictions, manifest, scenario_keys=scenario_keys, task=task,
                              time_column=time_column, history=history)
    return render_page(payload)


def predict_payload(predictions: pd.DataFrame | None, manifest: dict[str, Any], *, scenario_keys: list[str],
                    task: str, time_column: str | None, history: pd.DataFrame | None = None) -> dict[str, Any]:
    """The data the page embeds (see :func:`build_predict_report`)."""
    frame = pd.DataFrame() if predictions is None else predictions.reset_index(drop=True)
    if len(frame) and (missing := [k for k in scenario_keys if k not in frame.columns]):
        raise DataError(f"predictions: scenario key column(s) {missing} missing; columns are {list(frame.columns)}")
    if not len(frame):
        frame = pd.DataFrame({k: [] for k in scenario_keys})
    for column in ("prediction", "error", "model_run_id"):
        if column not in frame.columns:
            frame[column] = None
    labels = _key_labels(frame, scenario_keys)
    scenarios = pd.Index(sorted(set(labels)))
    index = scenarios.get_indexer(labels)
    error = frame["error"].map(text_or_none).map(lambda v: v if v and v.strip() else None)
    failed = error.notna().to_numpy()
    n = len(scenarios)
    rows = np.bincount(index[~failed], minlength=n) if n else np.zeros(0, dtype=int)
    errors = np.bincount(index[failed], minlength=n) if n else np.zeros(0, dtype=int)
    book = label_book(frame, ("prediction",)) if task == "classification" else None
    forecast = encode_rows(frame.loc[~failed], index[~failed], n, time_column=time_column,
                           numbers=["probability"] if book else ["prediction"],
                           labels=["prediction"] if book else [], book=book)
    if book:
        forecast["labels"] = book.names
    tail, notes = _history(history, scenarios, scenario_keys, time_column)
    first_error = error.groupby(index).first() if n else pd.Series(dtype=object)
    model_run = frame["model_run_id"].map(text_or_none).groupby(index).first() if n else pd.Series(dtype=object)
    keys = {k: frame[k].map(key_text).groupby(index).first() if n else pd.Series(dtype=object)
            for k in scenario_keys}
    return {
        "kind": "predict",
        "meta": run_meta(manifest),
        "task": task,
        "scenario_keys": list(scenario_keys),
        "time_column": time_column,
        "cards": [["scenarios", n], ["rows scored", int(rows.sum())], ["rows with an error", int(errors.sum())],
                  ["scenarios with errors", int((errors > 0).sum())]],
        "figures": {
            "rows": histogram_figure(rows, title="Rows scored per scenario", x_title="rows", bins=20),
            "errors": _error_figure(error[failed]),
        },
        "tables": _error_table(error, index, failed, errors),
        "scenarios": {
            "id": scenarios.tolist(),
            "keys": [[keys[k].get(i) for i in range(n)] for k in scenario_keys],
            "rows": rows.tolist(),
            "errors": errors.tolist(),
            "error": [first_error.get(i) for i in range(n)],
            "model_run": [model_run.get(i) for i in range(n)],
            "forecast_start": forecast.pop("start"),
            "forecast_length": forecast.pop("length"),
            "history_start": tail.pop("start"),
            "history_length": tail.pop("length"),
        },
        "forecast": forecast,
        "history": tail,
        "notes": notes,
    }


def _key_labels(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    """One identity per scenario: its key values as text (the predictions table has no scenario_id)."""
    if not len(frame):
        return []
    texts = [frame[k].map(key_text) for k in keys]
    return ["|".join(parts) for parts in zip(*texts)] if texts else ["(all)"] * len(frame)


def _history(history: pd.DataFrame | None, scenarios: pd.Index, keys: list[str], time_column: str | None
             ) -> tuple[dict[str, Any], list[str]]:
    """The last rows of each scenario's history (actuals), matched to the predicted scenarios by keys."""
    empty: dict[str, Any] = {"start": [0] * len(scenarios), "length": [0] * len(scenarios)}
    if history is None or not len(history):
        return empty, []
    missing = [c for c in [*keys, "actual", *([time_column] if time_column else [])] if c not in history.columns]
    if missing or not time_column:
        reason = f"lacks column(s) {missing}" if missing else "needs a time column"
        return empty, [f"The history {reason}: forecasts are drawn without it."]
    frame = history.reset_index(drop=True)
    frame = frame.assign(_t=pd.to_datetime(frame[time_column], errors="coerce", utc=True))
    frame = frame.sort_values("_t", kind="stable").groupby(keys, dropna=False, sort=False).tail(_HISTORY_ROWS)
    index = scenarios.get_indexer(_key_labels(frame, keys))
    return encode_rows(frame.drop(columns="_t"), index, len(scenarios), time_column=time_column,
                       numbers=["actual"], labels=[], book=None), []


def _error_figure(errors: pd.Series) -> dict[str, Any] | None:
    counts = Counter(str(e).splitlines()[0][:80] for e in errors)
    labels = [name for name, _ in counts.most_common(10)]
    return bar_figure(labels, [counts[name] for name in labels], title="Most common errors",
                      x_title="error", y_title="rows")


def _error_table(error: pd.Series, index: np.ndarray, failed: np.ndarray, per_scenario: np.ndarray
                 ) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    for message, i in zip(error[failed].tolist(), index[failed].tolist()):
        groups.setdefault(message.splitlines()[0][:300], []).append(i)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))[:_MAX_ERRORS]
    return {
        "errors": [{"error": m, "rows": len(ix), "scenarios": len(set(ix)), "examples": sorted(set(ix))[:5]}
                   for m, ix in ordered],
        "n_error_scenarios": int((per_scenario > 0).sum()),
    }
