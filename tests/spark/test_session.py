"""Sessions the framework starts itself (fresh JVMs, so each case runs in its own Python process)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from automl.spark.session import local_master, worker_python

# One session with the framework's settings; a UDF whose Python worker dies the first time it runs
# (a marker file remembers), and the Python each side runs.
_PROBE = """
import json, os, sys, psutil
from pyspark.sql import functions as F
from automl.config import SparkConfig
from automl.spark.logs import current_log_file
from automl.spark.session import get_spark
args = json.loads(sys.argv[1])
spark = get_spark(SparkConfig(master=args["master"], conf=args["conf"]), log_dir=args.get("log_dir"),
                  verbose=args.get("verbose", False))
java = [p for p in psutil.Process().children(recursive=True) if p.name() == "java"][0]
marker = args.get("marker")

def die_once(x):
    import os
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)  # the Python worker is lost, as when the OS kills it
    return x + 1

out = {"conf": spark.sparkContext.getConf().get("spark.driver.extraJavaOptions", ""),
       "cmdline": java.cmdline(), "timezone": spark.conf.get("spark.sql.session.timeZone"),
       "master": spark.sparkContext.master, "driver_python": sys.executable,
       "log": str(current_log_file()) if args.get("log_dir") else None}
if marker:
    out["worker_python"] = spark.range(1).select(F.udf(lambda _: __import__("sys").executable)("id")).first()[0]
    frame = spark.range(6).repartition(2).select(F.udf(die_once, "long")("id").alias("y"))
    out["total"] = int(frame.agg(F.sum("y")).first()[0])
print(json.dumps(out))
spark.stop()
"""
# Lines of the JVM and of Spark that must not reach a user's terminal by default.
_NOISE = re.compile(r"WARN|ERROR|NativeCodeLoader|Exception|incubator|log4j|^\s+at ", re.MULTILINE)


def _session(args: dict, env: dict[str, str] | None = None) -> tuple[dict, str]:
    """The probe's JSON line and its stderr."""
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(args)], capture_output=True, text=True,
                          timeout=240, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory) -> tuple[dict, str]:
    """A default (not verbose) run with a ``python3`` first on PATH that fails whenever it is started."""
    root = tmp_path_factory.mktemp("quiet")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    dummy = bin_dir / "python3"
    dummy.write_text("#!/bin/sh\necho 'the python3 on PATH was started' >&2\nexit 97\n")
    dummy.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "SPARK_HOME"):
        env.pop(name, None)
    # A run directory whose name log4j2 or Java's properties reader would change if written unescaped.
    log_dir = root / "run ${user.home} $x \u00e9" / "logs"
    return _session({"master": "local[2]", "conf": {"spark.ui.enabled": "false"}, "log_dir": str(log_dir),
                     "marker": str(root / "died")}, env=env)


@pytest.mark.spark
def test_python_workers_run_the_drivers_interpreter_not_the_python3_on_path(quiet_run):
    started, stderr = quiet_run
    assert started["worker_python"] == started["driver_python"]
    assert "python3 on PATH was started" not in stderr


@pytest.mark.spark
def test_a_task_whose_python_worker_dies_once_is_retried_and_the_job_finishes(quiet_run):
    started, _ = quiet_run
    assert started["master"] == "local[2,4]"
    assert started["total"] == sum(range(1, 7))


@pytest.mark.spark
def test_spark_output_goes_to_the_log_file_not_to_stderr(quiet_run):
    started, stderr = quiet_run
    assert not _NOISE.search(stderr), stderr[-3000:]
    log = Path(started["log"])
    assert log.parent.name == "logs" and re.fullmatch(r"spark-\d{8}T\d{6}\.\d{6}Z\.log", log.name)
    text = log.read_text()
    assert "incubator modules" in text  # the JVM's own stderr, before log4j starts
    assert "WARN TaskSetManager: Lost task" in text  # Spark's log4j lines, the retried task
    assert "Python worker exited unexpectedly" in text  # with their Java stack traces
    assert "-Dlog4j2.configurationFile=file:" in " ".join(started["cmdline"])
    assert "-XX:TieredStopAtLevel=1" in started["cmdline"]


@pytest.mark.spark
def test_verbose_sends_sparks_lines_to_stderr_as_well(tmp_path):
    started, stderr = _session({"master": "local[2]", "conf": {"spark.ui.enabled": "false"},
                                "log_dir": str(tmp_path / "logs"), "verbose": True, "marker": str(tmp_path / "died")})
    assert started["total"] == sum(range(1, 7))
    assert "WARN TaskSetManager: Lost task" in stderr
    assert "WARN TaskSetManager: Lost task" in Path(started["log"]).read_text()


@pytest.mark.spark
def test_a_local_session_gets_the_quick_jit_and_the_frameworks_defaults():
    started, _ = _session({"master": "local[1]", "conf": {}})
    assert "-XX:TieredStopAtLevel=1" in started["cmdline"]
    assert started["timezone"] == "UTC"


@pytest.mark.spark
def test_the_users_java_options_replace_the_quick_jit_and_keep_the_log_configuration(tmp_path):
    started, _ = _session({"master": "local[1]", "conf": {"spark.driver.extraJavaOptions": "-Dautoml.probe=1"},
                           "log_dir": str(tmp_path)})
    assert "-Dautoml.probe=1" in started["cmdline"]
    assert "-XX:TieredStopAtLevel=1" not in started["cmdline"]
    assert any(part.startswith("-Dlog4j2.configurationFile=") for part in started["cmdline"])


@pytest.mark.parametrize(("master", "failures", "expected"), [
    ("local", None, "local[1,4]"),
    ("local[2]", None, "local[2,4]"),
    ("local[*]", None, "local[*,4]"),
    (" local[ 3 ] ", None, "local[3,4]"),
    ("local[2]", "7", "local[2,7]"),
    ("local[2,1]", None, "local[2,1]"),
    ("local[*, 2]", "9", "local[*, 2]"),
    ("local-cluster[2,1,1024]", None, "local-cluster[2,1,1024]"),
    ("spark://host:7077", None, "spark://host:7077"),
])
def test_local_masters_get_task_retries_unless_they_name_their_own(master, failures, expected):
    assert local_master(master, failures) == expected


def test_workers_use_the_drivers_python_unless_the_user_chose_one(monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    assert worker_python({}) == sys.executable
    assert worker_python({"spark.pyspark.python": "/opt/py/bin/python"}) == "/opt/py/bin/python"
    assert worker_python({"spark.pyspark.driver.python": "/opt/py/bin/python"}) is None
    monkeypatch.setenv("PYSPARK_PYTHON", "/usr/bin/python3")
    assert worker_python({}) is None
    assert worker_python({"spark.pyspark.python": "/opt/py/bin/python"}) == "/opt/py/bin/python"
