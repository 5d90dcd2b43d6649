"""Read one configured data stream into a (lazy) Spark DataFrame.

Each step (open the source, select columns, add a derived column, filter) is its own function raising a
:class:`~automl.errors.DataError` located by field path, so :func:`read_stream` stops at the first problem
while :mod:`automl.data.check` runs every step and collects them all.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from automl.config import StreamConfig
from automl.errors import DataError

__all__ = ["error_summary", "open_source", "read_stream", "select_columns", "source_field", "stream_field",
           "with_expression"]


def stream_field(stream: StreamConfig) -> str:
    """The stream's field path as config errors write it: ``data.streams[sales]``."""
    return f"data.streams[{stream.name}]"


def source_field(stream: StreamConfig, *, for_prediction: bool) -> str:
    """The field path of the setting the stream is read from (``path``, ``table``, ``predict_path``, ...)."""
    for name in (("predict_table", "predict_path") if for_prediction else ()) + ("table", "path"):
        if getattr(stream, name) is not None:
            return f"{stream_field(stream)}.{name}"
    return stream_field(stream)


def read_stream(spark: SparkSession, stream: StreamConfig, *, for_prediction: bool = False) -> DataFrame:
    """The stream's rows after its column selection, derived columns and filter.

    For prediction, ``predict_path`` / ``predict_table`` replace the source when set.
    """
    frame = select_columns(open_source(spark, stream, for_prediction=for_prediction), stream)
    for name, expression in stream.derive.items():
        frame = with_expression(frame, expression, f"{stream_field(stream)}.derive.{name}", column=name)
    if stream.filter:
        frame = with_expression(frame, stream.filter, f"{stream_field(stream)}.filter")
    return frame


def open_source(spark: SparkSession, stream: StreamConfig, *, for_prediction: bool = False) -> DataFrame:
    """The stream's source as Spark reads it: the schema is resolved now (file footers, catalog), no rows."""
    path = (stream.predict_path if for_prediction else None) or stream.path
    table = (stream.predict_table if for_prediction else None) or stream.table
    source = table or path
    where = source_field(stream, for_prediction=for_prediction)
    try:
        frame = _load(spark, stream, path, table)
        frame.columns  # Spark Connect resolves lazily: force it
    except Exception as exc:  # Spark raises AnalysisException (classic) or its Connect twin
        clash = _case_clash(spark, stream, path, table) if "COLUMN_ALREADY_EXISTS" in str(exc) else []
        if clash:
            raise DataError(f"{where}: cannot read {stream.format} {source!r}: columns {clash} differ only in "
                            f"letter case, and Spark matches column names case-insensitively by default. Set "
                            f"'spark.conf: {{spark.sql.caseSensitive: true}}' and write column names with their "
                            f"exact case in the config; then the stream's 'columns:' can keep just one of them, or "
                            f"its 'derive:' can rename one (e.g. month_number: month)") from None
        hint = ""
        if "TIMESTAMP(NANOS" in str(exc):  # the footer check could not open the file from this process
            hint = ("; nanosecond timestamps are read only when this process can open the file too (over Spark "
                    "Connect, the client): write them as microseconds, e.g. pandas to_parquet(..., "
                    "coerce_timestamps='us', allow_truncated_timestamps=True)")
        raise DataError(f"{where}: cannot read {stream.format} {source!r}: {error_summary(exc)}{hint}") from None
    return frame


def _load(spark: SparkSession, stream: StreamConfig, path: str | None, table: str | None) -> DataFrame:
    if table is not None:
        return spark.table(table)
    reader = spark.read.format(stream.format)
    if stream.format == "csv":
        reader = reader.option("header", "true").option("inferSchema", "true")
    nanos = _nanosecond_timestamps(path) if stream.format == "parquet" else []
    if nanos:
        # Spark cannot read pandas' default TIMESTAMP(NANOS) columns; read them as longs instead.
        spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    frame = reader.options(**{k: str(v) for k, v in stream.options.items()}).load(path)
    for name in nanos:
        frame = frame.withColumn(name, F.expr(f"CAST(timestamp_micros(`{name}` DIV 1000) AS TIMESTAMP_NTZ)"))
    return frame


def _case_clash(spark: SparkSession, stream: StreamConfig, path: str | None, table: str | None) -> list[str]:
    """Column names of the source equal but for letter case, read once with case-sensitive names."""
    key = "spark.sql.caseSensitive"
    before = spark.conf.get(key, "false")
    try:
        spark.conf.set(key, "true")
        columns = _load(spark, stream, path, table).columns
    except Exception:  # the source cannot be read this way either: report Spark's own error
        return []
    finally:
        spark.conf.set(key, before)
    lowered = [c.lower() for c in columns]
    return [c for c in columns if lowered.count(c.lower()) > 1]


def select_columns(frame: DataFrame, stream: StreamConfig) -> DataFrame:
    """``frame`` reduced to the stream's ``columns`` when listed; every listed column must exist."""
    if stream.columns is None:
        return frame
    missing = [c for c in stream.columns if c not in frame.columns]
    if missing:
        raise DataError(f"{stream_field(stream)}.columns: columns {missing} not found; columns are {frame.columns}")
    return frame.select(*stream.columns)


def _nanosecond_timestamps(path: str | None) -> list[str]:
    """Columns stored as nanosecond timestamps in a local parquet file or directory (pyarrow reads the footer)."""
    import glob
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path or "://" in path and not path.startswith("file:"):
        return []
    local = path.removeprefix("file:")
    files = [local] if os.path.isfile(local) else sorted(glob.glob(os.path.join(local, "**", "*.parquet"),
                                                                   recursive=True))[:1]
    if not files:
        return []
    try:
        schema = pq.read_schema(files[0])
    except Exception:  # unreadable here: Spark reports the real problem when it reads the file
        return []
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


def with_expression(frame: DataFrame, expression: str, where: str, *, column: str | None = None) -> DataFrame:
    """``frame`` with a derived ``column`` (or filtered, without one), resolved now (schema only, no job),
    so a bad Spark SQL expression is reported where it was written."""
    try:
        result = frame.withColumn(column, F.expr(expression)) if column else frame.where(F.expr(expression))
        result.schema  # Spark Connect resolves lazily: force it
    except Exception as exc:
        raise DataError(f"{where}: invalid Spark SQL expression {expression!r}: {error_summary(exc)}") from None
    return result


def error_summary(exc: BaseException) -> str:
    """The first line of a (long, JVM-flavoured) Spark error."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
