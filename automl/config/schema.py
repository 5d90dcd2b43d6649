"""The config schema: one pydantic model per YAML section, immutable, unknown keys refused.

Checks that span settings are :func:`~automl.config.base.rule` methods naming what they read, so they run
(and report) even while another setting is invalid.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, field_validator

from automl.config.base import Override, PositiveInt, Problem, Scalar, Section, Size, rule
from automl.config.expressions import ExpressionSection
from automl.scenario.families import FAMILIES
from automl.scenario.metrics import METRICS, default_metrics

__all__ = ["ROW_ID", "Config", "DataConfig", "ExecutionConfig", "FeaturesConfig", "JoinConfig", "MetricsConfig",
           "MlflowConfig", "ModelsConfig", "OutputConfig", "PredictConfig", "SelectionConfig", "SparkConfig",
           "SplitConfig", "StreamConfig", "TuningConfig"]

# Added to the master DataFrame when a config has neither sample_id nor time column (a content hash).
ROW_ID = "automl_row_id"
_COLUMN_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class StreamConfig(ExpressionSection):
    """One input data stream; ``predict_path``/``predict_table`` replace the source for prediction."""

    name: Annotated[str, Field(pattern=_COLUMN_NAME)]
    format: Literal["parquet", "csv", "json", "orc", "table", "delta"] = "parquet"
    path: str | None = None
    table: str | None = None
    predict_path: str | None = None
    predict_table: str | None = None
    options: dict[str, Scalar] = {}
    columns: list[str] | None = None
    filter: str | None = None
    derive: dict[str, str] = {}

    @rule("path", "table", "format")
    def _one_source(self) -> Iterator[Problem]:
        if (self.path is None) == (self.table is None):
            yield (), "give exactly one of 'path' or 'table'"
        elif self.format == "table" and self.table is None:
            yield (), "format 'table' reads a catalog table: set 'table', not 'path'"
        elif self.table is not None and self.format not in ("table", "delta"):
            yield (), f"'table' needs format 'table' or 'delta', not {self.format!r}"


class JoinConfig(Section):
    """Join one stream onto the master DataFrame built so far."""

    stream: str
    on: Annotated[list[str], Field(min_length=1)]
    how: Literal["left", "inner", "full", "right"] = "left"


class DataConfig(ExpressionSection):
    """How the streams become one master DataFrame (one row per sample)."""

    streams: Annotated[list[StreamConfig], Field(min_length=1)]
    base: str | None = None
    joins: list[JoinConfig] = []
    filter: str | None = None
    derive: dict[str, str] = {}
    snapshot: bool = False

    @rule("streams", "base", "joins")
    def _streams_exist(self) -> Iterator[Problem]:
        names = [s.name for s in self.streams]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            yield ("streams",), f"stream names must be unique; repeated: {duplicated}"
        references = [(("base",), self.base), *((("joins", i, "stream"), j.stream) for i, j in enumerate(self.joins))]
        for where, ref in references:
            if ref is not None and ref not in names:
                yield where, f"unknown stream {ref!r}; expected one of {names}"

    @property
    def base_stream(self) -> str:
        return self.base or self.streams[0].name


class SplitConfig(Section):
    """Holdout for the final metrics and, inside the training part, a validation set for tuning.

    With ``refit_on_all_rows`` the saved model is refitted on every row (holdout included) once the holdout
    metrics are taken, so forecasts start from the latest data.
    """

    method: Literal["auto", "time", "random", "stratified"] = "auto"
    test_size: Size = 0.2
    validation_size: Size = 0.2
    validation_folds: Annotated[int, Field(ge=1, le=10)] = 3
    min_train_rows: PositiveInt = 20
    # Fewer validation rows (all folds together) than this cannot tell models apart: ship the naive default.
    min_validation_rows: PositiveInt = 10
    refit_on_all_rows: bool = True
    # Event data (many rows per timestamp): a date column ordering the rows, so holdout and validation are the
    # latest rows without time_column's one-row-per-period rule. Exclusive with time_column; lags need that.
    order_by: str | None = None


class FeaturesConfig(Section):
    """Featuretools enrichment; target lags and windows need a time column and never cross the split."""

    enabled: bool = True
    trans_primitives: list[str] = []
    max_depth: Annotated[int, Field(ge=1, le=3)] = 1
    target_lags: list[PositiveInt] = []
    target_windows: list[Annotated[int, Field(ge=2)]] = []
    drop_columns: list[str] = []

    @field_validator("trans_primitives")
    @classmethod
    def _known_primitives(cls, names: list[str]) -> list[str]:
        if names:
            from featuretools.primitives import get_transform_primitives

            known = set(get_transform_primitives())
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"unknown featuretools transform primitives {unknown}")
        return names


class SelectionConfig(Section):
    """Feature selection after enrichment; constant and empty columns are always dropped."""

    method: Literal["importance", "mutual_info", "none"] = "importance"
    max_features: PositiveInt = 30


class ModelsConfig(Section):
    """Model families to tune (none: each scenario ships its best forecast method), per-family search-space
    overrides (a scalar fixes a parameter), and how the target and classes are treated."""

    families: list[str] = ["lightgbm", "random_forest", "linear"]
    # Regression only. log1p fits log(1 + y); difference y minus the previous period's y (needs time_column or
    # split.order_by); standardize (y - mean) / std; auto: chosen per scenario. Predictions: original scale.
    target_transform: Literal["none", "log1p", "difference", "standardize", "auto"] = "none"
    search_space: dict[str, dict[str, Override]] = {}
    # Period of the seasonal naive baseline (52: weekly data, yearly cycle); None: from the time column.
    season_length: Annotated[int, Field(ge=2)] | None = None
    # Classification only: "balanced" weights classes inversely to their frequency in the training rows.
    class_weight: Literal["none", "balanced"] = "none"
    # When a new model replaces the scenario's champion: always, or only when it beats its naive baseline.
    promote: Literal["always", "beats_baseline"] = "always"
    # Regression without time order: slopes fitted on the other scenarios, where they help across scenarios.
    pooled_slopes: bool = True

    @rule("families", "search_space")
    def _known_families(self) -> Iterator[Problem]:
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            yield ("families",), f"unknown model families {unknown}; registered: {sorted(FAMILIES)}"
        for family, params in self.search_space.items():
            if family not in self.families:
                yield ("search_space", family), f"family is not in 'families' {self.families}"
                continue
            if family not in FAMILIES:
                continue
            known = sorted(FAMILIES[family].param_names)
            for name in params:
                if name not in known:
                    yield ("search_space", family, name), f"unknown parameter of {family!r}; expected one of {known}"


class TuningConfig(Section):
    """Tuning budget per scenario; the scenario's own seed derives from ``seed`` and its keys."""

    tuner: Literal["hyperopt", "optuna"] = "hyperopt"  # hyperopt: every algorithm; optuna: tpe and random
    algorithm: Literal["tpe", "random", "anneal"] = "tpe"
    max_evals: PositiveInt = 20
    ensemble_size: Annotated[int, Field(ge=1, le=5)] = 3
    timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    seed: int = 42
    confirm_on_holdout: bool = True  # a model that replaced the default forecast must also beat it on the holdout

    @rule("tuner", "algorithm")
    def _algorithm_of_tuner(self) -> Iterator[Problem]:
        if self.tuner == "optuna" and self.algorithm == "anneal":
            yield ("algorithm",), "tuner 'optuna' supports algorithms 'tpe' and 'random', not 'anneal'"


class MetricsConfig(Section):
    """The primary metric drives tuning and comparison with the naive baseline; ``report`` is logged too."""

    primary: str | None = None
    report: list[str] | None = None
    positive_class: Scalar | None = None


class MlflowConfig(Section):
    """Tracking; with no URI, a local SQLite store under the output path is used."""

    tracking_uri: str | None = None
    experiment: str | None = None
    log_models: bool = True
    # per_scenario: a child run per scenario under the job's run; none: the job's run only.
    scenario_runs: Literal["per_scenario", "none"] = "per_scenario"
    # When set, the job's scenario models are registered under this MLflow registered-model name and the
    # new version gets ``registered_alias``.
    registered_model: Annotated[str, Field(min_length=1)] | None = None
    registered_alias: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")] = "champion"


class OutputConfig(Section):
    """Where results, predictions, models and checkpoints go: a filesystem path driver and executors share."""

    path: str | None = None
    format: Literal["parquet", "delta", "csv", "json", "orc"] = "parquet"
    mode: Literal["overwrite", "append", "error", "ignore"] = "overwrite"
    results_table: str | None = None
    predictions_table: str | None = None
    champions_table: str | None = None  # the model set's champions, replaced after every training run


class PredictConfig(Section):
    """Prediction-only settings."""

    # Input columns copied unchanged onto each row's prediction (e.g. an order id); never features.
    keep_columns: list[str] = []


class SparkConfig(Section):
    """Session settings; ignored when a session already exists (Databricks, notebooks)."""

    master: str = "local[*]"
    remote: str | None = None
    app_name: str | None = None
    conf: dict[str, Scalar] = {}


class ExecutionConfig(Section):
    """How scenarios are spread over cores and when a job counts as failed."""

    # Measured (docs/benchmarks.md): 8 per core shortened the idle tail of 10,000 tiny scenarios but cost
    # 0.1-0.2 s of Python-worker start per extra task, 2 s in a 120-scenario job; 4 was better overall.
    partitions_per_core: Annotated[int, Field(ge=1, le=64)] = 4
    cores: PositiveInt | None = None
    max_failed_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    # A quality gate: when set, the job fails unless at least this fraction of the scenarios that trained
    # beat their naive baseline on the primary metric.
    min_beats_baseline_fraction: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    deadline_seconds: Annotated[float, Field(gt=0)] | None = None
    arrow_batch_rows: PositiveInt = 10_000
    # Scenarios smaller than this travel to Python together, up to this many rows per applyInPandas group.
    pack_rows: PositiveInt = 10_000


class Config(Section):
    """One use case: which data, which scenarios, which models, where results go."""

    # Names the output directory and the MLflow experiment: letters, digits, '_', '-', '.', not starting
    # with '.' or '-' (so never '.', '..' or a hidden directory) and no path separators.
    name: Annotated[str, Field(max_length=128)]
    task: Literal["regression", "classification"]
    scenario_keys: Annotated[list[str], Field(min_length=1)]
    target: str
    time_column: str | None = None
    sample_id: list[str] = []
    data: DataConfig
    split: SplitConfig = SplitConfig()
    features: FeaturesConfig = FeaturesConfig()
    selection: SelectionConfig = SelectionConfig()
    models: ModelsConfig = ModelsConfig()
    tuning: TuningConfig = TuningConfig()
    metrics: MetricsConfig = MetricsConfig()
    mlflow: MlflowConfig = MlflowConfig()
    output: OutputConfig = OutputConfig()
    predict: PredictConfig = PredictConfig()
    spark: SparkConfig = SparkConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @field_validator("name")
    @classmethod
    def _name_is_a_directory_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", name):
            raise ValueError("expected a name of letters, digits, '_', '-' and '.', starting with a letter, digit or "
                             "'_' (it names the output directory and the MLflow experiment)")
        return name

    @rule("scenario_keys", "target", "time_column")
    def _keys(self) -> Iterator[Problem]:
        keys = self.scenario_keys
        if len(set(keys)) != len(keys):
            yield ("scenario_keys",), "repeated columns"
        clash = [c for c in (self.target, self.time_column) if c is not None and c in keys]
        if clash:
            yield ("scenario_keys",), f"must not contain the target or time column: {clash}"

    @rule("split", "time_column", "task", "scenario_keys", "target")
    def _split(self) -> Iterator[Problem]:
        order_by = self.split.order_by
        if order_by is not None and self.time_column is not None:
            yield ("split", "order_by"), ("set either time_column (one row per period) or split.order_by (event "
                                          "data), not both: time_column already orders the split")
        elif order_by is not None and (order_by in self.scenario_keys or order_by == self.target):
            yield ("split", "order_by"), "must not be a scenario key or the target"
        method = self.split.method
        if method == "time" and self.time_column is None and order_by is None:
            yield ("split", "method"), "method 'time' needs time_column or split.order_by"
        if method == "stratified" and self.task != "classification":
            yield ("split", "method"), "method 'stratified' is for classification only"

    @rule("models", "task", "time_column", "split")
    def _models(self) -> Iterator[Problem]:
        if not self.models.families and (self.task != "regression" or self.time_column is None):
            yield ("models", "families"), "an empty list (forecast methods only) needs regression with time_column"
        elif not self.models.families and self.models.promote == "beats_baseline":
            yield ("models", "promote"), "a forecast method is its own baseline: with families [] use 'always'"
        for family in self.models.families:
            if family in FAMILIES and self.task not in FAMILIES[family].tasks:
                yield ("models", "families"), f"model family {family!r} does not support task {self.task!r}"
        transform = self.models.target_transform
        if transform != "none" and self.task != "regression":
            yield ("models", "target_transform"), "a target transform is for regression only"
        elif transform == "difference" and self.time_column is None and self.split.order_by is None:
            yield ("models", "target_transform"), "'difference' needs an order: set time_column or split.order_by"
        if self.models.class_weight != "none" and self.task != "classification":
            yield ("models", "class_weight"), "class weights are for classification only"
        for family, params in self.models.search_space.items() if self.time_column is not None else ():
            for name in sorted(set(params) & (FAMILIES[family].curve_params if family in FAMILIES else set())):
                yield ("models", "search_space", family, name), "a spline basis is for data without time_column"

    @rule("metrics", "task")
    def _metrics(self) -> Iterator[Problem]:
        valid = sorted(m for m, spec in METRICS.items() if spec.task == self.task)
        named = [(("metrics", "primary"), self.metrics.primary),
                 *((("metrics", "report", i), name) for i, name in enumerate(self.metrics.report or []))]
        for where, name in named:
            if name is not None and name not in valid:
                yield where, f"metric {name!r} is not a {self.task} metric; expected one of {valid}"

    @rule("features", "split", "time_column")
    def _target_lags(self) -> Iterator[Problem]:
        features = self.features
        if not (features.target_lags or features.target_windows):
            return
        where = ("features", "target_lags" if features.target_lags else "target_windows")
        if self.time_column is None:
            yield where, "target lags and windows need time_column"
        elif not isinstance(self.split.test_size, int) or not isinstance(self.split.validation_size, int):
            yield where, ("target lags and windows need split.test_size and split.validation_size as whole "
                          "numbers of periods, so lags can be checked against the horizon")
        elif features.target_lags and min(features.target_lags) < self.horizon:
            yield where, (f"every lag must be >= the forecast horizon {self.horizon} (max of split.test_size and "
                          f"split.validation_size), else the holdout leaks")

    @rule("predict", "scenario_keys", "target", "time_column", "sample_id")
    def _keep_columns(self) -> Iterator[Problem]:
        keep = self.predict.keep_columns
        if len(set(keep)) != len(keep):
            yield ("predict", "keep_columns"), "repeated columns"
        clash = [c for c in keep if c in {*self.scenario_keys, self.target, *self.sample_id_columns}]
        if clash:
            yield ("predict", "keep_columns"), (f"{clash} are already in every prediction row (scenario keys, "
                                                f"target or sample id)")

    @property
    def horizon(self) -> int:
        """Periods a model must forecast ahead without seeing the target: the larger holdout."""
        return max((s for s in (self.split.test_size, self.split.validation_size) if isinstance(s, int)), default=1)

    @property
    def split_method(self) -> str:
        if self.split.method != "auto":
            return self.split.method
        if self.time_column is not None or self.split.order_by is not None:
            return "time"
        return "stratified" if self.task == "classification" else "random"

    @property
    def primary_metric(self) -> str:
        return self.metrics.primary or default_metrics(self.task)[0]

    @property
    def report_metrics(self) -> list[str]:
        names = self.metrics.report or default_metrics(self.task)
        return list(dict.fromkeys([self.primary_metric, *names]))

    @property
    def sample_id_columns(self) -> list[str]:
        """Columns identifying a prediction row within its scenario: by default the time column, or the row hash
        (no time column; also with ``split.order_by``, whose times may repeat)."""
        if self.sample_id:
            return list(self.sample_id)
        return [self.time_column] if self.time_column else [ROW_ID]

    @property
    def output_path(self) -> str:
        return self.output.path or os.path.join("output", self.name)

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"automl-{self.name}"
