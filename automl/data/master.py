"""Build the master DataFrame: the base stream, its joins, derived columns and filters; no Spark action."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from automl.config import ROW_ID, Config
from automl.data.streams import read_stream, with_expression
from automl.errors import DataError

__all__ = ["ROW_ID", "build_master", "scenario_filter"]


def build_master(spark: SparkSession, config: Config, *, for_prediction: bool = False,
                 scenarios: str | None = None) -> DataFrame:
    """The lazy master DataFrame for training (target required) or prediction (target optional).

    ``scenarios`` is a Spark SQL filter on the scenario keys, applied before anything else is computed so
    Spark pushes it down to the sources.

    Example:
        >>> master = build_master(spark, load_config("configs/demand.yaml"))  # doctest: +SKIP
    """
    data = config.data
    streams = {s.name: s for s in data.streams}
    frame = read_stream(spark, streams[data.base_stream], for_prediction=for_prediction)
    for join in data.joins:
        other = read_stream(spark, streams[join.stream], for_prediction=for_prediction)
        missing = [c for c in join.on if c not in frame.columns or c not in other.columns]
        if missing:
            raise DataError(f"join with stream {join.stream!r}: join columns {missing} are not in both sides "
                            f"(left: {frame.columns}; right: {other.columns})")
        frame = frame.join(other, on=join.on, how=join.how)
    for name, expression in data.derive.items():
        frame = with_expression(frame, expression, f"data.derive.{name}", column=name)
    if data.filter:
        frame = with_expression(frame, data.filter, "data.filter")
    _check_columns(frame, config, for_prediction)
    if not config.sample_id and config.time_column is None:
        frame = frame.withColumn(ROW_ID, F.xxhash64(*sorted(frame.columns)).cast("string"))
    if scenarios:
        frame = with_expression(frame, scenarios, "scenario filter (--where)")
    return frame


def scenario_filter(frame_schema: T.StructType, keys: list[str], selections: list[dict[str, str]]) -> str:
    """A Spark SQL predicate selecting scenarios given as ``{key: text}`` mappings (values cast to key types)."""
    types = {f.name: f.dataType for f in frame_schema.fields}
    clauses = []
    for selection in selections:
        unknown = sorted(set(selection) - set(keys))
        if unknown or set(selection) != set(keys):
            raise DataError(f"scenario {selection}: give every scenario key exactly once ({keys}); "
                            f"unknown: {unknown}")
        parts = [f"`{k}` = CAST('{_quoted(v)}' AS {types[k].simpleString()})" for k, v in selection.items()]
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses)


def _quoted(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("'", "\\'")


def _check_columns(frame: DataFrame, config: Config, for_prediction: bool) -> None:
    """Every column the use case names must exist, with a usable type; report them all at once."""
    schema = {f.name: f.dataType for f in frame.schema.fields}
    required = {"scenario_keys": config.scenario_keys, "sample_id": config.sample_id}
    if config.time_column:
        required["time_column"] = [config.time_column]
    if not for_prediction:
        required["target"] = [config.target]
    problems = [f"{field} column {c!r} is missing" for field, cols in required.items() for c in cols
                if c not in schema]
    target_type = schema.get(config.target)
    if not for_prediction and config.task == "regression" and target_type is not None \
            and not isinstance(target_type, T.NumericType):
        problems.append(f"target {config.target!r} must be numeric for regression, is {target_type.simpleString()}")
    time_type = schema.get(config.time_column or "")
    if time_type is not None and not isinstance(time_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        problems.append(f"time_column {config.time_column!r} must be a date or timestamp, "
                        f"is {time_type.simpleString()} (derive one with to_date(...) in data.derive)")
    if problems:
        kind = "prediction" if for_prediction else "training"
        raise DataError(f"{config.name}: the {kind} master DataFrame does not fit the config: "
                        + "; ".join(problems) + f". Columns available: {sorted(schema)}")
