"""Live progress of a Spark job (prediction): finished / total tasks from the status tracker."""
from __future__ import annotations

import time

import pytest

from automl.jobs.progress import TaskProgress
from automl.spark.engine import _TaskWatch

pytestmark = pytest.mark.spark


def test_the_watch_reports_tasks_as_they_finish_and_all_of_them_at_the_end(spark):
    def slow(frames):  # nested: shipped to the workers by value
        for frame in frames:
            time.sleep(0.4)
            yield frame

    seen: list[tuple[int, int]] = []
    frame = spark.range(0, 8, 1, 8).mapInPandas(slow, "id long")
    with _TaskWatch(spark, lambda done, total: seen.append((done, total)), every=0.05):
        assert frame.count() == 8
    assert seen, "no progress was reported"
    assert seen[-1][0] == seen[-1][1] >= 8
    assert any(done < total for done, total in seen)  # seen while it ran, not only at the end
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_task_progress_logs_without_a_terminal(caplog):
    display = TaskProgress("scoring", bar=False, every=0.0)
    with caplog.at_level("INFO", logger="automl.jobs.progress"):
        display(3, 8)
    display.close()
    assert "scoring 3/8 tasks done" in caplog.text
