"""Spark sessions: reuse an active one (Databricks, notebooks), else build one from the config."""
from __future__ import annotations

import logging
import os

from pyspark.sql import SparkSession

from automl.config import SparkConfig

__all__ = ["cores_of", "get_spark", "is_connect", "task_cpus"]

log = logging.getLogger(__name__)

# Settings the framework relies on; a user's spark.conf entries override them.
_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}


def get_spark(settings: SparkConfig | None = None, *, remote: str | None = None) -> SparkSession:
    """A Spark Connect session when ``remote`` is given, else the active session (Databricks, notebooks),
    else a new classic session on ``spark.master``."""
    settings = settings or SparkConfig()
    active = SparkSession.getActiveSession()
    if active is not None and not remote:
        return active
    remote = remote or settings.remote or os.environ.get("SPARK_REMOTE")
    builder = SparkSession.builder.appName(settings.app_name or "automl")
    if remote:
        builder = builder.remote(remote)
    else:
        builder = builder.master(os.environ.get("AUTOML_SPARK_MASTER", settings.master))
        conf = {**_DEFAULTS, **{k: str(v) for k, v in settings.conf.items()}}
        # Worker processes size BLAS/OpenMP pools at start-up: cap them at the task's cores up front.
        threads = conf.get("spark.task.cpus", "1")
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            conf.setdefault(f"spark.executorEnv.{name}", threads)
        for key, value in conf.items():
            builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not remote:
        spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session: %s", spark.version, remote or spark.conf.get("spark.master", "?"))
    return spark


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (no JVM, no SparkContext on the client)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def task_cpus(spark: SparkSession) -> int:
    """Cores each Spark task owns; models inside a task use exactly these."""
    return int(spark.conf.get("spark.task.cpus", "1") or 1)


def cores_of(spark: SparkSession, override: int | None = None) -> int:
    """Cores available to run tasks at once (classic: default parallelism; Connect: from the server conf)."""
    if override:
        return override
    if not is_connect(spark):
        return max(1, spark.sparkContext.defaultParallelism)
    for key in ("spark.default.parallelism", "spark.sql.shuffle.partitions"):
        value = spark.conf.get(key, None)
        if value and str(value).isdigit():
            return max(1, int(value))
    master = spark.conf.get("spark.master", "") or ""
    if master.startswith("local["):
        inner = master[len("local["):].rstrip("]").split(",")[0]
        return os.cpu_count() or 1 if inner == "*" else max(1, int(inner))
    return os.cpu_count() or 1
