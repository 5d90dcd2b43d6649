"""The log configuration for a driver JVM the framework starts (its real JVM runs in test_session.py)."""
from __future__ import annotations

import os
from pathlib import Path

from automl.spark import logs


def _properties(config: Path) -> dict[str, str]:
    pairs = (line.split(" = ", 1) for line in config.read_text().splitlines() if " = " in line)
    return dict(pairs)


def test_start_log_makes_a_timestamped_file_and_a_configuration_that_writes_to_it(tmp_path):
    spark_log = logs.start_log(tmp_path / "out" / "logs")
    assert spark_log.file.exists() and spark_log.file.parent == (tmp_path / "out" / "logs").resolve()
    assert logs.current_log_file() == spark_log.file
    props = _properties(spark_log.config)
    assert props["appender.file.fileName"] == str(spark_log.file)
    assert props["rootLogger.level"] == "warn"
    assert "rootLogger.appenderRef.console.ref" not in props
    assert spark_log.java_option == f"-Dlog4j2.configurationFile={spark_log.config.as_uri()}"


def test_verbose_adds_stderr_and_leaves_the_jvms_stderr_on_the_terminal(tmp_path):
    spark_log = logs.start_log(tmp_path, verbose=True)
    props = _properties(spark_log.config)
    assert props["rootLogger.appenderRef.console.ref"] == "console"
    assert props["appender.console.target"] == "SYSTEM_ERR"
    assert spark_log.gateway_stderr() is None


def test_quiet_mode_sends_the_jvms_stderr_to_the_end_of_the_log_file(tmp_path):
    spark_log = logs.start_log(tmp_path)
    spark_log.file.write_text("first\n")
    fd = spark_log.gateway_stderr()
    try:
        os.write(fd, b"second\n")
    finally:
        os.close(fd)
    assert spark_log.file.read_text() == "first\nsecond\n"


def test_a_path_with_lookups_spaces_and_accents_is_written_literally(tmp_path):
    spark_log = logs.start_log(tmp_path / "a ${env:HOME} $b \u00e9 \\c")
    value = _properties(spark_log.config)["appender.file.fileName"]
    assert "$${env:HOME} $b \\u00e9 \\\\c" in value
    assert " " not in spark_log.java_option


def test_java_options_merge_the_log_configuration_with_the_users_options(tmp_path):
    spark_log = logs.start_log(tmp_path)
    ours = spark_log.java_option
    assert logs.java_options(spark_log, None, "-XX:TieredStopAtLevel=1") == f"{ours} -XX:TieredStopAtLevel=1"
    assert logs.java_options(spark_log, "-Xss4m", "-XX:TieredStopAtLevel=1") == f"{ours} -Xss4m"
    assert logs.java_options(None, None, "-XX:TieredStopAtLevel=1") == "-XX:TieredStopAtLevel=1"
    assert logs.java_options(None, None, None) is None
    users = "-Dlog4j.configurationFile=/etc/mine.xml -Xss4m"
    assert logs.java_options(spark_log, users, "-XX:TieredStopAtLevel=1") == users  # the user's own wins
