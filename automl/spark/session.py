"""Spark sessions: reuse an active one (Databricks, notebooks), else build one from the config."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from automl.config import SparkConfig
from automl.errors import AutoMLError

__all__ = ["cores_of", "get_spark", "is_connect", "task_cpus"]

log = logging.getLogger(__name__)

# Settings the framework relies on; a user's spark.conf entries override them.
_DEFAULTS = {
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.python.worker.reuse": "true",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
}
# A local session's JVM compiles with C1 only: a many-model job's JVM work is short (statistics, shuffle,
# Arrow), and C2 compilation competed with the Python workers for the same cores. Measured on 2 cores, 60
# scenarios (docs/benchmarks.md): the JVM's CPU during the job fell from 11.4 s to 6.5 s, the wall from
# 20.4 s to 18.3 s. A user's own spark.driver.extraJavaOptions replaces it.
_LOCAL_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"
# The first call to a Connect server: 4 tries over about 4 seconds (the client's default waits 10 minutes).
_HANDSHAKE_RETRIES = {"max_retries": 3, "initial_backoff": 500, "backoff_multiplier": 2.0, "max_backoff": 2000}


def get_spark(settings: SparkConfig | None = None, *, remote: str | None = None) -> SparkSession:
    """A Spark Connect session when ``remote`` is given, else the active session (Databricks, notebooks),
    else a new classic session on ``spark.master``."""
    settings = settings or SparkConfig()
    active = SparkSession.getActiveSession()
    if active is not None and not remote:
        return active
    remote = remote or settings.remote or os.environ.get("SPARK_REMOTE")
    if remote:
        return _connect(remote, settings)
    builder = SparkSession.builder.appName(settings.app_name or "automl")
    master = os.environ.get("AUTOML_SPARK_MASTER") or _configured_master(settings)
    if master:
        builder = builder.master(master)
    conf = {**_DEFAULTS, **{k: str(v) for k, v in settings.conf.items()}}
    if master and master.startswith("local"):
        conf.setdefault("spark.driver.extraJavaOptions", _LOCAL_JVM_OPTIONS)
    # Worker processes size BLAS/OpenMP pools at start-up: cap them at the task's cores up front.
    threads = conf.get("spark.task.cpus", "1")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        conf.setdefault(f"spark.executorEnv.{name}", threads)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session: %s", spark.version, spark.conf.get("spark.master", "?"))
    wheels = [p for p in spark.sparkContext.getConf().get("spark.submit.pyFiles", "").split(",") if p.endswith(".whl")]
    if wheels:  # executors would fail later with "No module named ..."
        log.warning("--py-files %s: pyspark puts only .py, .zip and .egg files on the executors' Python path; ship "
                    "a pure-Python wheel under a .zip name (it is a zip archive)", ", ".join(wheels))
    return spark


def _connect(url: str, settings: SparkConfig) -> SparkSession:
    """A Spark Connect session that has answered once, with the framework's SQL settings applied.

    The Connect client retries an unreachable server for about ten minutes before failing; the first call
    here gets a few quick retries instead, so a wrong URL or a stopped server fails fast and clearly. Only
    ``spark.sql.*`` settings can be changed from a client: cores, memory and Python workers are the server's.
    """
    from pyspark.sql.connect.client.retries import DefaultPolicy

    shown = url.split("/;")[0]  # parameters after "/;" may hold a token
    spark = None
    try:
        spark = SparkSession.builder.remote(url).getOrCreate()
        client = spark.client  # type: ignore[attr-defined]
        policies = client.get_retry_policies()
        client.set_retry_policies([DefaultPolicy(**_HANDSHAKE_RETRIES)])
        with warnings.catch_warnings():  # "[RETRIES_EXCEEDED]": the error below says it better
            warnings.simplefilter("ignore")
            version = spark.version
        client.set_retry_policies(policies)
    except Exception as exc:
        if spark is not None:
            # Close it now, without retries: the client's exit hook would otherwise retry its clean-up
            # calls to the missing server for ten minutes before the process can end.
            spark.client.set_retry_policies([])  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                spark.stop()
        raise AutoMLError(f"cannot connect to the Spark Connect server at {shown}: {_grpc_detail(exc)}; check that the "
                          f"server is running and the URL (--remote, spark.remote or SPARK_REMOTE)") from None
    conf = {**_DEFAULTS, **{k: str(v) for k, v in settings.conf.items()}}
    for key, value in conf.items():
        if key.startswith("spark.sql."):
            try:
                spark.conf.set(key, value)
            except Exception as exc:  # e.g. a managed server that fixes this setting
                log.warning("Spark Connect %s: cannot set %s=%s: %s", shown, key, value, _grpc_detail(exc))
    ignored = sorted(k for k in settings.conf if not k.startswith("spark.sql."))
    if ignored:
        log.warning("over Spark Connect these spark.conf settings belong to the server and are ignored: %s",
                    ", ".join(ignored))
    log.info("Spark %s session: Spark Connect %s", version, shown)
    return spark


def _grpc_detail(exc: Exception) -> str:
    """The gRPC status detail ("Connection refused", "Domain name not found") instead of the whole dump."""
    text = str(exc)
    found = re.search(r'details = "([^"]*)"', text)
    return found.group(1) if found else (text.strip() or type(exc).__name__).splitlines()[0][:500]


def _configured_master(settings: SparkConfig) -> str | None:
    """``spark.master`` from the config, or None under spark-submit: its ``--master`` (or spark-defaults.conf)
    has already chosen the cluster, and setting the config's default ``local[*]`` here would silently run the
    whole job on the driver."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit started this driver and its JVM
        return None
    return settings.master


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (no JVM, no SparkContext on the client)."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


def task_cpus(spark: SparkSession) -> int:
    """Cores each Spark task owns; models inside a task use exactly these."""
    return int(spark.conf.get("spark.task.cpus", "1") or 1)


def cores_of(spark: SparkSession, override: int | None = None) -> int:
    """Cores available to run tasks at once: the default parallelism (classic and Connect alike)."""
    if override:
        return override
    if not is_connect(spark):
        return max(1, spark.sparkContext.defaultParallelism)
    value = spark.conf.get("spark.default.parallelism", None)
    if value and str(value).isdigit():
        return max(1, int(value))
    # No SparkContext on a Connect client: a range without a partition count is split into the server's
    # default parallelism, so its last partition id tells the same number (one tiny job).
    partitions = spark.range(0, 1 << 16).select(F.spark_partition_id().alias("partition"))
    last = partitions.agg(F.max("partition")).first()[0]
    return max(1, int(last) + 1)
