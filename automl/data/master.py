"""Build the master DataFrame: the base stream, its joins, derived columns and filters; no Spark action.

Also the two ways its problems reach the user located by field path: :func:`column_problems` (every column
the use case names) and :func:`explain_failure` (a row value that fails an expression once Spark runs it).
"""
from __future__ import annotations

import re

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from automl.config import ROW_ID, Config
from automl.data.streams import error_summary, read_stream, stream_field, with_expression
from automl.errors import DataError
from automl.scenario.keys import NULL_TEXT

__all__ = ["ROW_ID", "build_master", "column_problems", "explain_failure", "expression_fields", "join_problem",
           "scenario_filter"]


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
    for index, join in enumerate(data.joins):
        other = read_stream(spark, streams[join.stream], for_prediction=for_prediction)
        problem = join_problem(frame, other, join.on)
        if problem:
            raise DataError(f"data.joins[{index}].on: {problem}")
        frame = frame.join(other, on=join.on, how=join.how)
    for name, expression in data.derive.items():
        frame = with_expression(frame, expression, f"data.derive.{name}", column=name)
    if data.filter:
        frame = with_expression(frame, data.filter, "data.filter")
    problems = column_problems(frame.schema, config, for_prediction=for_prediction)
    if problems:
        kind = "prediction" if for_prediction else "training"
        raise DataError(f"{config.name}: the {kind} master DataFrame does not fit the config: "
                        + "; ".join(message for _, message in problems) + f". Columns available: {sorted(frame.columns)}")
    if not config.sample_id and config.time_column is None:
        frame = frame.withColumn(ROW_ID, F.xxhash64(*sorted(frame.columns)).cast("string"))
    if scenarios:
        frame = with_expression(frame, scenarios, "scenario filter (--where)")
    return frame


def join_problem(left: DataFrame, right: DataFrame, on: list[str]) -> str | None:
    """Why ``left`` and ``right`` cannot be joined on ``on``, or None."""
    missing = [c for c in on if c not in left.columns or c not in right.columns]
    if not missing:
        return None
    return f"join columns {missing} are not in both sides (left: {left.columns}; right: {right.columns})"


def scenario_filter(frame_schema: T.StructType, keys: list[str], selections: list[dict[str, str]]) -> str:
    """A Spark SQL predicate selecting scenarios given as ``{key: text}`` mappings (values cast to key types;
    ``<null>`` selects a null key, as scenario labels write it)."""
    types = {f.name: f.dataType for f in frame_schema.fields}
    clauses = []
    for selection in selections:
        unknown = sorted(set(selection) - set(keys))
        if unknown or set(selection) != set(keys):
            raise DataError(f"scenario {selection}: give every scenario key exactly once ({keys}); "
                            f"unknown: {unknown}")
        parts = [f"`{k}` IS NULL" if v == NULL_TEXT else f"`{k}` = CAST('{_quoted(v)}' AS {types[k].simpleString()})"
                 for k, v in selection.items()]
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses)


def _quoted(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("'", "\\'")


def column_problems(schema: T.StructType, config: Config, *, for_prediction: bool) -> list[tuple[str, str]]:
    """``(field path, message)`` for every column the use case names that the master frame lacks or cannot
    use (a non-numeric regression target, a time column that is not a date); ``predict.keep_columns`` only
    for prediction."""
    types = {f.name: f.dataType for f in schema.fields}
    named: list[tuple[str, str, str]] = [(f"scenario_keys[{i}]", "scenario_keys", c)
                                         for i, c in enumerate(config.scenario_keys)]
    named += [(f"sample_id[{i}]", "sample_id", c) for i, c in enumerate(config.sample_id)]
    if config.time_column:
        named.append(("time_column", "time_column", config.time_column))
    if config.split.order_by:
        named.append(("split.order_by", "split.order_by", config.split.order_by))
    if for_prediction:
        named += [(f"predict.keep_columns[{i}]", "predict.keep_columns", c)
                  for i, c in enumerate(config.predict.keep_columns)]
    else:
        named.append(("target", "target", config.target))
    problems = [(field, f"{role} column {column!r} is missing") for field, role, column in named
                if column not in types]
    target_type = types.get(config.target)
    if not for_prediction and config.task == "regression" and target_type is not None \
            and not isinstance(target_type, T.NumericType):
        problems.append(("target", f"target {config.target!r} must be numeric for regression, is "
                                   f"{target_type.simpleString()}"))
    for field, column in (("time_column", config.time_column), ("split.order_by", config.split.order_by)):
        kind = types.get(column or "")
        if kind is not None and not isinstance(kind, (T.DateType, T.TimestampType, T.TimestampNTZType)):
            problems.append((field, f"{field} {column!r} must be a date or timestamp, is {kind.simpleString()} "
                                    f"(derive one with to_date(...) in data.derive)"))
    return problems


def expression_fields(config: Config) -> list[tuple[str, str]]:
    """``(field path, expression)`` of every Spark SQL expression in the config, in the order Spark applies them."""
    fields: list[tuple[str, str]] = []
    for stream in config.data.streams:
        fields += [(f"{stream_field(stream)}.derive.{name}", text) for name, text in stream.derive.items()]
        if stream.filter:
            fields.append((f"{stream_field(stream)}.filter", stream.filter))
    fields += [(f"data.derive.{name}", text) for name, text in config.data.derive.items()]
    if config.data.filter:
        fields.append(("data.filter", config.data.filter))
    return fields


# SQLSTATE class 22 is "data exception": a value that an expression cannot take (ANSI mode raises instead
# of returning NULL): division by zero, a malformed cast, an overflow, an index out of range.
_DATA_EXCEPTION = re.compile(r"SQLSTATE: 22[0-9A-Z]{3}")
_CONTEXT = re.compile(r"== SQL(?: of [^\n]*)? \(line \d+, position \d+\) ==\n(.*?)\n\^", re.S)


def explain_failure(exc: BaseException, config: Config) -> DataError | None:
    """The :class:`DataError` naming the derive/filter that a row's value broke while Spark evaluated the master
    frame (ANSI mode: division by zero, a cast of ``'abc'``, an overflow), or None for any other failure.

    The job layer calls it around Spark actions and raises the result (exit 2) instead of the Java error.

    Example:
        >>> try:
        ...     master.collect()  # doctest: +SKIP
        ... except Exception as exc:
        ...     raise (explain_failure(exc, config) or exc) from None
    """
    chain = _chain(exc)
    text = "\n".join(str(e) for e in chain)
    if not _DATA_EXCEPTION.search(text):
        return None
    fragments = [f.strip() for e in chain for f in _fragments(e)] + [m.strip() for m in _CONTEXT.findall(text)]
    fragments = [f for f in dict.fromkeys(fragments) if f]
    expressions = expression_fields(config)
    matched = [(field, expr) for field, expr in expressions if any(_squash(f) in _squash(expr) for f in fragments)]
    if fragments and not matched:
        return None  # the failing expression is not one of the config's (e.g. the framework's own)
    if not matched and not expressions:
        return None
    summary = next((error_summary(e) for e in chain if _DATA_EXCEPTION.search(str(e))), error_summary(exc))
    if len(matched) == 1:
        field, expression = matched[0]
        where = f"{field}: the expression {expression!r} fails on a row's value"
    else:
        named = "; ".join(f"{field} = {expression!r}" for field, expression in (matched or expressions))
        where = f"an expression fails on a row's value; it is one of: {named}"
    return DataError(f"{where}: {summary}. Guard it (try_divide, try_cast, CASE WHEN ...) or fix the input "
                     f"rows; Spark's ANSI mode raises here where it once returned NULL")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, outermost first (Spark wraps a task's error in a stage failure)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _fragments(exc: BaseException) -> list[str]:
    """The SQL text Spark points at (its query context), when the error carries one."""
    try:
        contexts = exc.getQueryContext()  # type: ignore[attr-defined]
    except Exception:  # not a Spark error, or one without a context
        return []
    fragments = []
    for context in contexts or []:
        try:
            fragments.append(context.fragment())
        except Exception:  # a DataFrame-API context has no SQL fragment
            continue
    return fragments


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()
