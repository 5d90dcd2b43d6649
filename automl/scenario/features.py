"""Feature enrichment whose definitions travel with the model.

``fit`` decides the features from the training rows' columns; ``transform`` computes them for any rows, and
the fitted enricher is pickled inside the model, so prediction applies exactly the same transformation.
Featuretools computes the configured transform primitives; target lags, rolling windows and the trend index
are plain pandas (one shift per lag, no entity set). Target lags and windows look back at least ``horizon``
periods: a holdout or forecast row never sees a target from its own period range. For prediction the
enricher keeps the tail of the training history, so future rows (with no target) get their lags from it.

With a time column, a missing input value takes the column's latest known value (from earlier rows only).
Covariates often stop being reported before the target does (a statistic published a year late): filled
with a training median instead, a model reads the latest years as decades old and its forecast jumps.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from automl.scenario.encoding import calendar_parts, column_kinds, convert_like
from automl.scenario.pooling import POOLED_EFFECT, PooledEffect

if TYPE_CHECKING:
    from automl.config import FeaturesConfig

__all__ = ["TREND", "FeatureEnricher"]

_ROW = "_automl_row"
TREND = "trend"


class FeatureEnricher:
    """Featuretools DFS on one scenario's rows, then lags and trend, then a numeric encoding.

    Args:
        settings: the ``features`` section of the config.
        target: target column (used only through lags and rolling windows).
        time_column: time index, or None for data without time.
        horizon: periods between the last known target and the furthest row to predict.
        exclude: identifier columns that must never become features (scenario keys, sample ids).
        target_lags, target_windows: override the settings' lags and windows (per-scenario defaults).
        trend: add ``trend``, the periods since the first training row (needs ``time_column``).
        pooled: slopes fitted on the other scenarios (:mod:`automl.scenario.pooling`), added as ``pooled_effect``.
    """

    def __init__(self, settings: FeaturesConfig, *, target: str, time_column: str | None, horizon: int,
                 exclude: list[str], target_lags: list[int] | None = None, target_windows: list[int] | None = None,
                 trend: bool = False, pooled: PooledEffect | None = None) -> None:
        self.settings = settings
        self.target = target
        self.time_column = time_column
        self.horizon = horizon
        self.exclude = exclude
        usable = settings.enabled and time_column is not None
        self.target_lags = list(settings.target_lags if target_lags is None else target_lags) if usable else []
        self.target_windows = list(settings.target_windows if target_windows is None else target_windows) \
            if usable else []
        self.trend = trend and usable
        self.pooled = pooled

    def fit(self, frame: pd.DataFrame) -> FeatureEnricher:
        """Decide the raw columns and feature definitions from (training) rows sorted by time."""
        dropped = {*self.exclude, *self.settings.drop_columns}
        self.raw_columns_ = [c for c in frame.columns if c not in dropped]
        raw = frame[self.raw_columns_]
        self.kinds_ = column_kinds(raw.drop(columns=[self.target], errors="ignore"))
        self.uses_featuretools_ = self.settings.enabled and bool(self.settings.trans_primitives)
        self.definitions_ = self._define(raw) if self.uses_featuretools_ else None
        if self.trend:
            times = pd.to_datetime(raw[self.time_column])
            spacing = np.diff(times.to_numpy()).astype("timedelta64[s]").astype("float64")
            self.origin_ = times.iloc[0]
            self.period_seconds_ = float(np.median(spacing)) if len(spacing) and np.median(spacing) > 0 else 1.0
        computed = self._compute(raw.reset_index(drop=True))
        self.dates_ = [c for c in computed.columns if pd.api.types.is_datetime64_any_dtype(computed[c])]
        self.categories_ = {c: sorted(computed[c].dropna().unique().tolist(), key=str)
                            for c in computed.columns if c not in self.dates_ and not _is_numeric(computed[c])}
        self.history_ = frame.iloc[0:0][self.raw_columns_]
        return self

    @property
    def categorical_(self) -> list[str]:
        """Output columns holding category codes (not magnitudes)."""
        return list(self.categories_)

    def remember_history(self, frame: pd.DataFrame) -> None:
        """Keep the latest rows that future rows' lags and windows can reach back to."""
        reach = max([*self.target_lags, 0]) + max([*self.target_windows, 0]) + self.horizon
        self.history_ = frame[self.raw_columns_].tail(reach if self.time_column else 0).reset_index(drop=True)

    def convert(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its columns converted to the kinds seen at fit; raises
        :class:`~automl.errors.ScenarioError` naming a column whose values do not convert."""
        return convert_like(frame, self.kinds_)

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
        encoded = self._encode(computed)
        if self.pooled is not None:
            encoded[POOLED_EFFECT] = self.pooled.transform(frame)
        return encoded

    def _define(self, frame: pd.DataFrame) -> list:
        import featuretools as ft

        settings, target, time = self.settings, self.target, self.time_column
        options: dict = {name: {"ignore_columns": {"rows": [target]}} for name in settings.trans_primitives}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # featuretools warns about unused primitives on small frames
            definitions = ft.dfs(entityset=self._entityset(frame.head(50)), target_dataframe_name="rows",
                                 trans_primitives=list(settings.trans_primitives), agg_primitives=[],
                                 max_depth=settings.max_depth, features_only=True, primitive_options=options)
        # The target itself (identity feature) and raw timestamps are never model inputs.
        return [d for d in definitions if d.get_name() not in (target, time)]

    def _compute(self, rows: pd.DataFrame) -> pd.DataFrame:
        if self.time_column is not None:
            inputs = [c for c in rows.columns if c not in (self.target, self.time_column)]
            rows = rows.assign(**{c: rows[c].ffill() for c in inputs if rows[c].isna().any()})
        if self.definitions_ is None:
            kept = [c for c in self.raw_columns_ if c not in (self.target, self.time_column)]
            computed = rows[kept].reset_index(drop=True)
        else:
            import featuretools as ft

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                matrix = ft.calculate_feature_matrix(self.definitions_, entityset=self._entityset(rows))
            computed = matrix.sort_index().reset_index(drop=True)
        target = pd.to_numeric(rows[self.target], errors="coerce").reset_index(drop=True) \
            if self.target_lags or self.target_windows else None
        extra = {}
        for lag in self.target_lags:
            extra[f"LAG({self.target}, {self.time_column}, periods={lag})"] = target.shift(lag)
        for window in self.target_windows:
            name = f"ROLLING_MEAN({self.time_column}, {self.target}, window_length={window}, gap={self.horizon})"
            extra[name] = target.shift(self.horizon).rolling(window, min_periods=1).mean()
        if self.trend:
            elapsed = (pd.to_datetime(rows[self.time_column]) - self.origin_).dt.total_seconds()
            extra[TREND] = (elapsed / self.period_seconds_).round(6).reset_index(drop=True)
        return pd.concat([computed, pd.DataFrame(extra, index=computed.index)], axis=1) if extra else computed

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
        """Every column as float64: categories by their training code (unseen -> NaN), dates as calendar parts
        (a timestamp's category code would make every future timestamp an unseen category)."""
        encoded = {}
        for name in computed.columns:
            column = computed[name]
            if name in self.dates_:
                encoded.update(calendar_parts(name, column))
            elif name in self.categories_:
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

