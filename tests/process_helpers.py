"""Helpers every suite that starts processes shares: a free port, and the ``automl`` command of this checkout."""
from __future__ import annotations

import socket
import sys

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it; a tiny race with other processes remains)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def automl_command(*args: str) -> list[str]:
    """``automl ...`` as ``python -m automl.cli``: runs whatever code PYTHONPATH (or the install) points at."""
    return [sys.executable, "-m", "automl.cli", *args]
