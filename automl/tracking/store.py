"""The tracking store: its URI, a fail-fast reachability check, SQLite tuning, and one client per process.

Importing this module sets MLflow's HTTP defaults (only where the user has not set them): our own retries
(:mod:`automl.tracking.retry`) replace MLflow's long ones, so a dead server is reported in seconds.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import sqlite3
from collections.abc import Iterator

from mlflow.tracking import MlflowClient

from automl.config import Config
from automl.errors import TrackingError
from automl.tracking.retry import reason, with_retries

__all__ = ["LOCAL_FILESYSTEMS", "check_tracking", "client", "filesystem_type", "tracking_uri", "write_ahead_log"]

log = logging.getLogger(__name__)

os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# set_terminated() would otherwise GET the run back, only to print a "View run" link to stdout: one more
# request per scenario, thousands of lines in executor logs, and noise above the CLI's final JSON line.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

_CHECK_TIMEOUT = 10  # seconds per request of check_tracking: a firewalled host is reported in ~30 s, not minutes
LOCAL_FILESYSTEMS = frozenset({"ext2", "ext3", "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "f2fs"})


def tracking_uri(config: Config) -> str:
    """The configured URI, else a local SQLite store beside the outputs (the file store is deprecated)."""
    if config.mlflow.tracking_uri:
        return config.mlflow.tracking_uri
    return "sqlite:///" + os.path.abspath(os.path.join(config.output_path, "mlflow.db"))


def check_tracking(uri: str) -> None:
    """Fail fast, before any training, when the tracking store cannot be reached.

    Three attempts with a short request timeout: a refused connection is reported in about two seconds,
    an unanswered one (a firewall dropping packets) in about half a minute.
    """
    try:
        with _http_limits(uri, timeout=_CHECK_TIMEOUT, retries=0):
            with_retries(lambda: client(uri).search_experiments(max_results=1), what="MLflow check", attempts=3)
    except Exception as exc:
        raise TrackingError(f"MLflow tracking store {uri!r} is not reachable ({reason(exc)}). Start the "
                            f"server, fix mlflow.tracking_uri, or leave it empty for a local store under "
                            f"output.path.") from None


@functools.lru_cache(maxsize=4)
def client(uri: str) -> MlflowClient:
    """One client per tracking URI and process: executors reuse it for every scenario they run."""
    return MlflowClient(tracking_uri=uri)


def write_ahead_log(uri: str) -> None:
    """Switch a local SQLite store to write-ahead logging (a setting kept in the database file).

    Each scenario commits 8 times; on this VM's disk that took 301 ms per scenario in SQLite's default
    journal mode and 127 ms with WAL, and readers no longer block other workers' writes. WAL needs shared
    memory between the processes, so it is left off on network filesystems.
    """
    if not uri.startswith("sqlite:///"):
        return
    path = uri[len("sqlite:///"):]
    if not os.path.isfile(path) or filesystem_type(path) not in LOCAL_FILESYSTEMS:
        return
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as database:
            database.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a slower store, nothing worse
        log.info("MLflow store %s stays in its journal mode: %s", path, exc)


def filesystem_type(path: str) -> str:
    """The type of the filesystem holding ``path`` (Linux ``/proc/mounts``; "" where unknown)."""
    real = os.path.realpath(path)
    best, kind = "", ""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                fields = line.split()
                if len(fields) < 3:
                    continue
                mount = fields[1].replace("\\040", " ")
                inside = real == mount or real.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, kind = mount, fields[2]
    except OSError:
        return ""
    return kind


@contextlib.contextmanager
def _http_limits(uri: str, *, timeout: float, retries: int) -> Iterator[None]:
    """Tighter MLflow HTTP settings for a moment (MLflow reads them from the environment on every request).

    Only for the driver's start-up check: the environment is process-wide.
    """
    if not uri.startswith(("http://", "https://")):
        yield
        return
    names = {"MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout), "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries)}
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
