"""Faults on a real standalone cluster: injected scenario failures plus Python workers killed mid-run.

``AUTOML_FAULT_INJECTION`` (read by the driver) makes a reproducible tenth of the scenarios raise ``InjectedFault``; those must
end as ``failed`` rows while the rest train. Meanwhile the test SIGKILLs one worker's Python processes
(``pyspark.daemon`` and the workers it forked) while they run a task, so Spark must retry the lost task on a
fresh Python worker. The job must still finish (exit 0, the failed fraction is under the allowed 0.5) with
exactly one row per scenario, and only the injected scenarios failed.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest

from automl.demo_data import write_demand
from automl.jobs.scenario_task import FAULT_INJECTION_VARIABLE
from automl.scenario.keys import scenario_seed
from automl_jobs import CONFIG, REPO, TRAIN_TIMEOUT, checked, job_env, read_results
from servers import SPARK_HOME, Job, wait_for

pytestmark = pytest.mark.cluster

STORES, ITEMS = 4, 6  # 24 scenarios: enough cluster time to kill workers mid-run
FAULTS, SEED = 0.1, 42  # SEED is tuning.seed in configs/demand.yaml


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
        children.setdefault(ppid, []).append(int(entry))
    return children


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def python_workers(root: int) -> list[int]:
    """The ``pyspark.daemon``/``pyspark.worker`` processes below ``root`` (a worker JVM, via its executors)."""
    children, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        for child in children.get(pid, []):
            todo.append(child)
            if "pyspark.daemon" in _cmdline(child) or "pyspark.worker" in _cmdline(child):
                found.append(child)
    return found


@pytest.fixture(scope="module")
def many_scenarios(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fault-data")
    write_demand(root / "demand", n_stores=STORES, n_items=ITEMS, n_weeks=120)
    return root


def test_killed_python_workers_and_injected_faults(standalone, wheel, many_scenarios):
    expected = pd.read_parquet(many_scenarios / "demand" / "sales.parquet")[["store_id", "item_id"]]
    expected = sorted(set(map(tuple, expected.itertuples(index=False))))
    injected = {k for k in expected
                if scenario_seed(SEED, {"store_id": k[0], "item_id": k[1]}) / 0x7FFFFFFF < FAULTS}
    assert 0 < len(injected) < len(expected) / 2, injected  # the data was chosen so this holds

    workspace = standalone.workspace
    package = wheel.path.with_suffix(".zip")  # pyspark puts .zip (not .whl) files on the executors' path
    shutil.copy2(wheel.path, package)
    output = workspace.root / "fault-output"
    env = job_env(workspace, many_scenarios, output, python_path=standalone.worker_env["PYTHONPATH"])
    env[FAULT_INJECTION_VARIABLE] = str(FAULTS)
    job = Job([str(SPARK_HOME / "bin" / "spark-submit"), "--master", standalone.url, "--py-files", str(package),
               "--conf", f"spark.pyspark.python={sys.executable}", "--conf", "spark.ui.enabled=false",
               "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
               "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=120s",
               str(REPO / "jobs" / "train.py"), "--config", str(CONFIG),
               "--set", "tuning.max_evals=3", 
               "--set", "execution.max_failed_fraction=0.5"],
              workspace=workspace, env=env, timeout=TRAIN_TIMEOUT, name="spark-submit-train-faults")
    victim = standalone.processes["worker-0"].pid
    killed: list[tuple[int, str]] = []
    try:
        def finished() -> int:
            return sum(1 for _ in output.glob("demand/runs/*/checkpoints/*.json"))

        # A few scenarios are done and worker-0's executor is busy in Python: kill every Python process it has.
        wait_for(lambda: finished() >= 3 and python_workers(victim), timeout=180,
                 what="3 checkpoints and Python workers on worker-0", logs=[job.err],
                 alive=lambda: job.process.poll() is None, every=0.2)
        assert finished() < len(expected), "the job finished before the kill: not enough work per scenario"
        for pid in python_workers(victim):
            command = _cmdline(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, command))
            except ProcessLookupError:
                pass
        result = job.wait()
    finally:
        job.stop()

    assert killed, "no Python worker was killed"
    summary = checked(result, "spark-submit jobs/train.py with faults")
    # The kill cost Spark a task attempt, which it retried (TaskSetManager logs the loss at WARN).
    assert "Lost task" in result.stderr, result.explain()

    results = read_results(summary)
    keys = list(zip(results["store_id"], results["item_id"]))
    assert sorted(keys) == expected  # exactly one row per scenario
    failed = results[results["status"] == "failed"]
    assert set(zip(failed["store_id"], failed["item_id"])) == injected
    assert (failed["error_type"] == "InjectedFault").all(), failed[["store_id", "item_id", "error_type", "error"]]
    others = results[results["status"] != "failed"]
    assert (others["status"] == "ok").all(), others[["store_id", "item_id", "status", "error"]]
    assert summary["counts"] == {"ok": len(expected) - len(injected), "unchanged": 0, "failed": len(injected), "skipped": 0}
