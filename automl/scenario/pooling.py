"""Slopes pooled across scenarios: evidence a small scenario cannot gather alone.

A school of 36 pupils cannot confirm that a pupil's family background moves its exam score; 160 schools of
7,000 pupils can. A training job therefore makes two passes when pooling applies (regression without time
order, ``models.pooled_slopes``): the first returns, per scenario, the :class:`Moments` of its training rows, each
input and the target centred on the scenario's own means (so scenarios keep their own levels); the driver
adds them up (:class:`PooledEvidence`). In the second, each scenario gets one slope per input fitted on the
*other* scenarios' moments (its own subtracted), so its validation folds and holdout never saw its own
rows. Their sum over a row's inputs is a feature, ``pooled_effect``, and the scenario's default forecast
becomes its own mean plus that effect (``pooled_slopes``), which a tuned model must beat on every fold.

Whether the slopes are worth it is decided once, across scenarios: each scenario's left-out slopes are scored
on its own training rows (from the moments alone), and they are trusted when they lower the squared error of
the scenarios' own means by :data:`MIN_GAIN` overall and in at least half of the scenarios, and make less error
in total than each scenario's own least-squares slopes can be expected to (:meth:`Moments.own_fit_error`):
scenarios with slopes of their own and little noise keep their own models. A scenario alone cannot tell
(docs/benchmarks.md: per-school decisions on 36 rows are coin flips).

Inputs: numbers and booleans as they are, text and categories with at most :data:`MAX_LEVELS` levels as
one 0/1 column per level, at most :data:`MAX_INPUTS` columns in all (the first ones by name). A missing value
counts as the scenario's mean (no contribution).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

__all__ = ["MAX_INPUTS", "MAX_LEVELS", "MIN_GAIN", "POOLED_EFFECT", "Moments", "PooledEffect", "PooledEvidence",
           "assemble", "design", "input_columns", "number_matrix", "text_values"]

POOLED_EFFECT = "pooled_effect"
MAX_LEVELS = 10
MAX_INPUTS = 40
# Share of the scenario means' squared error the left-out slopes must remove, summed over scenarios.
MIN_GAIN = 0.01
# Ridge penalty as a share of each input's own sum of squares: keeps a rare level's slope finite.
_RIDGE = 1e-3

Input = tuple[str, "str | None"]  # (column, level): a number, or a 0/1 indicator of one level of a text column


def design(rows: pd.DataFrame, exclude: Iterable[str]) -> pd.DataFrame:
    """The pooled inputs of ``rows`` as float columns named by :func:`_name`; datetimes and text columns of
    more than :data:`MAX_LEVELS` levels are left out."""
    numeric, text = input_columns(rows, exclude)
    values = number_matrix(rows, numeric)
    levels = [(name, *pd.factorize(text_values(rows[name]), sort=True)) for name in text]
    names, matrix = assemble(numeric, values, levels)
    return pd.DataFrame(matrix, columns=names, index=rows.index)


def input_columns(rows: pd.DataFrame, exclude: Iterable[str]) -> tuple[list[str], list[str]]:
    """The columns :func:`design` reads: numbers and booleans, and text (anything else but datetimes)."""
    skipped = set(exclude)
    numeric, text = [], []
    for name, dtype in rows.dtypes.items():
        if name in skipped or pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        (numeric if _is_number(dtype) else text).append(name)
    return numeric, text


def number_matrix(rows: pd.DataFrame, numeric: list[str]) -> np.ndarray:
    """The number columns as floats, infinities missing."""
    values = rows[numeric].to_numpy(dtype="float64", na_value=np.nan) if numeric else np.empty((len(rows), 0))
    values[np.isinf(values)] = np.nan
    return values


def text_values(column: pd.Series) -> pd.Series:
    """A text column's values as the strings its levels are named by (missing stays missing)."""
    return column.astype(str).where(column.notna())


def assemble(numeric: list[str], values: np.ndarray,
             texts: Iterable[tuple[str, np.ndarray, Any]]) -> tuple[list[str], np.ndarray]:
    """The pooled inputs' names and matrix from the number columns and each text column's level codes (-1:
    missing) into ``levels``: one 0/1 column per level present, for a column with at most :data:`MAX_LEVELS`."""
    columns = {_name((name, None)): values[:, i] for i, name in enumerate(numeric)}
    for name, codes, levels in texts:
        present = np.unique(codes[codes >= 0])
        if len(present) <= MAX_LEVELS:
            for code in present:
                columns[_name((name, levels[code]))] = np.where(codes < 0, np.nan, (codes == code).astype("float64"))
    kept = sorted(columns, key=_parse)[:MAX_INPUTS]
    matrix = np.column_stack([columns[name] for name in kept]) if kept else np.empty((len(values), 0))
    return kept, matrix


@dataclass
class Moments:
    """One scenario's centred cross-products: ``xtx`` = X'X, ``xty`` = X'y and ``yty`` = y'y of its inputs
    (``names``) and target, each centred on the scenario's own mean (a missing input counts as that mean)."""

    names: list[str]
    n: int
    xtx: np.ndarray
    xty: np.ndarray
    yty: float

    @classmethod
    def of(cls, inputs: pd.DataFrame, target: np.ndarray) -> Moments:
        return cls.of_matrix(list(inputs.columns), inputs.to_numpy(dtype="float64"), target)

    @classmethod
    def of_matrix(cls, names: list[str], x: np.ndarray, target: np.ndarray) -> Moments:
        known = np.isfinite(x)
        means = np.divide(np.where(known, x, 0.0).sum(axis=0), known.sum(axis=0), out=np.zeros(x.shape[1]),
                          where=known.any(axis=0))
        x = np.where(known, x - means, 0.0)  # a missing value counts as the mean; an all-missing column is zeros
        y = np.asarray(target, dtype="float64") - float(np.mean(target))
        return cls(list(names), len(y), x.T @ x, x.T @ y, float(y @ y))

    def to_json(self) -> str:
        return json.dumps({"names": self.names, "n": self.n, "xtx": self.xtx.ravel().tolist(),
                           "xty": self.xty.tolist(), "yty": self.yty})

    @classmethod
    def from_json(cls, text: str) -> Moments:
        data = json.loads(text)
        p = len(data["names"])
        return cls(data["names"], int(data["n"]), np.asarray(data["xtx"], dtype="float64").reshape(p, p),
                   np.asarray(data["xty"], dtype="float64"), float(data["yty"]))

    def own_fit_error(self) -> float:
        """The squared error the scenario's own least-squares slopes can be expected to make on new rows: their
        error on its rows inflated for what they fitted (generalised cross-validation)."""
        fitted = (np.linalg.matrix_rank(self.xtx) + 1) / self.n  # the slopes and the scenario's mean
        if fitted >= 1.0:
            return np.inf
        slopes = np.linalg.lstsq(self.xtx, self.xty, rcond=None)[0]
        return max(self.yty - float(slopes @ self.xty), 0.0) / (1.0 - fitted) ** 2

    def aligned(self, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``xtx`` and ``xty`` over ``names`` (zeros for inputs this scenario does not have)."""
        where = {name: i for i, name in enumerate(names)}
        index = np.array([where[name] for name in self.names], dtype="int64")
        xtx, xty = np.zeros((len(names), len(names))), np.zeros(len(names))
        xtx[np.ix_(index, index)] = self.xtx
        xty[index] = self.xty
        return xtx, xty


@dataclass
class PooledEvidence:
    """Every scenario's moments summed, and whether slopes fitted on them are trusted (module docstring)."""

    names: list[str]
    xtx: np.ndarray
    xty: np.ndarray
    scenarios: int
    gain: float  # share of the scenario means' squared error the left-out slopes remove, over all scenarios
    helped: float  # share of scenarios whose squared error they lower
    trusted: bool = False
    versus_own: float = 0.0  # their squared error over that of each scenario's own slopes (below 1: better)

    @classmethod
    def combine(cls, moments: Iterable[Moments]) -> PooledEvidence:
        """Sum the moments (in the order given: pass them sorted, so the same input gives the same sums)."""
        parts = [m for m in moments if m.n > 1 and m.names]
        names = sorted({name for m in parts for name in m.names})
        aligned = [m.aligned(names) for m in parts]
        xtx = sum((a for a, _ in aligned), np.zeros((len(names), len(names))))
        xty = sum((b for _, b in aligned), np.zeros(len(names)))
        evidence = cls(names, xtx, xty, len(parts), 0.0, 0.0)
        if len(parts) < 2:
            return evidence
        errors = np.array([evidence._left_out_error(m, own_xtx, own_xty) for m, (own_xtx, own_xty) in
                           zip(parts, aligned)])
        base = np.array([m.yty for m in parts])
        evidence.gain = 1.0 - errors.sum() / base.sum() if base.sum() > 0 else 0.0
        evidence.helped = float(np.mean(errors < base))
        own = np.array([m.own_fit_error() for m in parts])
        fitted = np.isfinite(own)  # a scenario with fewer rows than slopes has no own fit to compare with
        evidence.versus_own = errors[fitted].sum() / own[fitted].sum() if own[fitted].sum() > 0 else 0.0
        evidence.trusted = evidence.gain >= MIN_GAIN and evidence.helped >= 0.5 and evidence.versus_own < 1.0
        return evidence

    def slopes_without(self, own: Moments | None) -> dict[str, float]:
        """Slopes fitted on every scenario's moments but ``own`` (a scenario's own training rows)."""
        xtx, xty = self.xtx, self.xty
        if own is not None and own.n > 1 and own.names:
            own_xtx, own_xty = own.aligned(self.names)
            xtx, xty = xtx - own_xtx, xty - own_xty
        return dict(zip(self.names, self._solve(xtx, xty).tolist()))

    def describe(self) -> dict[str, Any]:
        return {"scenarios": self.scenarios, "inputs": len(self.names), "gain": round(float(self.gain), 4),
                "helped": round(float(self.helped), 4), "versus_own": round(float(self.versus_own), 4),
                "trusted": bool(self.trusted)}

    def _left_out_error(self, own: Moments, own_xtx: np.ndarray, own_xty: np.ndarray) -> float:
        """The squared error on ``own``'s rows of the slopes fitted on every other scenario."""
        slopes = self._solve(self.xtx - own_xtx, self.xty - own_xty)
        return float(own.yty - 2.0 * slopes @ own_xty + slopes @ own_xtx @ slopes)

    @staticmethod
    def _solve(xtx: np.ndarray, xty: np.ndarray) -> np.ndarray:
        if not len(xty):
            return xty
        ridge = _RIDGE * np.diag(xtx) + 1e-12
        return np.linalg.lstsq(xtx + np.diag(ridge), xty, rcond=None)[0]


class PooledEffect:
    """The pooled slopes applied to one scenario's rows: sum of slope x (input - the scenario's mean).

    Fitted on the scenario's training rows (their means fill missing values); travels inside the model, so
    prediction computes the same feature.
    """

    def __init__(self, slopes: dict[str, float]) -> None:
        self.slopes = {name: value for name, value in slopes.items() if value != 0.0}

    def fit(self, rows: pd.DataFrame) -> PooledEffect:
        values = self._inputs(rows)
        self.means_ = {name: float(np.nanmean(v)) if np.isfinite(v).any() else 0.0 for name, v in values.items()}
        return self

    def transform(self, rows: pd.DataFrame) -> np.ndarray:
        effect = np.zeros(len(rows))
        for name, values in self._inputs(rows).items():
            centred = values - self.means_[name]
            effect += self.slopes[name] * np.where(np.isfinite(centred), centred, 0.0)
        return effect

    def describe(self) -> dict[str, float]:
        """The slopes by input, ``column`` or ``column.level`` (``best_params``; MLflow's characters only)."""
        return {_label(name): round(value, 6) for name, value in self.slopes.items()}

    def _inputs(self, rows: pd.DataFrame) -> dict[str, np.ndarray]:
        values = {}
        for name in self.slopes:
            column, level = _parse(name)
            if column not in rows.columns:
                values[name] = np.full(len(rows), np.nan)
            else:
                values[name] = _numbers(rows[column]) if level is None else _indicator(rows[column], level)
        return values


@functools.lru_cache(maxsize=4096)  # the first pass names the same inputs for every scenario
def _name(source: Input) -> str:
    return json.dumps(list(source))


@functools.lru_cache(maxsize=4096)
def _parse(name: str) -> Input:
    column, level = json.loads(name)
    return column, level


def _label(name: str) -> str:
    column, level = _parse(name)
    return re.sub(r"[^\w.\- ]", "_", column if level is None else f"{column}.{level}")


def _is_number(column: pd.Series | np.dtype) -> bool:
    return pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column)


def _numbers(column: pd.Series) -> np.ndarray:
    if not _is_number(column):
        column = pd.to_numeric(column.astype(object), errors="coerce")
    values = column.to_numpy(dtype="float64", na_value=np.nan)
    values[np.isinf(values)] = np.nan
    return values


def _indicator(column: pd.Series, level: str) -> np.ndarray:
    values = text_values(column)
    return np.where(values.isna(), np.nan, (values == level).astype("float64"))
