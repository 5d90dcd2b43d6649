"""Featuretools enrichment whose definitions travel with the model.

``fit`` decides the features from the training rows' columns; ``transform`` computes them for any rows, and
the fitted enricher is pickled inside the model, so prediction applies exactly the same transformation.
Target lags and rolling windows look back at least ``horizon`` periods: a holdout or forecast row never
sees a target from its own period range. For prediction the enricher keeps the tail of the training history,
so future rows (with no target) get their lags from it.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from automl.config import FeaturesConfig

__all__ = ["FeatureEnricher"]

_ROW = "_automl_row"


class FeatureEnricher:
    """Featuretools DFS on one scenario's rows, followed by a numeric encoding every family accepts.

    Args:
        settings: the ``features`` section of the config.
        target: target column (used only through lags and rolling windows).
        time_column: time index, or None for data without time.
        horizon: periods between the last known target and the furthest row to predict.
        exclude: identifier columns that must never become features (scenario keys, sample ids).
    """

    def __init__(self, settings: FeaturesConfig, *, target: str, time_column: str | None, horizon: int,
                 exclude: list[str]) -> None:
        self.settings = settings
        self.target = target
        self.time_column = time_column
        self.horizon = horizon
        self.exclude = exclude

    def fit(self, frame: pd.DataFrame) -> FeatureEnricher:
        """Decide the raw columns and feature definitions from (training) rows sorted by time."""
        dropped = {*self.exclude, *self.settings.drop_columns}
        self.raw_columns_ = [c for c in frame.columns if c not in dropped]
        self.uses_featuretools_ = self.settings.enabled and bool(
            self.settings.trans_primitives or self.settings.target_lags or self.settings.target_windows)
        raw = frame[self.raw_columns_]
        self.definitions_ = self._define(raw) if self.uses_featuretools_ else None
        computed = self._compute(raw)
        self.categories_ = {c: sorted(computed[c].dropna().unique().tolist(), key=str)
                            for c in computed.columns if not _is_numeric(computed[c])}
        self.history_ = frame.iloc[0:0][self.raw_columns_]
        return self

    def remember_history(self, frame: pd.DataFrame) -> None:
        """Keep the latest rows that future rows' lags and windows can reach back to."""
        reach = max([*self.settings.target_lags, 0]) + max([*self.settings.target_windows, 0]) + self.horizon
        self.history_ = frame[self.raw_columns_].tail(reach if self.time_column else 0).reset_index(drop=True)

    def transform(self, frame: pd.DataFrame, *, with_history: bool = False) -> pd.DataFrame:
        """Numeric feature matrix aligned with ``frame``'s index.

        With ``with_history`` the remembered training tail is prepended first (prediction of future rows).
        """
        rows = frame[[c for c in self.raw_columns_ if c in frame.columns]].copy()
        if self.target not in rows.columns:
            rows[self.target] = np.nan
        if with_history and len(self.history_):
            combined = pd.concat([self.history_, rows], ignore_index=True)
            computed = self._compute(combined).iloc[len(self.history_):]
        else:
            computed = self._compute(rows.reset_index(drop=True))
        computed.index = frame.index
        return self._encode(computed)

    def _define(self, frame: pd.DataFrame) -> list:
        import featuretools as ft
        from featuretools.primitives import Lag, RollingMean

        settings, target, time = self.settings, self.target, self.time_column
        target_only = {"include_columns": {"rows": [target, time]}} if time else {}
        lags = [Lag(periods=p) for p in settings.target_lags]
        windows = [RollingMean(window_length=w, gap=self.horizon, min_periods=1) for w in settings.target_windows]
        options: dict = {name: {"ignore_columns": {"rows": [target]}} for name in settings.trans_primitives}
        if lags:
            options["lag"] = target_only
        if windows:
            options["rolling_mean"] = target_only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # featuretools warns about unused primitives on small frames
            definitions = ft.dfs(entityset=self._entityset(frame.head(50)), target_dataframe_name="rows",
                                 trans_primitives=[*settings.trans_primitives, *lags, *windows],
                                 agg_primitives=[], max_depth=settings.max_depth, features_only=True,
                                 primitive_options=options)
        # The target itself (identity feature) and raw timestamps are never model inputs.
        return [d for d in definitions if d.get_name() not in (target, time)]

    def _compute(self, rows: pd.DataFrame) -> pd.DataFrame:
        if self.definitions_ is None:
            kept = [c for c in self.raw_columns_ if c not in (self.target, self.time_column)]
            return rows[kept].reset_index(drop=True)
        import featuretools as ft

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matrix = ft.calculate_feature_matrix(self.definitions_, entityset=self._entityset(rows))
        return matrix.sort_index().reset_index(drop=True)

    def _entityset(self, rows: pd.DataFrame):
        import featuretools as ft

        frame = rows.reset_index(drop=True)
        frame.insert(0, _ROW, np.arange(len(frame)))
        entityset = ft.EntitySet("scenario")
        # Declaring every logical type skips woodwork's inference, the slowest part of a small DFS call.
        entityset.add_dataframe(dataframe_name="rows", dataframe=frame, index=_ROW, time_index=self.time_column,
                                logical_types={c: _logical_type(frame[c], c == self.time_column) for c in frame})
        return entityset

    def _encode(self, computed: pd.DataFrame) -> pd.DataFrame:
        """Every column as float64: categories by their training code (unseen -> NaN)."""
        encoded = {}
        for name in computed.columns:
            column = computed[name]
            if name in self.categories_:
                codes = pd.Categorical(column, categories=self.categories_[name]).codes.astype("float64")
                encoded[name] = np.where(codes < 0, np.nan, codes)
            else:
                encoded[name] = _to_float(column)
        return pd.DataFrame(encoded, index=computed.index)


def _to_float(column: pd.Series) -> np.ndarray:
    """Floats with every undefined value as NaN: a ratio over a zero (featuretools' divide_numeric) gives
    +-inf, which estimators reject; as NaN it is "missing", which every family handles."""
    if isinstance(column.dtype, pd.CategoricalDtype) or column.dtype == object:
        column = pd.to_numeric(column.astype(object), errors="coerce")
    values = column.astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    values[np.isinf(values)] = np.nan
    return values


def _is_numeric(column: pd.Series) -> bool:
    """Numbers, booleans, and categoricals whose values are all numbers (e.g. MONTH(week))."""
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return True
    values = column.dropna()
    return len(values) > 0 and pd.to_numeric(values.astype(str), errors="coerce").notna().all()


def _logical_type(column: pd.Series, is_time: bool):
    from woodwork import logical_types as lt

    if is_time or pd.api.types.is_datetime64_any_dtype(column):
        return lt.Datetime
    if pd.api.types.is_bool_dtype(column):
        return lt.BooleanNullable
    if pd.api.types.is_integer_dtype(column):
        return lt.IntegerNullable
    if pd.api.types.is_numeric_dtype(column):
        return lt.Double
    return lt.Categorical
