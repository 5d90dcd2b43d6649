"""Check a config against its data before training: every problem at once, each located by field path.

What ``automl validate --data`` runs. Only schemas are read (file footers, catalog entries; CSV and JSON
sources infer their types as training would), and expressions are resolved against the frame built so far:
nothing is trained and no row is computed.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from automl.config import Config, StreamConfig, redact, secret_values
from automl.data.master import column_problems, join_problem
from automl.data.streams import open_source, select_columns, stream_field, with_expression
from automl.errors import ConfigError, DataError

__all__ = ["check_data"]


def check_data(spark: SparkSession, config: Config, *, for_prediction: bool = False) -> None:
    """Raise one :class:`ConfigError` listing every way ``config`` does not fit its data; return if it fits.

    Checks that each stream can be read (a missing path is a problem, not an exception), that every column
    the config names exists (stream ``columns``, join ``on``, scenario keys, target, time column, sample id,
    ``split.order_by``, ``predict.keep_columns``) and that every ``derive`` and ``filter`` parses and
    resolves. With ``for_prediction`` the prediction sources are checked and the target is not required.

    Example:
        >>> check_data(spark, load_config("configs/demand.yaml"))  # doctest: +SKIP
    """
    problems: list[tuple[str, str]] = []
    frames = {stream.name: _checked_stream(spark, stream, for_prediction, problems) for stream in config.data.streams}
    unreadable = sorted(name for name, frame in frames.items() if frame is None)
    frame = frames[config.data.base_stream]
    if frame is not None:
        for index, join in enumerate(config.data.joins):
            other = frames[join.stream]
            problem = join_problem(frame, other, join.on) if other is not None else None
            if problem:
                problems.append((f"data.joins[{index}].on", problem))
            elif other is not None:
                frame = frame.join(other, on=join.on, how=join.how)
        frame = _with_expressions(frame, "data", config.data.derive, config.data.filter, problems)
        # Prediction reads the same streams unless predict_path/predict_table replace them: keep_columns are
        # checked in either mode.
        found = column_problems(frame.schema, config, for_prediction=for_prediction)
        if not for_prediction:
            found += [p for p in column_problems(frame.schema, config, for_prediction=True)
                      if p[0].startswith("predict.keep_columns")]
        note = f" (streams {unreadable} could not be read, so their columns are unknown)" if unreadable else ""
        problems += [(field, f"{message}; columns are {sorted(frame.columns)}{note}") for field, message in found]
    if problems:
        count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
        kind = "prediction" if for_prediction else "training"
        message = f"{config.name}: {count} with the {kind} data:\n" + "\n".join(
            f"  - {field}: {text}" for field, text in problems)
        raise ConfigError(redact(message, secret_values(config)))


def _checked_stream(spark: SparkSession, stream: StreamConfig, for_prediction: bool,
                    problems: list[tuple[str, str]]) -> DataFrame | None:
    """The stream as far as it can be built, appending a problem for each step that fails; None if unreadable."""
    try:
        frame = open_source(spark, stream, for_prediction=for_prediction)
    except DataError as exc:
        problems.append(_split(str(exc)))
        return None
    try:
        frame = select_columns(frame, stream)
    except DataError as exc:
        problems.append(_split(str(exc)))
        frame = frame.select(*[c for c in stream.columns or [] if c in frame.columns])
    return _with_expressions(frame, stream_field(stream), stream.derive, stream.filter, problems)


def _with_expressions(frame: DataFrame, where: str, derive: dict[str, str], filter_: str | None,
                      problems: list[tuple[str, str]]) -> DataFrame:
    """``frame`` with every derive and the filter that resolve; each one that does not is a problem."""
    for name, expression in derive.items():
        try:
            frame = with_expression(frame, expression, f"{where}.derive.{name}", column=name)
        except DataError as exc:
            problems.append(_split(str(exc)))
    if filter_:
        try:
            frame = with_expression(frame, filter_, f"{where}.filter")
        except DataError as exc:
            problems.append(_split(str(exc)))
    return frame


def _split(message: str) -> tuple[str, str]:
    """``field: text`` (as the data steps raise it) -> ``(field, text)``."""
    field, _, text = message.partition(": ")
    return field, text
