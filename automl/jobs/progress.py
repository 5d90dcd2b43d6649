"""Live progress while the engine works: scenarios finished, by status, rate and ETA.

Executors write one checkpoint per scenario as it finishes; a driver thread reads only the files it has not
seen, so following 10,000 scenarios costs one small read each. On a terminal it draws a tqdm bar; in logs
(no TTY) it writes a line every ``every`` seconds.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

__all__ = ["Progress", "TaskProgress"]

log = logging.getLogger(__name__)


class Progress:
    """A context manager following the checkpoint directory of a run while scenarios train.

    Args:
        checkpoints: the run's checkpoint directory.
        total: scenarios in the run's input.
        todo: scenarios this attempt trains (the rest were done before it started).
        bar: draw a bar (default: when stderr is a terminal).
        every: seconds between log lines (no bar) or refreshes (bar).
    """

    def __init__(self, checkpoints: str, *, total: int, todo: int, bar: bool | None = None,
                 every: float | None = None) -> None:
        self.checkpoints, self.total, self.todo = checkpoints, total, todo
        self.bar = sys.stderr.isatty() if bar is None else bar
        self.every = every if every is not None else (1.0 if self.bar else 15.0)
        self.statuses: Counter[str] = Counter()
        self._seen: set[str] = set(_names(checkpoints))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Progress:
        if self.todo:
            self.started = time.monotonic()
            self._thread = threading.Thread(target=self._follow, daemon=True, name="automl-progress")
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def poll(self) -> int:
        """Read checkpoints written since the last poll; returns how many scenarios finished in this attempt."""
        for name in _names(self.checkpoints) - self._seen:
            self._seen.add(name)
            self.statuses[_status(os.path.join(self.checkpoints, name))] += 1
        return sum(self.statuses.values())

    def line(self, done: int) -> str:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = f", about {(self.todo - done) / rate:.0f}s left" if rate > 0 and done < self.todo else ""
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return f"{done}/{self.todo} scenarios trained ({by_status or 'none yet'}), {rate * 60:.1f}/min{eta}"

    def _follow(self) -> None:
        bar = self._make_bar() if self.bar else None
        try:
            while not self._stop.wait(self.every):
                done = self.poll()
                if bar is not None:
                    bar.n = done
                    bar.set_postfix(dict(sorted(self.statuses.items())), refresh=False)
                    bar.refresh()
                else:
                    log.info("progress: %s", self.line(done))
            if bar is not None:
                bar.n = self.poll()
                bar.refresh()
        finally:
            if bar is not None:
                bar.close()

    def _make_bar(self) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=self.todo, desc="scenarios", unit="scn", file=sys.stderr, dynamic_ncols=True)


def _names(directory: str) -> set[str]:
    try:
        return {n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith(".")}
    except FileNotFoundError:
        return set()


def _status(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            row: dict[str, Any] = json.load(handle)
        return str(row.get("status") or "unknown")
    except (OSError, ValueError):
        return "unknown"


class TaskProgress:
    """Progress the engine reports as ``(done, total)`` units (Spark tasks while predictions are scored):
    a bar on a terminal, a log line every ``every`` seconds otherwise."""

    def __init__(self, what: str, *, bar: bool | None = None, every: float = 15.0) -> None:
        self.what, self.every = what, every
        self.bar = sys.stderr.isatty() if bar is None else bar
        self._drawn: Any = None
        self._logged = 0.0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if self.bar:
            if self._drawn is None:
                from tqdm.auto import tqdm

                self._drawn = tqdm(total=total, desc=self.what, unit="task", file=sys.stderr, dynamic_ncols=True)
            self._drawn.total, self._drawn.n = total, done
            self._drawn.refresh()
        elif time.monotonic() - self._logged >= self.every:
            self._logged = time.monotonic()
            log.info("progress: %s %d/%d tasks done after %.0fs", self.what, done, total,
                     time.monotonic() - self.started)

    def close(self) -> None:
        if self._drawn is not None:
            self._drawn.close()
