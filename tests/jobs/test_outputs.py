"""Rebuilding a run's report: an unknown run id or an output path without runs is a clear error."""
from __future__ import annotations

import pytest

from automl.config import parse_config
from automl.errors import AutoMLError
from automl.jobs.outputs import rebuild_report
from automl.rundir import RunDirectory


def _config(tmp_path) -> object:
    return parse_config({"name": "u", "task": "regression", "scenario_keys": ["s"], "target": "y",
                         "data": {"streams": [{"name": "rows", "path": "rows.parquet"}]},
                         "output": {"path": str(tmp_path)}})


def test_unknown_run_and_no_runs_say_how_to_find_one(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(AutoMLError, match="no run under .*: run 'automl train' first"):
        rebuild_report(config)
    with pytest.raises(AutoMLError, match=r"no run 'nope' under .*automl runs --config"):
        rebuild_report(config, "nope")


def test_a_crashed_run_with_no_results_still_gets_a_report(tmp_path):
    config = _config(tmp_path)
    run = RunDirectory(config.output_path, "r1")
    run.prepare()
    run.write_manifest(kind="train", status="failed", use_case="u", started_at=1.0, error="KeyboardInterrupt")
    path = rebuild_report(config, "r1")
    assert path.endswith("report.html") and "r1" in open(path, encoding="utf-8").read()
