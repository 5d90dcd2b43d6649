"""Real servers for the cluster tests: a Spark standalone cluster and a Spark Connect server, on 127.0.0.1.

Every process is started in a new session (its own process group) with its working directory, logs, Spark
local dirs and temp files inside a directory the caller owns, so ``stop`` can kill the whole group (JVM,
executors, Python workers) and nothing is left behind outside that directory.
"""
from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import pyspark
from process_helpers import LOOPBACK, free_port

__all__ = ["ConnectServer", "Job", "Result", "StandaloneCluster", "Workspace", "run", "wait_for"]

SPARK_HOME = Path(pyspark.__file__).parent
_IDENT = "automl-test"  # names the Connect server's pid and log files
_CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def wait_for(check: Callable[[], bool], *, timeout: float, what: str, logs: Sequence[Path] = (),
             alive: Callable[[], bool] = lambda: True, every: float = 0.5) -> None:
    """Poll ``check`` until it is true; a bounded wait that fails with the logs' tails, never hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # not up yet (connection refused, half-written JSON, ...)
            pass
        if not alive():
            raise RuntimeError(f"{what}: the process died\n{tails(logs)}")
        time.sleep(every)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s\n{tails(logs)}")


def tails(logs: Sequence[Path], lines: int = 40) -> str:
    parts = []
    for path in logs:
        try:
            text = Path(path).read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            continue
        parts.append(f"--- {path} (last {lines} lines) ---\n" + "\n".join(text))
    return "\n".join(parts)


def kill_groups(pids: Sequence[int], *, grace: float = 5.0) -> None:
    """SIGTERM the process groups ``pids`` lead, then SIGKILL whatever is left after ``grace`` seconds."""
    def signal_all(signum: int) -> list[int]:
        alive = []
        for pid in pids:
            try:
                os.killpg(pid, signum)
                alive.append(pid)
            except (ProcessLookupError, PermissionError):
                pass
        return alive

    if not signal_all(signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not signal_all(0):
            return
        time.sleep(0.2)
    signal_all(signal.SIGKILL)


@dataclass
class Workspace:
    """A scratch directory that every server and job of one test uses for cwd, logs, local dirs and temp."""

    root: Path

    def __post_init__(self) -> None:
        for name in ("logs", "local", "tmp"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment for every child: loopback only, scratch dirs for Spark and Python temp files."""
        env = {**os.environ,
               "SPARK_HOME": str(SPARK_HOME),
               "SPARK_LOCAL_IP": LOOPBACK,
               "SPARK_LOCAL_DIRS": str(self.root / "local"),
               "SPARK_LOG_DIR": str(self.root / "logs"),
               "SPARK_PID_DIR": str(self.root / "tmp"),
               # Every JVM (daemons, executors, drivers) unpacks native libraries and temp files here.
               # (-XX:-UsePerfData: no /tmp/hsperfdata_<user>, which HotSpot writes whatever java.io.tmpdir says.)
               "JAVA_TOOL_OPTIONS": f"{os.environ.get('JAVA_TOOL_OPTIONS', '')} -XX:-UsePerfData "
                                    f"-Djava.io.tmpdir={self.root / 'tmp'}".strip(),
               "TMPDIR": str(self.root / "tmp"),
               "PYSPARK_PYTHON": sys.executable,
               "PYSPARK_DRIVER_PYTHON": sys.executable,
               "PYTHONUNBUFFERED": "1"}
        for name in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "PYSPARK_SUBMIT_ARGS", "PYSPARK_GATEWAY_PORT",
                     "PYSPARK_GATEWAY_SECRET", "AUTOML_SPARK_MASTER", "SPARK_CONF_DIR", "MLFLOW_TRACKING_URI"):
            env.pop(name, None)
        env.update(extra)
        return env

    def start(self, name: str, command: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
        """Start a long-running server process in its own process group, output to ``logs/<name>.log``."""
        with open(self.log(name), "ab") as handle:
            return subprocess.Popen(list(command), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                    stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


@dataclass
class Result:
    """A finished job: exit code, stdout, and stderr."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def summary(self) -> dict:
        """The JSON object a job prints as its last stdout line."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no stdout; stderr tail:\n{self.stderr[-3000:]}"
        return json.loads(lines[-1])

    def explain(self) -> str:
        """Exit code, the job's own error message, and the end of its log without JVM stack frames."""
        try:
            error = str(self.summary().get("error", ""))[:3000]
        except (AssertionError, ValueError):
            error = self.stdout[-2000:]
        log = "\n".join(line for line in self.stderr.splitlines() if not line.lstrip().startswith("at "))
        return f"exit {self.returncode} after {self.seconds:.0f}s: {error}\nstderr tail:\n{log[-5000:]}"


class Job:
    """A job running in its own process group, output to ``logs/<name>.out|.err``; ``wait`` is bounded."""

    def __init__(self, command: Sequence[str], *, workspace: Workspace, env: dict[str, str], timeout: float,
                 name: str) -> None:
        self.command, self.timeout = list(command), timeout
        self.out, self.err = workspace.root / "logs" / f"{name}.out", workspace.root / "logs" / f"{name}.err"
        self.started = time.monotonic()
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(self.command, cwd=workspace.root, env=env, stdin=subprocess.DEVNULL,
                                            stdout=out, stderr=err, start_new_session=True)
        self._result: Result | None = None

    def wait(self) -> Result:
        """The finished job; on timeout its whole process group is killed and TimeoutError raised."""
        if self._result is not None:
            return self._result
        try:
            self.process.wait(timeout=max(0.0, self.started + self.timeout - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(f"{' '.join(self.command[:4])} ... did not finish in {self.timeout:.0f}s\n"
                               f"{tails([self.err], 80)}") from None
        finally:
            self.stop()  # stray Python workers or JVMs the job left in its group
        self._result = Result(self.process.returncode, self.out.read_text(errors="replace"),
                              self.err.read_text(errors="replace"), time.monotonic() - self.started)
        return self._result

    def stop(self) -> None:
        kill_groups([self.process.pid])
        self.process.wait(timeout=30)


def run(command: Sequence[str], *, workspace: Workspace, env: dict[str, str], timeout: float,
        name: str | None = None) -> Result:
    """Run a job to completion (see :class:`Job`)."""
    name = name or f"job-{next(_job_numbers)}"
    return Job(command, workspace=workspace, env=env, timeout=timeout, name=name).wait()


_job_numbers = itertools.count(1)


@dataclass
class StandaloneCluster:
    """A Spark standalone master and ``n_workers`` workers (each its own JVM), all on 127.0.0.1."""

    workspace: Workspace
    n_workers: int = 2
    cores: int = 1
    memory: str = "2g"
    startup_timeout: float = 120.0
    worker_env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    webui_port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"spark://{LOOPBACK}:{self.port}"

    def work_dir(self, index: int) -> Path:
        return self.workspace.root / f"worker-{index}"

    def state(self) -> dict:
        """The master's JSON status page (workers, applications)."""
        with urllib.request.urlopen(f"http://{LOOPBACK}:{self.webui_port}/json/", timeout=5) as response:
            return json.load(response)

    def alive_workers(self) -> list[dict]:
        return [w for w in self.state().get("workers", []) if w.get("state") == "ALIVE"]

    def start(self) -> StandaloneCluster:
        env = self.workspace.env()
        spark_class = str(SPARK_HOME / "bin" / "spark-class")
        self.processes["master"] = self.workspace.start("master", [
            spark_class, "org.apache.spark.deploy.master.Master", "--host", LOOPBACK, "--port", str(self.port),
            "--webui-port", str(self.webui_port)], env)
        logs = [self.workspace.log("master")]
        wait_for(lambda: "workers" in self.state(), timeout=self.startup_timeout, what="standalone master",
                 logs=logs, alive=lambda: self.processes["master"].poll() is None)
        for index in range(self.n_workers):
            self.work_dir(index).mkdir(exist_ok=True)
            self.processes[f"worker-{index}"] = self.workspace.start(f"worker-{index}", [
                spark_class, "org.apache.spark.deploy.worker.Worker", self.url, "--host", LOOPBACK,
                "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(free_port()),
                "--work-dir", str(self.work_dir(index))], {**env, **self.worker_env})
            logs.append(self.workspace.log(f"worker-{index}"))
        wait_for(lambda: len(self.alive_workers()) >= self.n_workers, timeout=self.startup_timeout,
                 what=f"{self.n_workers} workers registered with {self.url}", logs=logs,
                 alive=lambda: all(p.poll() is None for p in self.processes.values()))
        return self

    def stop(self) -> None:
        # Each worker's process group holds its executors and their Python workers too.
        kill_groups([p.pid for p in self.processes.values()])
        for process in self.processes.values():
            process.wait(timeout=30)
        self.processes.clear()


@dataclass
class ConnectServer:
    """A Spark Connect server started the way users do: ``sbin/start-connect-server.sh`` (daemonized)."""

    workspace: Workspace
    master: str = "local[2]"
    startup_timeout: float = 120.0
    port: int = field(default_factory=free_port)
    conf: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    launcher: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"sc://{LOOPBACK}:{self.port}"

    def pid_file(self) -> Path:
        # spark-daemon.sh names it spark-<ident>-<class>-<instance>.pid, in SPARK_PID_DIR.
        return self.workspace.root / "tmp" / f"spark-{_IDENT}-{_CONNECT_CLASS}-1.pid"

    def server_log(self) -> list[Path]:
        return sorted((self.workspace.root / "logs").glob("spark-*SparkConnectServer*.out"))

    def accepting(self) -> bool:
        with socket.create_connection((LOOPBACK, self.port), timeout=2):
            return True

    def start(self) -> ConnectServer:
        conf = {"spark.connect.grpc.binding.address": LOOPBACK, "spark.connect.grpc.binding.port": str(self.port),
                "spark.ui.enabled": "false", "spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK,
                "spark.sql.warehouse.dir": str(self.workspace.root / "warehouse"),
                "spark.pyspark.python": sys.executable, **self.conf}
        command = [str(SPARK_HOME / "sbin" / "start-connect-server.sh"), "--master", self.master]
        for key, value in conf.items():
            command += ["--conf", f"{key}={value}"]
        env = self.workspace.env(SPARK_IDENT_STRING=_IDENT, **self.env)
        # The script daemonizes the server with nohup inside the launcher's process group, so killing that
        # group in stop() reaches the server even if the pid file is missing.
        self.launcher = self.workspace.start("connect-launcher", command, env)
        self.launcher.wait(timeout=60)
        logs = [self.workspace.log("connect-launcher"), *self.server_log()]
        if self.launcher.returncode != 0:
            raise RuntimeError(f"start-connect-server.sh exited {self.launcher.returncode}\n{tails(logs)}")
        wait_for(self.accepting, timeout=self.startup_timeout, what=f"Spark Connect server on {self.url}",
                 logs=[*logs, *self.server_log()], alive=self._alive)
        return self

    def _alive(self) -> bool:
        try:
            os.kill(int(self.pid_file().read_text().strip()), 0)
            return True
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.launcher is None:
            return
        env = self.workspace.env(SPARK_IDENT_STRING=_IDENT)
        try:
            subprocess.run([str(SPARK_HOME / "sbin" / "stop-connect-server.sh")], cwd=self.workspace.root, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        except subprocess.TimeoutExpired:
            pass
        kill_groups([self.launcher.pid])
        self.launcher = None
