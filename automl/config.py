"""Use-case config: one YAML file -> validated, typed, immutable settings.

Every problem in a file is reported at once, each located as ``file: field.path: rule (got value)``.
Nothing in a config executes code: YAML is loaded with ``safe_load``, Spark expressions are passed to
Spark's SQL parser, and model families / metrics are chosen by registered name only.
"""
from __future__ import annotations

import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidatorFunctionWrapHandler, WrapValidator,
                      field_validator, model_validator)
from pydantic_core import PydanticCustomError

from automl.errors import ConfigError
from automl.scenario.families import FAMILIES
from automl.scenario.metrics import METRICS, default_metrics
from automl.scenario.space import DistributionSpec

__all__ = [
    "ROW_ID",
    "Config",
    "DataConfig",
    "ExecutionConfig",
    "FeaturesConfig",
    "JoinConfig",
    "MetricsConfig",
    "MlflowConfig",
    "ModelsConfig",
    "OutputConfig",
    "SelectionConfig",
    "SparkConfig",
    "SplitConfig",
    "StreamConfig",
    "TuningConfig",
    "load_config",
    "parse_config",
    "redact",
    "secret_values",
]

# Added to the master DataFrame when a config has neither sample_id nor time column (a content hash).
ROW_ID = "automl_row_id"


def _expected(what: str) -> WrapValidator:
    """Report a failed union as one ``expected ...`` error instead of one error per union member."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("expected", "expected {what}", {"what": what}) from None

    return WrapValidator(check)


def _override(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # A mapping can only be a distribution: report its own problems (e.g. a misspelt 'low'), not the union's.
    if isinstance(value, dict):
        return DistributionSpec.model_validate(value)
    try:
        return handler(value)
    except ValidationError:
        raise PydanticCustomError("expected", "expected a distribution (a mapping with type, low, high, log, "
                                  "values) or a fixed value (string, number, boolean or null)") from None


Scalar = Annotated[Union[str, int, float, bool], _expected("a string, number or boolean")]
PositiveInt = Annotated[int, Field(ge=1)]
# A size is either a fraction of the scenario's rows (0 < x < 1) or a number of rows/periods (>= 1).
Size = Annotated[Union[Annotated[int, Field(ge=1)], Annotated[float, Field(gt=0.0, lt=1.0)]],
                 _expected("a whole number of rows/periods >= 1 or a fraction between 0 and 1")]
Override = Annotated[Union[DistributionSpec, Scalar, None], WrapValidator(_override)]


class _Problems(ValueError):
    """Problems a cross-field check found, each located by a field path relative to the checked section."""

    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class _Section(BaseModel):
    """Base for every section: unknown keys are errors and settings are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StreamConfig(_Section):
    """One input data stream; ``predict_path``/``predict_table`` replace the source for prediction."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    format: Literal["parquet", "csv", "json", "orc", "table", "delta"] = "parquet"
    path: str | None = None
    table: str | None = None
    predict_path: str | None = None
    predict_table: str | None = None
    options: dict[str, Scalar] = {}
    columns: list[str] | None = None
    filter: str | None = None
    derive: dict[str, str] = {}

    @model_validator(mode="after")
    def _one_source(self) -> StreamConfig:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of 'path' or 'table'")
        if self.format == "table" and self.table is None:
            raise ValueError("format 'table' reads a catalog table: set 'table', not 'path'")
        if self.table is not None and self.format not in ("table", "delta"):
            raise ValueError(f"'table' needs format 'table' or 'delta', not {self.format!r}")
        return self


class JoinConfig(_Section):
    """Join one stream onto the master DataFrame built so far."""

    stream: str
    on: Annotated[list[str], Field(min_length=1)]
    how: Literal["left", "inner", "full", "right"] = "left"


class DataConfig(_Section):
    """How the streams become one master DataFrame (one row per sample)."""

    streams: Annotated[list[StreamConfig], Field(min_length=1)]
    base: str | None = None
    joins: list[JoinConfig] = []
    filter: str | None = None
    derive: dict[str, str] = {}
    snapshot: bool = False

    @model_validator(mode="after")
    def _streams_exist(self) -> DataConfig:
        names = [s.name for s in self.streams]
        problems = []
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            problems.append((("streams",), f"stream names must be unique; repeated: {duplicated}"))
        references = [(("base",), self.base), *((("joins", i, "stream"), j.stream) for i, j in enumerate(self.joins))]
        for where, ref in references:
            if ref is not None and ref not in names:
                problems.append((where, f"unknown stream {ref!r}; expected one of {names}"))
        if problems:
            raise _Problems(problems)
        return self

    @property
    def base_stream(self) -> str:
        return self.base or self.streams[0].name


class SplitConfig(_Section):
    """Holdout for the final metrics and, inside the training part, a validation set for tuning.

    With ``refit_on_all_rows`` the saved model is refitted on every row (holdout included) once the holdout
    metrics are taken, so forecasts start from the latest data.
    """

    method: Literal["auto", "time", "random", "stratified"] = "auto"
    test_size: Size = 0.2
    validation_size: Size = 0.2
    validation_folds: Annotated[int, Field(ge=1, le=10)] = 3
    min_train_rows: PositiveInt = 20
    refit_on_all_rows: bool = True


class FeaturesConfig(_Section):
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


class SelectionConfig(_Section):
    """Feature selection after enrichment; constant and empty columns are always dropped."""

    method: Literal["importance", "mutual_info", "none"] = "importance"
    max_features: PositiveInt = 30


class ModelsConfig(_Section):
    """Model families to tune, per-family search-space overrides (a scalar fixes a parameter), and an optional
    target transform for regression (``log1p``: fit on log(1 + y), predict on the original scale)."""

    families: Annotated[list[str], Field(min_length=1)] = ["lightgbm", "random_forest", "linear"]
    target_transform: Literal["none", "log1p"] = "none"
    search_space: dict[str, dict[str, Override]] = {}

    @model_validator(mode="after")
    def _known_families(self) -> ModelsConfig:
        problems = []
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            problems.append((("families",), f"unknown model families {unknown}; registered: {sorted(FAMILIES)}"))
        for family, params in self.search_space.items():
            if family not in self.families:
                problems.append((("search_space", family), f"family is not in 'families' {self.families}"))
                continue
            known = sorted(FAMILIES[family].param_names)
            for name in params:
                if name not in known:
                    problems.append((("search_space", family, name),
                                     f"unknown parameter of {family!r}; expected one of {known}"))
        if problems:
            raise _Problems(problems)
        return self


class TuningConfig(_Section):
    """Tuning budget per scenario; the scenario's own seed derives from ``seed`` and its keys."""

    tuner: Literal["hyperopt"] = "hyperopt"
    algorithm: Literal["tpe", "random", "anneal"] = "tpe"
    max_evals: PositiveInt = 20
    ensemble_size: Annotated[int, Field(ge=1, le=5)] = 1
    timeout_seconds: Annotated[float, Field(gt=0)] = 300.0
    seed: int = 42


class MetricsConfig(_Section):
    """The primary metric drives tuning and comparison with the naive baseline; ``report`` is logged too."""

    primary: str | None = None
    report: list[str] | None = None
    positive_class: Scalar | None = None


class MlflowConfig(_Section):
    """Tracking; with no URI, a local SQLite store under the output path is used."""

    tracking_uri: str | None = None
    experiment: str | None = None
    log_models: bool = True


class OutputConfig(_Section):
    """Where results, predictions, models and checkpoints go: a filesystem path driver and executors share."""

    path: str | None = None
    format: Literal["parquet", "delta", "csv", "json", "orc"] = "parquet"
    mode: Literal["overwrite", "append", "error", "ignore"] = "overwrite"
    results_table: str | None = None
    predictions_table: str | None = None


class SparkConfig(_Section):
    """Session settings; ignored when a session already exists (Databricks, notebooks)."""

    master: str = "local[*]"
    remote: str | None = None
    app_name: str | None = None
    conf: dict[str, Scalar] = {}


class ExecutionConfig(_Section):
    """How scenarios are spread over cores and when a job counts as failed."""

    # Measured (docs/benchmarks.md): 8 per core shortened the idle tail of 10,000 tiny scenarios but cost
    # 0.1-0.2 s of Python-worker start per extra task, 2 s in a 120-scenario job; 4 was better overall.
    partitions_per_core: Annotated[int, Field(ge=1, le=64)] = 4
    cores: PositiveInt | None = None
    max_failed_fraction: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    deadline_seconds: Annotated[float, Field(gt=0)] | None = None
    arrow_batch_rows: PositiveInt = 10_000
    # Scenarios smaller than this travel to Python together, up to this many rows per applyInPandas group.
    pack_rows: PositiveInt = 10_000
    # Testing aid: this fraction of scenarios (chosen by key hash, so reproducibly) raises inside the pipeline.
    fault_injection: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0


class Config(_Section):
    """One use case: which data, which scenarios, which models, where results go."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
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
    spark: SparkConfig = SparkConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        problems = list(self._cross_field_problems())
        if problems:
            raise _Problems(problems)
        return self

    def _cross_field_problems(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        keys = self.scenario_keys
        if len(set(keys)) != len(keys):
            yield ("scenario_keys",), "repeated columns"
        special = [c for c in (self.target, self.time_column) if c is not None]
        clash = [c for c in special if c in keys]
        if clash:
            yield ("scenario_keys",), f"must not contain the target or time column: {clash}"
        method = self.split.method
        if method == "time" and self.time_column is None:
            yield ("split", "method"), "method 'time' needs time_column"
        if method == "stratified" and self.task != "classification":
            yield ("split", "method"), "method 'stratified' is for classification only"
        for family in self.models.families:
            if self.task not in FAMILIES[family].tasks:
                yield ("models", "families"), f"model family {family!r} does not support task {self.task!r}"
        valid = sorted(m for m, spec in METRICS.items() if spec.task == self.task)
        named = [(("metrics", "primary"), self.metrics.primary),
                 *((("metrics", "report", i), name) for i, name in enumerate(self.metrics.report or []))]
        for where, name in named:
            if name is not None and name not in valid:
                yield where, f"metric {name!r} is not a {self.task} metric; expected one of {valid}"
        features = self.features
        if features.target_lags or features.target_windows:
            where = ("features", "target_lags" if features.target_lags else "target_windows")
            if self.time_column is None:
                yield where, "target lags and windows need time_column"
            elif not isinstance(self.split.test_size, int) or not isinstance(self.split.validation_size, int):
                yield where, ("target lags and windows need split.test_size and split.validation_size as "
                              "whole numbers of periods, so lags can be checked against the horizon")
            elif features.target_lags and min(features.target_lags) < self.horizon:
                yield where, (f"every lag must be >= the forecast horizon {self.horizon} "
                              f"(max of split.test_size and split.validation_size), else the holdout leaks")

    @property
    def horizon(self) -> int:
        """Periods a model must forecast ahead without seeing the target: the larger holdout."""
        sizes = [s for s in (self.split.test_size, self.split.validation_size) if isinstance(s, int)]
        return max(sizes, default=1)

    @property
    def split_method(self) -> str:
        if self.split.method != "auto":
            return self.split.method
        if self.time_column is not None:
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
        """Columns identifying a prediction row within its scenario (defaults to the time column)."""
        if self.sample_id:
            return list(self.sample_id)
        return [self.time_column] if self.time_column else [ROW_ID]

    @property
    def output_path(self) -> str:
        return self.output.path or os.path.join("output", self.name)

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or f"automl-{self.name}"


class _SafeLoader(yaml.SafeLoader):
    """Safe loading with YAML 1.2 booleans: ``on``/``off``/``yes``/``no`` stay strings (``on:`` of a join!)."""


_SafeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                  list("tTfF"))


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a SafeLoader subclass: no object construction


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(path: str | os.PathLike[str], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, interpolate, override and validate one use-case YAML file.

    Example:
        >>> cfg = load_config("configs/demand.yaml", ["tuning.max_evals=5"])  # doctest: +SKIP
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not a UTF-8 text file ({exc.reason} at byte {exc.start})") from None
    try:
        raw = _load_yaml(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}, column {where.column + 1}:" if where else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}:{line} not valid YAML: {problem}") from None
    return parse_config(raw, source=str(source), overrides=overrides)


def parse_config(raw: Any, *, source: str = "<config>", overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate an already-parsed YAML document (a dict); see :func:`load_config`."""
    if not isinstance(raw, dict):
        got = "an empty document" if raw is None else type(raw).__name__
        raise ConfigError(f"{source}: the top level must be a mapping of settings, got {got}")
    secrets: set[str] = set()
    document = _interpolate(raw, source, (), secrets)
    for item in overrides:
        _apply_override(document, item, source)
    try:
        config = Config.model_validate(document)
    except ValidationError as exc:
        lines = _problem_lines(exc.errors(), document)
        count = f"{len(lines)} problem" + ("s" if len(lines) > 1 else "")
        message = f"{source}: {count} in the config:\n" + "\n".join(lines)
        raise ConfigError(redact(message, frozenset(secrets))) from None
    object.__setattr__(config, "_secrets", frozenset(secrets))
    return config


def secret_values(config: Config) -> frozenset[str]:
    """Values that came from ``${ENV}`` interpolation: never written to logs, MLflow or results.

    ``AUTOML_*`` variables (data and output locations) are settings and stay visible.
    """
    return getattr(config, "_secrets", frozenset())


def redact(text: str, secrets: frozenset[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _interpolate(node: Any, source: str, where: tuple, secrets: set[str]) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in strings; remember what came from the environment."""
    if isinstance(node, dict):
        return {k: _interpolate(v, source, (*where, k), secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, source, (*where, i), secrets) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is None:
                field = ".".join(map(str, where)) or "<top>"
                raise ConfigError(f"{source}: {field}: environment variable {name} is not set "
                                  f"(use ${{{name}:-default}} to give a default)")
            return default
        if value and not name.startswith("AUTOML_"):  # AUTOML_* variables are settings, not secrets
            secrets.add(value)
        return value

    return _ENV_PATTERN.sub(substitute, node)


def _apply_override(document: dict, item: str, source: str) -> None:
    """Apply ``dotted.key=value``; list items are addressed by index or, for streams, by name."""
    dotted, sep, text = item.partition("=")
    if not sep or not dotted.strip():
        raise ConfigError(f"{source}: --set {item!r}: expected dotted.key=value, e.g. tuning.max_evals=10")
    try:
        value = _load_yaml(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    parts = dotted.strip().split(".")
    node: Any = document
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            index = _list_index(node, part)
            if index is None:
                raise ConfigError(f"{source}: --set {dotted}: no list item {part!r} at "
                                  f"{'.'.join(parts[:depth]) or '<top>'}")
            if last:
                node[index] = value
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            else:
                if node.get(part) is None:  # an absent section, or one left empty in YAML ("tuning:")
                    node[part] = {}
                node = node[part]
        else:
            raise ConfigError(f"{source}: --set {dotted}: {'.'.join(parts[:depth])} is a value, not a section")


def _list_index(items: list, part: str) -> int | None:
    if part.isdecimal() and int(part) < len(items):  # not isdigit(): int("²") fails
        return int(part)
    for i, entry in enumerate(items):
        if isinstance(entry, dict) and entry.get("name") == part:
            return i
    return None


def _problem_lines(errors: list[dict[str, Any]], document: dict) -> list[str]:
    """One line per field, ``field.path: message (got value)``; several messages for one field are merged."""
    fields: dict[str, tuple[list[str], Any]] = {}
    for error in errors:
        for field, message, given in _locate(error, document):
            messages, _ = fields.setdefault(field, ([], given))
            if message not in messages:
                messages.append(message)
    lines = []
    for field, (messages, given) in fields.items():
        got = "" if given is _HIDDEN else f" (got {_short(given)})"
        lines.append(f"  - {field}: {'; '.join(messages)}{got}")
    return lines


_HIDDEN = object()  # marks "no value to show" (a missing setting, a default section)


def _locate(error: dict[str, Any], document: dict) -> list[tuple[str, str, Any]]:
    """``(field path, message, value given)`` for one pydantic error; a cross-field error may give several."""
    loc = tuple(error["loc"])
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, _Problems):
        located = []
        for where, message in cause.problems:
            field, given = _walk((*loc, *where), document, exact=True)
            located.append((field, message, given))
        return located
    kind = error["type"]
    field, _ = _walk(loc, document, exact=False, keep_last=kind == "missing")
    given = error.get("input", _HIDDEN)
    message = error["msg"].removeprefix("Value error, ")
    if kind == "model_type":
        message = "expected a mapping of settings"
    elif kind == "extra_forbidden":
        message = _unknown_setting(loc)
    elif kind == "missing":
        message, given = "required setting is missing", _HIDDEN
    if loc and loc[-1] == "[key]":
        message = f"invalid key: {message}"
    return [(field, message, given)]


def _walk(loc: tuple, document: Any, *, exact: bool, keep_last: bool = False) -> tuple[str, Any]:
    """The readable field path of ``loc`` and the value found there in the document.

    Parts that do not lead somewhere in the document are pydantic's union-member tags (``int``,
    ``function-wrap[check()]``, ...) or ``[key]``, never fields, and are left out, except with ``exact``
    (a path written by a validator) or for the last part of a missing setting. List items show their
    ``name`` when they have one: ``data.streams[sales].path``.
    """
    text, node = "", document
    for depth, part in enumerate(loc):
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            label = node.get("name") if isinstance(node, dict) else None
            text += f"[{label}]" if isinstance(label, str) and label else f"[{part}]"
        elif isinstance(node, dict) and part in node:
            node = node[part]
            text += f".{part}"
        elif exact or (keep_last and depth == len(loc) - 1):
            node = _HIDDEN
            text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "<top>", node


def _unknown_setting(loc: tuple) -> str:
    """Say which settings the section holding the unknown key ``loc[-1]`` accepts, and the likely one."""
    known = _settings_at(loc[:-1])
    if not known:
        return "unknown setting (check the spelling)"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown setting; {hint}expected one of: {', '.join(known)}"


def _settings_at(loc: tuple) -> list[str]:
    """Field names of the section at ``loc``, found by walking :class:`Config`'s type hints."""
    kinds: list[Any] = [Config]
    for part in loc:
        inner = []
        for kind in _members(kinds):
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                if isinstance(part, str) and part in kind.model_fields:
                    inner.append(kind.model_fields[part].annotation)
            elif typing.get_origin(kind) is list and isinstance(part, int):
                inner.append(typing.get_args(kind)[0])
            elif typing.get_origin(kind) is dict:
                inner.append(typing.get_args(kind)[1])
        kinds = inner or kinds  # nothing matched: a union-member tag, still the same value
    models = [k for k in _members(kinds) if isinstance(k, type) and issubclass(k, BaseModel)]
    return list(models[0].model_fields) if len(models) == 1 else []


def _members(kinds: list[Any]) -> list[Any]:
    """Expand ``Annotated[...]`` and unions into the plain types they allow."""
    out = []
    for kind in kinds:
        origin = typing.get_origin(kind)
        if origin is Annotated:
            out.extend(_members([typing.get_args(kind)[0]]))
        elif origin is Union or origin is types.UnionType:
            out.extend(_members(list(typing.get_args(kind))))
        else:
            out.append(kind)
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
