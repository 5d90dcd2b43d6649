"""Spark sessions: reuse an active one (Databricks, notebooks), else build one from the config."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import warnings
from collections.abc import Mapping

from pyspark import SparkConf, SparkContext
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from automl.config import SparkConfig
from automl.errors import AutoMLError
from automl.spark import logs

__all__ = ["cores_of", "get_spark", "is_connect", "local_master", "task_cpus", "worker_python"]

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
# A local session tries each task this many times (Spark's local default: once, so one lost Python worker
# failed the whole job).
_LOCAL_TASK_TRIES = 4
_LOCAL_MASTER = re.compile(r"local(?:\[\s*(\d+|\*)\s*\])?")
# The first call to a Connect server: 4 tries over about 4 seconds (the client's default waits 10 minutes).
_HANDSHAKE_RETRIES = {"max_retries": 3, "initial_backoff": 500, "backoff_multiplier": 2.0, "max_backoff": 2000}


def get_spark(settings: SparkConfig | None = None, *, remote: str | None = None,
              log_dir: str | os.PathLike[str] | None = None, verbose: bool = False) -> SparkSession:
    """A Spark Connect session when ``remote`` is given, else the active session (Databricks, notebooks),
    else a new classic session on ``spark.master``.

    A session this starts on a ``local`` or standalone master runs its Python workers on this interpreter
    (see :func:`worker_python`), and a local one retries failed tasks (see :func:`local_master`). With
    ``log_dir``, the driver JVM's own output goes to a file there instead of stderr (to both when
    ``verbose``); :func:`automl.spark.logs.current_log_file` names it.

    Example: ``get_spark(config.spark, log_dir=f"{config.output.path}/logs", verbose=args.verbose)``.
    """
    settings = settings or SparkConfig()
    active = SparkSession.getActiveSession()
    if active is not None and not remote:
        return active
    remote = remote or settings.remote or os.environ.get("SPARK_REMOTE")
    if remote:
        return _connect(remote, settings)
    conf = {**_DEFAULTS, **{k: str(v) for k, v in settings.conf.items()}}
    master = os.environ.get("AUTOML_SPARK_MASTER") or _configured_master(settings)
    python = None
    if master:  # None under spark-submit: its command line and the cluster's settings decide all of this
        if master.startswith("local"):
            master = local_master(master, conf.get("spark.task.maxFailures"))
        if master.startswith(("local", "spark://")):
            python = worker_python(conf)
        conf["spark.master"] = master
    if python:  # the JVM starts Python processes of its own too (e.g. listing Python data sources)
        conf.setdefault("spark.pyspark.python", python)
    # No driver JVM in this process yet (pyspark keeps it on this class attribute): this call starts one.
    launching = master is not None and SparkContext._gateway is None
    spark_log = logs.start_log(log_dir, verbose) if log_dir and master is not None else None
    default_options = _LOCAL_JVM_OPTIONS if master and master.startswith("local") else None
    options = logs.java_options(spark_log, conf.get("spark.driver.extraJavaOptions"), default_options)
    if options:
        conf["spark.driver.extraJavaOptions"] = options
    # Worker processes size BLAS/OpenMP pools at start-up: cap them at the task's cores up front.
    threads = conf.get("spark.task.cpus", "1")
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        conf.setdefault(f"spark.executorEnv.{name}", threads)
    conf["spark.app.name"] = settings.app_name or "automl"
    if launching:
        _start_driver(conf, spark_log)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if spark_log is not None and not launching:  # a second session on this process's JVM
        logs.reconfigure(spark.sparkContext._jvm, spark_log)
    if python:  # pyspark itself takes PYSPARK_PYTHON or "python3" from PATH, and ignores the setting here
        spark.sparkContext.pythonExec = conf["spark.pyspark.python"]
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s session: %s", spark.version, spark.conf.get("spark.master", "?"))
    wheels = [p for p in spark.sparkContext.getConf().get("spark.submit.pyFiles", "").split(",") if p.endswith(".whl")]
    if wheels:  # executors would fail later with "No module named ..."
        log.warning("--py-files %s: pyspark puts only .py, .zip and .egg files on the executors' Python path; ship "
                    "a pure-Python wheel under a .zip name (it is a zip archive)", ", ".join(wheels))
    return spark


def worker_python(conf: Mapping[str, str]) -> str | None:
    """The interpreter Python workers run in a session the framework starts, or None to leave pyspark's.

    Local Spark starts workers with ``python3`` from PATH, so a virtualenv's ``automl`` run without
    activating the venv had workers without its packages. The driver's interpreter is used unless the user
    chose one: ``spark.pyspark.python`` (applied as given), ``PYSPARK_PYTHON`` or
    ``spark.pyspark.driver.python`` (left to pyspark).

    Example: ``worker_python({})`` is ``sys.executable``.
    """
    if conf.get("spark.pyspark.python"):
        return conf["spark.pyspark.python"]
    if os.environ.get("PYSPARK_PYTHON") or conf.get("spark.pyspark.driver.python"):
        return None
    return sys.executable or None


def local_master(master: str, max_failures: str | None = None) -> str:
    """``local``, ``local[N]`` or ``local[*]`` with task retries, as ``local[N,F]``; any other master as given.

    Spark's local mode tries each task once, so one lost Python worker failed the whole job. ``F`` is the
    user's ``spark.task.maxFailures`` (which local mode otherwise ignores), else 4; a master that already
    names its failures is kept.

    Example: ``local_master("local[2]") == "local[2,4]"``.
    """
    found = _LOCAL_MASTER.fullmatch(master.strip())
    if not found:
        return master
    tries = max_failures.strip() if max_failures and max_failures.strip().isdigit() else str(_LOCAL_TASK_TRIES)
    return f"local[{found.group(1) or 1},{tries}]"


def _start_driver(conf: dict[str, str], spark_log: logs.SparkLog | None) -> None:
    """Start the driver JVM as pyspark would, with its launcher's stderr in the log file.

    pyspark's launcher finds SPARK_HOME by running ``python3`` from PATH unless it is set, which fails
    with a broken or foreign ``python3`` first on PATH: it is set here from this interpreter's pyspark.
    """
    from pyspark.find_spark_home import _find_spark_home

    os.environ.setdefault("SPARK_HOME", _find_spark_home())
    if spark_log is None:
        return  # the builder starts it, with stderr on the terminal
    spark_conf = SparkConf(loadDefaults=False).setAll(list(conf.items()))
    stderr = spark_log.gateway_stderr()
    try:
        gateway = launch_gateway(spark_conf, popen_kwargs={} if stderr is None else {"stderr": stderr})
    except Exception as exc:
        tail = spark_log.file.read_text(errors="replace").strip().splitlines()[-20:]
        raise AutoMLError(f"the Spark driver JVM did not start ({type(exc).__name__}); its output, from "
                          f"{spark_log.file}:\n" + "\n".join(tail)) from None
    finally:
        if stderr is not None:
            os.close(stderr)
    SparkContext(conf=spark_conf, gateway=gateway)


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
