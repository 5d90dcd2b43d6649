"""Rows per scenario (holdout samples, forecasts, history tails) as flat columns plus offsets.

All scenarios' rows are concatenated in scenario order; scenario ``i`` owns rows
``start[i] : start[i] + length[i]``. The page slices them when a scenario is opened, so nothing is drawn
for the thousands of scenarios nobody looks at.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from automl.report.encode import CodeBook, encode_times, round_floats

__all__ = ["encode_holdout", "encode_rows", "label_book"]

_LABEL_COLUMNS = ("actual", "prediction", "baseline")


def label_book(frame: pd.DataFrame, columns: tuple[str, ...], positive_class: Any = None) -> CodeBook:
    """Class labels in training's order (sorted, the positive class last for binary tasks), coded once."""
    values = pd.concat([frame[c] for c in columns if c in frame.columns], ignore_index=True).dropna().unique()
    labels = sorted(values.tolist(), key=lambda v: (str(type(v)), v))
    if positive_class is not None and len(labels) == 2:
        match = [v for v in labels if v == positive_class or str(v) == str(positive_class)]
        labels = [v for v in labels if not match or v != match[0]] + match[:1]
    book = CodeBook()
    for label in labels:
        book.code(label)
    return book


def encode_rows(frame: pd.DataFrame, index: np.ndarray, n_scenarios: int, *, time_column: str | None,
                numbers: list[str], labels: list[str], book: CodeBook | None) -> dict[str, Any]:
    """Columns of rows ordered by scenario ``index`` (then time), with ``start``/``length`` per scenario.

    ``numbers`` are rounded floats; ``labels`` are coded through ``book``; ``x`` holds the times (unit in
    ``x_unit``) when ``time_column`` is a column of ``frame``.
    """
    keep = index >= 0
    frame, index = frame.loc[keep].reset_index(drop=True), index[keep]
    has_time = bool(time_column) and time_column in frame.columns
    order_by = pd.DataFrame({"scenario": index, "position": np.arange(len(index))})
    if has_time:
        order_by.insert(1, "time", pd.to_datetime(frame[time_column], errors="coerce", utc=True))
    order = order_by.sort_values(list(order_by.columns), kind="stable").index.to_numpy()
    frame, index = frame.iloc[order].reset_index(drop=True), index[order]
    length = np.bincount(index, minlength=n_scenarios) if len(index) else np.zeros(n_scenarios, dtype=int)
    start = np.concatenate([[0], np.cumsum(length)[:-1]]) if n_scenarios else np.zeros(0, dtype=int)
    columns: dict[str, Any] = {"start": start.tolist(), "length": length.tolist()}
    if has_time:
        columns["x"], columns["x_unit"] = encode_times(frame[time_column])
    for name in numbers:
        if name in frame.columns:
            columns[name] = round_floats(frame[name], 5)
    for name in labels:
        if name in frame.columns and book is not None:
            columns[name] = [None if pd.isna(v) else book.code(v) for v in frame[name]]
    return columns


def encode_holdout(holdout: pd.DataFrame | None, ids: pd.Index, *, task: str, time_column: str | None,
                   positive_class: Any = None) -> tuple[dict[str, Any], list[str]]:
    """The holdout table as row columns per scenario, and notes on what could not be shown.

    Rows are matched to scenarios by ``scenario_id``; classification labels are coded, with the class list
    in ``labels`` and the class ``probability`` refers to in ``positive`` (binary tasks only).
    """
    empty = {"start": [0] * len(ids), "length": [0] * len(ids)}
    if holdout is None:
        return empty, ["No holdout table was given: per-scenario plots of actuals and predictions are absent."]
    missing = [c for c in ("scenario_id", "actual", "prediction") if c not in holdout.columns]
    if missing:
        return empty, [f"The holdout table lacks column(s) {missing}: per-scenario plots are absent."]
    index = ids.get_indexer(holdout["scenario_id"].astype(str))
    notes = []
    if (unknown := int((index < 0).sum())):
        notes.append(f"{unknown} holdout row(s) belong to no scenario of the results and are not shown.")
    if time_column and time_column not in holdout.columns:
        notes.append(f"The holdout table has no '{time_column}' column: holdout rows are plotted as a scatter.")
    if task == "classification":
        book = label_book(holdout, _LABEL_COLUMNS, positive_class)
        columns = encode_rows(holdout, index, len(ids), time_column=time_column, numbers=["probability"],
                              labels=list(_LABEL_COLUMNS), book=book)
        columns["labels"] = book.names
        columns["positive"] = book.names[-1] if len(book.names) == 2 else None
    else:
        columns = encode_rows(holdout, index, len(ids), time_column=time_column, numbers=list(_LABEL_COLUMNS),
                              labels=[], book=None)
    return columns, notes
