"""Sessions the framework starts itself (fresh JVMs, so each case runs in its own Python process)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = """
import json, sys, psutil
from automl.config import SparkConfig
from automl.spark.session import get_spark
spark = get_spark(SparkConfig(master="local[1]", conf=json.loads(sys.argv[1])))
java = [p for p in psutil.Process().children(recursive=True) if p.name() == "java"][0]
print(json.dumps({"conf": spark.sparkContext.getConf().get("spark.driver.extraJavaOptions", ""),
                  "cmdline": java.cmdline(), "timezone": spark.conf.get("spark.sql.session.timeZone")}))
spark.stop()
"""


def _session(conf: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(conf)], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.spark
def test_a_local_session_gets_the_quick_jit_and_the_frameworks_defaults():
    started = _session({})
    assert "-XX:TieredStopAtLevel=1" in started["cmdline"]
    assert started["timezone"] == "UTC"


@pytest.mark.spark
def test_the_users_java_options_replace_the_quick_jit():
    started = _session({"spark.driver.extraJavaOptions": "-Dautoml.probe=1"})
    assert "-Dautoml.probe=1" in started["cmdline"]
    assert "-XX:TieredStopAtLevel=1" not in started["cmdline"]
