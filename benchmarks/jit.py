"""Why local sessions run their JVM with C1 only: one job's wall and JVM CPU under two JIT settings.

    python benchmarks/jit.py [--scenarios 60] [--repeat 2]

Each measurement is a fresh Python process and JVM (session start-up not timed) training the balanced
workload with ``automl.jobs.train``; it alternates the framework's default (``-XX:TieredStopAtLevel=1``) and
the JVM's own (tiered C1 + C2, requested with ``-XX:TieredStopAtLevel=4``). Prints one JSON line per run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
SETTINGS = {"c1_only": "-XX:TieredStopAtLevel=1", "c1_and_c2": "-XX:TieredStopAtLevel=4"}


def one_run(java_options: str, scenarios: int) -> dict:
    """In this process: a fresh session with ``java_options``, then one timed ``jobs.train``."""
    import psutil
    from workload import make_config, sizes_for, write_workload

    from automl import jobs
    from automl.config import SparkConfig
    from automl.spark.session import get_spark

    work = tempfile.mkdtemp(prefix="automl-jit-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    workload = write_workload(work, sizes_for("balanced", quick=False, scenarios=scenarios, rows=None))
    spark = get_spark(SparkConfig(master="local[2]", conf={"spark.ui.enabled": "false",
                                                          "spark.driver.extraJavaOptions": java_options}))
    config = make_config("balanced", data_path=workload.path, output_path=os.path.join(work, "out"),
                         tracking_uri="sqlite:///" + os.path.join(work, "mlflow.db"), cores=2)
    java = next(p for p in psutil.Process().children(recursive=True) if p.name() == "java")
    cpu_before = sum(java.cpu_times()[:2])
    started = time.perf_counter()
    summary = jobs.train(config, spark=spark)
    return {"java_options": java_options, "wall_seconds": round(time.perf_counter() - started, 2),
            "jvm_cpu_seconds": round(sum(java.cpu_times()[:2]) - cpu_before, 2), "counts": summary.counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one measurement in this process
    args = parser.parse_args()
    sys.path[:0] = [_HERE, _REPO]
    if args.one is not None:
        print(json.dumps(one_run(args.one, args.scenarios)))
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_REPO, _HERE, os.environ.get("PYTHONPATH")])),
           "MLFLOW_LOGGING_LEVEL": "ERROR"}
    for _ in range(args.repeat):
        for name, options in SETTINGS.items():
            done = subprocess.run([sys.executable, __file__, "--scenarios", str(args.scenarios), f"--one={options}"],
                                  capture_output=True, text=True, env=env, timeout=1800)
            if done.returncode != 0:
                raise SystemExit(done.stderr[-2000:])
            print(json.dumps({"setting": name, **json.loads(done.stdout.strip().splitlines()[-1])}), flush=True)


if __name__ == "__main__":
    main()
