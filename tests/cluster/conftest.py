"""Fixtures for the cluster tests: demo data, the local reference run, a standalone cluster, a Connect server.

Every job runs as a subprocess on the code of this checkout (``PYTHONPATH`` = the repository root), never on
whatever ``automl`` happens to be installed. Servers and jobs write only below pytest's tmp directories,
and every process a fixture starts is stopped in its finalizer, also when a test fails.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from automl_jobs import CONFIG, REPO, SETTINGS, TRAIN_TIMEOUT, checked, job_env, read_results
from process_helpers import automl_command
from servers import ConnectServer, Job, StandaloneCluster, Workspace, run


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The small demand/churn example data, written once by this checkout's generator."""
    root = tmp_path_factory.mktemp("cluster-data")
    workspace = Workspace(tmp_path_factory.mktemp("cluster-data-job"))
    result = run(automl_command("demo-data", "--out", str(root), "--small"), workspace=workspace,
                 env=workspace.env(PYTHONPATH=str(REPO)), timeout=120)
    assert result.returncode == 0, result.explain()
    return root


class LocalRun:
    """The reference run, started in the background: it overlaps the servers' start-up on a 2-core machine."""

    def __init__(self, job: Job) -> None:
        self.job = job

    @functools.cached_property
    def summary(self) -> dict:
        return checked(self.job.wait(), "local reference run")

    @functools.cached_property
    def results(self) -> pd.DataFrame:
        return read_results(self.summary)


@pytest.fixture(scope="session")
def local_run(demo_data: Path, tmp_path_factory):
    """``automl train`` on ``local[2]``: the reference every cluster run must reproduce scenario by scenario."""
    workspace = Workspace(tmp_path_factory.mktemp("local-run"))
    env = job_env(workspace, demo_data, workspace.root / "output")
    env["PYSPARK_SUBMIT_ARGS"] = "--conf spark.ui.enabled=false pyspark-shell"  # no web UI port to take
    job = Job(automl_command("train", "--config", str(CONFIG), *SETTINGS, "--set", "spark.master=local[2]"),
              workspace=workspace, env=env, timeout=TRAIN_TIMEOUT, name="train")
    try:
        yield LocalRun(job)
    finally:
        job.stop()


@pytest.fixture(scope="module")
def hidden_automl(tmp_path_factory) -> tuple[Path, bool]:
    """A ``sitecustomize`` dir that removes an editable ``automl`` install from the import machinery.

    On ``PYTHONPATH`` of the cluster's processes it makes them import ``automl`` only from what the job ships,
    so a passing job proves the package really travelled with ``spark-submit``. Returns the directory and
    whether ``automl`` is really hidden (not when it is installed as a regular, non-editable package).
    """
    hidden = tmp_path_factory.mktemp("hide-automl")
    (hidden / "sitecustomize.py").write_text(
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if '__editable__' not in getattr(f, '__module__', '')\n"
        "                    and '__editable__' not in getattr(type(f), '__module__', '')]\n")
    probe = subprocess.run([sys.executable, "-c", "import automl"], env={"PYTHONPATH": str(hidden)},
                           capture_output=True, text=True, cwd=hidden, timeout=60)
    return hidden, "No module named 'automl'" in probe.stderr


@pytest.fixture(scope="module")
def standalone(tmp_path_factory, hidden_automl):
    """A master and two one-core workers on 127.0.0.1 (three JVMs), stopped with their executors afterwards."""
    workspace = Workspace(tmp_path_factory.mktemp("standalone"))
    cluster = StandaloneCluster(workspace, n_workers=2, cores=1, memory="2g",
                                worker_env={"PYTHONPATH": str(hidden_automl[0])})
    try:
        yield cluster.start()
    finally:
        cluster.stop()


class WheelBuild:
    """``pip wheel`` of this checkout, running in the background while the cluster starts."""

    def __init__(self, job: Job, dist: Path) -> None:
        self.job, self.dist = job, dist

    @functools.cached_property
    def path(self) -> Path:
        result = self.job.wait()
        assert result.returncode == 0, f"pip wheel failed: {result.explain()}"
        (built,) = self.dist.glob("automl_many_models-*.whl")
        return built


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """This checkout built into a wheel as users build it, from a copy (a build writes next to its source)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    source.mkdir()
    for name in ("setup.py", "README.md"):
        shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "automl", source / "automl", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    workspace = Workspace(root / "build")
    job = Job([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "--quiet",
               "--wheel-dir", str(root / "dist"), str(source)],
              workspace=workspace, env=workspace.env(), timeout=300, name="pip-wheel")
    try:
        yield WheelBuild(job, root / "dist")
    finally:
        job.stop()


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """A Spark Connect server on local[2] whose Python workers run this checkout's ``automl``."""
    workspace = Workspace(tmp_path_factory.mktemp("connect"))
    server = ConnectServer(workspace, master="local[2]", env={"PYTHONPATH": str(REPO)})
    try:
        yield server.start()
    finally:
        server.stop()
