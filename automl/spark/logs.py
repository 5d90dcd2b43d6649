"""Spark's own output goes to a log file in the run directory, not the user's terminal.

A driver JVM the framework starts prints start-up warnings (a loopback hostname, no native-hadoop library,
incubator modules), WARN/ERROR lines and Java stack traces, mixed with the framework's progress on stderr.
Here its log4j2 lines go to ``<log_dir>/spark-<UTC time>.log`` (and to stderr too in verbose mode), and the
JVM launcher's own stderr, written before log4j starts and by the Python workers it forwards, goes to the
same file unless verbose. The job layer names :func:`current_log_file` in its error messages.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SparkLog", "current_log_file", "java_options", "reconfigure", "start_log"]

log = logging.getLogger(__name__)

# log4j2 reads either name; a user's own setting of either one means the user chose the configuration.
_CONFIG_PROPERTIES = ("log4j2.configurationFile", "log4j.configurationFile")
# The layout of Spark's own default profile, so the file reads like the lines users know from the terminal.
_PATTERN = "%d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n%ex"
_current: Path | None = None


@dataclass(frozen=True)
class SparkLog:
    """Where one driver JVM's log lines go: ``file`` always, stderr too when ``verbose``."""

    file: Path
    config: Path
    verbose: bool

    @property
    def java_option(self) -> str:
        """The JVM option that makes log4j2 read :attr:`config` (a URI: no spaces to quote)."""
        return f"-D{_CONFIG_PROPERTIES[0]}={self.config.resolve().as_uri()}"

    def gateway_stderr(self) -> int | None:
        """A file descriptor for the JVM process's stderr (appending to :attr:`file`), or None to inherit
        the terminal in verbose mode. The caller closes it once the JVM has started."""
        if self.verbose:
            return None
        return os.open(self.file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def start_log(log_dir: str | os.PathLike[str], verbose: bool = False) -> SparkLog:
    """Create ``<log_dir>/spark-<UTC time>.log`` and the log4j2 configuration that writes to it.

    Example: ``start_log("out/demand/logs").java_option`` is the ``-D`` option for
    ``spark.driver.extraJavaOptions``.
    """
    global _current
    folder = Path(log_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    file = folder / f"spark-{stamp}.log"
    file.touch()
    config = folder / f"spark-{stamp}.log4j2.properties"
    config.write_text(_log4j2_properties(file, verbose), encoding="utf-8")
    _current = file.resolve()
    log.info("Spark's own log: %s", _current)
    return SparkLog(file=_current, config=config.resolve(), verbose=verbose)


def current_log_file() -> Path | None:
    """The file the driver JVM's log lines go to, or None when the framework did not start its JVM."""
    return _current


def java_options(spark_log: SparkLog | None, user: str | None, default: str | None = None) -> str | None:
    """``spark.driver.extraJavaOptions``: the log configuration, then the user's options (which replace
    ``default``); a user's own log4j configuration file replaces ours.

    Example: ``java_options(spark_log, None, "-XX:TieredStopAtLevel=1")``.
    """
    ours = spark_log.java_option if spark_log is not None else None
    if user and any(f"-D{name}=" in user for name in _CONFIG_PROPERTIES):
        ours = None
    parts = [part for part in (ours, user or default) if part]
    return " ".join(parts) or None


def reconfigure(jvm, spark_log: SparkLog) -> None:
    """Point an already running JVM's log4j2 at ``spark_log`` (a second session in one process). Its
    launcher's stderr was fixed when it started and stays where it was."""
    uri = jvm.java.net.URI.create(spark_log.config.as_uri())
    jvm.org.apache.logging.log4j.core.config.Configurator.reconfigure(uri)


def _log4j2_properties(file: Path, verbose: bool) -> str:
    target = _properties_value(str(file.resolve()))
    appenders = ["file", "console"] if verbose else ["file"]
    lines = [
        "# Written by automl: Spark's log lines go to the run's log file (and to stderr in verbose mode).",
        "status = error",
        "rootLogger.level = warn",
        *(f"rootLogger.appenderRef.{name}.ref = {name}" for name in appenders),
        "appender.file.type = File",
        "appender.file.name = file",
        f"appender.file.fileName = {target}",
        "appender.file.append = true",
        "appender.file.layout.type = PatternLayout",
        f"appender.file.layout.pattern = {_PATTERN}",
    ]
    if verbose:
        lines += ["appender.console.type = Console",
                  "appender.console.name = console",
                  "appender.console.target = SYSTEM_ERR",
                  "appender.console.layout.type = PatternLayout",
                  f"appender.console.layout.pattern = {_PATTERN}"]
    return "\n".join(lines) + "\n"


def _properties_value(text: str) -> str:
    """``text`` as a log4j2 properties value: Java reads the file as ISO-8859-1 with "\\" escapes, and
    log4j2 expands "${...}" lookups (a literal one is written "$${")."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif ord(char) > 126:
            data = char.encode("utf-16-be")  # two UTF-16 units for a character beyond the BMP
            out.extend(f"\\u{data[i]:02x}{data[i + 1]:02x}" for i in range(0, len(data), 2))
        else:
            out.append(char)
    return "".join(out).replace("${", "$${")
