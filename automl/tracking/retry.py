"""Retries for MLflow calls: which failures are transient, how long to back off, and when to stop trying.

A transient failure (no connection, a timeout, HTTP 408/429/5xx, a locked SQLite store) is retried with
exponential backoff; anything else is raised at once. The outage breaker stops a process from spending the
whole backoff on every scenario once the server is known to be down.
"""
from __future__ import annotations

import logging
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import requests
from mlflow.exceptions import InvalidUrlException, MlflowException

from automl.errors import TrackingError

__all__ = ["ATTEMPTS", "Outage", "outage", "reason", "transient", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 5  # per MLflow call: waits of about 0.5 + 1 + 2 + 4 s ride out a server restart or a locked store
_OUTAGE_COOLDOWN = 30.0  # seconds a process stops logging after MLflow failed for good (see Outage)
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_sleep = time.sleep  # the backoff's clock; tests replace it


def with_retries(action: Callable[[], T], *, what: str, attempts: int = ATTEMPTS, base_delay: float = 0.5) -> T:
    """Run ``action``, retrying transient failures (see :func:`transient`) with exponential backoff and jitter.

    Permanent errors (a rejected value, a missing run, a bug) are raised at once.

    Example:
        >>> with_retries(lambda: client.get_run(run_id), what="find run")  # doctest: +SKIP
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not transient(exc):
                raise
            delay = base_delay * 2 ** (attempt - 1) * (0.5 + random.random())
            log.warning("%s failed (%s), retry %d/%d in %.1fs", what, reason(exc), attempt, attempts - 1, delay)
            _sleep(delay)
    raise AssertionError("unreachable")


def transient(exc: BaseException) -> bool:
    """Worth retrying: no connection, a timeout, HTTP 408/429/5xx, a locked SQLite store.

    Permanent: every other 4xx (a rejected value, a missing run or experiment, no permission), an invalid
    URL, and any other exception (a bug, a full disk) - retrying those only delays the error.

    MLflow wraps failures in :class:`MlflowException`: its error code maps to the HTTP status the server
    sent, and a failed connection or an exhausted urllib3 retry (``too many 503 error responses``) surfaces
    as ``INTERNAL_ERROR`` (500). MLflow's SQL store reports a locked database as ``TEMPORARILY_UNAVAILABLE``.
    An error body without an error code (not from MLflow) also reads as ``INTERNAL_ERROR``: retried, since
    we cannot tell.
    """
    for error in _causes(exc):
        if isinstance(error, InvalidUrlException):
            return False
        if isinstance(error, MlflowException):
            # A response that was not MLflow JSON (a proxy's error page) keeps its real status only in the text.
            sent = re.search(r"failed with error code (\d{3}) != \d{3}", str(error))
            return (int(sent.group(1)) if sent else error.get_http_status_code()) in _TRANSIENT_STATUS
        if isinstance(error, requests.HTTPError) and error.response is not None:
            return error.response.status_code in _TRANSIENT_STATUS
        if isinstance(error, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
            return True
        if isinstance(error, sqlite3.OperationalError) or type(error).__name__ == "OperationalError":
            return "locked" in str(error).lower() or "busy" in str(error).lower()
    return False


def reason(exc: BaseException) -> str:
    """A failure in a few words: what a user needs to tell a dead server from a rejected request."""
    text = " ".join(str(e) for e in _causes(exc)).lower()
    for needle, said in (("connection refused", "connection refused"),
                         ("name or service not known", "unknown host"),
                         ("nodename nor servname", "unknown host"),
                         ("failed to resolve", "unknown host"),
                         ("timed out", "no answer: timed out"),
                         ("timeout exception", "no answer: timed out"),
                         ("remotedisconnected", "the server closed the connection"),
                         ("connection reset", "the server closed the connection"),
                         ("connection aborted", "the server closed the connection"),
                         ("too many 5", "the server keeps failing (HTTP 5xx)"),
                         ("too many 429", "the server keeps refusing requests (HTTP 429)")):
        if needle in text:
            return said
    text_lines = str(exc).strip().splitlines()
    return (text_lines[0] if text_lines else type(exc).__name__)[:300]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


class Outage:
    """Per process and tracking URI: stop knocking on a tracking server that is down.

    Once a scenario's logging failed on a transient error after every retry, the scenarios that follow in
    this process do not contact MLflow for ``cooldown`` seconds (each would otherwise spend the whole backoff
    on a dead server); then one scenario tries once, without retries, and success ends the outage. Skipped
    scenarios keep their models and a ``logging_error``; ``--resume`` uploads them.
    """

    def __init__(self, cooldown: float) -> None:
        self.cooldown = cooldown
        self.retry_at: dict[str, float] = {}

    def attempts(self, uri: str) -> int:
        """Attempts per call for the next scenario; raises :class:`TrackingError` while the server rests."""
        retry_at = self.retry_at.get(uri)
        if retry_at is None:
            return ATTEMPTS
        if time.monotonic() < retry_at:
            raise TrackingError(f"not sent: MLflow at {uri} failed for an earlier scenario of this process; "
                                f"trying again after {self.cooldown:.0f}s")
        return 1

    def failed(self, uri: str, exc: Exception) -> None:
        if not transient(exc):
            return
        if uri not in self.retry_at:
            log.warning("MLflow at %s is not answering (%s): this process logs no scenario for %.0fs; their models "
                        "are saved and --resume uploads them", uri, reason(exc), self.cooldown)
        self.retry_at[uri] = time.monotonic() + self.cooldown

    def recovered(self, uri: str) -> None:
        self.retry_at.pop(uri, None)


# The process's breaker; publishers look it up through this module so tests can swap it.
outage = Outage(_OUTAGE_COOLDOWN)
