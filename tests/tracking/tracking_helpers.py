"""Helpers for tracking tests: a real MLflow server, a many-scenario dataset, the CLI as a subprocess.

The server runs with one worker and without MLflow's job runner (it would start seven more processes):
the machine is shared, and one uvicorn worker is what a small team server looks like anyway.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from process_helpers import automl_command, free_port

_ACCESS = re.compile(r'(?P<client>\d+\.\d+\.\d+\.\d+:\d+) - "(?P<method>[A-Z]+) (?P<path>[^ ?"]+)')
STARTUP_TIMEOUT = 180.0  # a cold start creates the SQLite schema: ~40 s on two busy cores


class MlflowServer:
    """``mlflow server`` on loopback with a SQLite backend and proxied artifacts under ``root``.

    ``stop()`` and ``start()`` again keep the port and the stores: the same server, restarted.
    """

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.artifacts = root / "artifacts"
        self.log_path = root / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> MlflowServer:
        self.root.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--workers", "1", "--backend-store-uri", f"sqlite:///{self.root / 'mlflow.db'}",
                   "--artifacts-destination", str(self.artifacts)]
        env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        with open(self.log_path, "ab") as log:
            # Its own process group: stop() must take down uvicorn, which `mlflow server` starts as a child.
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True, cwd=self.root)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"mlflow server not healthy after {STARTUP_TIMEOUT:.0f}s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(timeout=10)
        try:  # workers that outlived their parent
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process = None

    def requests(self) -> list[tuple[str, str]]:
        """``(client address, "METHOD /path")`` of every request the server logged so far (uvicorn's access log).

        The client address tells connections apart: one per keep-alive connection a client reuses.
        """
        found = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = _ACCESS.search(line)
            if match:
                found.append((match["client"], f"{match['method']} {match['path']}"))
        return found

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def write_scenarios(path: Path, n_scenarios: int, *, rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """``n_scenarios`` linear regressions keyed by (region, sku): ``y = a*x1 + b*x2 + noise``, own a, b each."""
    rng = np.random.default_rng(seed)
    parts = []
    for sku in range(n_scenarios):
        x1, x2 = rng.normal(size=rows), rng.normal(size=rows)
        a, b = rng.uniform(1, 5, 2)
        parts.append(pd.DataFrame({"region": ["north", "south"][sku % 2], "sku": sku, "row": np.arange(rows),
                                   "x1": x1, "x2": x2, "y": a * x1 + b * x2 + rng.normal(0, 0.1, rows)}))
    frame = pd.concat(parts, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return frame


def write_config(path: Path, *, data: Path, output: Path, tracking_uri: str, experiment: str = "many") -> Path:
    """The leanest training config: no feature engineering, linear models, two tuning trials."""
    config = {
        "name": "many", "task": "regression", "scenario_keys": ["region", "sku"], "target": "y",
        "sample_id": ["row"],
        "data": {"streams": [{"name": "sales", "path": str(data)}]},
        "split": {"test_size": 8, "validation_size": 8, "min_train_rows": 10},
        "features": {"enabled": False},
        "selection": {"method": "none"},
        "models": {"families": ["linear"]},
        "tuning": {"max_evals": 2, "timeout_seconds": 30},
        "mlflow": {"tracking_uri": tracking_uri, "experiment": experiment},
        "output": {"path": str(output)},
        "spark": {"master": "local[2]",
                  "conf": {"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"}},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


REPO = Path(__file__).resolve().parents[2]


def cli_env() -> dict[str, str]:
    """The test's interpreter and this checkout's package (whatever ``pip install -e`` last pointed at)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable}


def run_cli(*args: str, cwd: Path, timeout: float = 600) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``automl <args>``; returns the finished process and its last stdout line as JSON."""
    done = subprocess.run(automl_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True,
                          timeout=timeout)
    return done, last_json(done.stdout)


def last_json(stdout: str) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {}
