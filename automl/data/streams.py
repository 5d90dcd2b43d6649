"""Read one configured data stream into a (lazy) Spark DataFrame."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from automl.config import StreamConfig
from automl.errors import DataError

__all__ = ["error_summary", "read_stream", "with_expression"]


def read_stream(spark: SparkSession, stream: StreamConfig, *, for_prediction: bool = False) -> DataFrame:
    """The stream's rows after its column selection, derived columns and filter.

    For prediction, ``predict_path`` / ``predict_table`` replace the source when set.
    """
    path = (stream.predict_path if for_prediction else None) or stream.path
    table = (stream.predict_table if for_prediction else None) or stream.table
    source = table or path
    try:
        if table is not None:
            frame = spark.table(table)
        else:
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
        columns = frame.columns
    except Exception as exc:  # Spark raises AnalysisException (classic) or its Connect twin
        hint = ""
        if "TIMESTAMP(NANOS" in str(exc):  # the footer check above could not open the file from this process
            hint = ("; nanosecond timestamps are read only when this process can open the file too (over Spark "
                    "Connect, the client): write them as microseconds, e.g. pandas to_parquet(..., "
                    "coerce_timestamps='us', allow_truncated_timestamps=True)")
        raise DataError(f"stream {stream.name!r}: cannot read {stream.format} {source!r}: "
                        f"{error_summary(exc)}{hint}") from None
    if stream.columns is not None:
        missing = [c for c in stream.columns if c not in columns]
        if missing:
            raise DataError(f"stream {stream.name!r} ({source}): columns {missing} not found; "
                            f"available: {columns}")
        frame = frame.select(*stream.columns)
    for name, expression in stream.derive.items():
        frame = with_expression(frame, expression, f"stream {stream.name!r} derive.{name}", column=name)
    if stream.filter:
        frame = with_expression(frame, stream.filter, f"stream {stream.name!r} filter")
    return frame


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


def error_summary(exc: Exception) -> str:
    """The first line of a (long, JVM-flavoured) Spark error."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]
