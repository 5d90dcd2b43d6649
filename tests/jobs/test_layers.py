"""The layers stay apart: the scenario core and the job layer never import pyspark."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

AUTOML = Path(__file__).resolve().parents[2] / "automl"


def test_core_and_job_layer_import_no_pyspark():
    code = ("import sys, automl.scenario.pipeline, automl.jobs, automl.jobs.train, automl.jobs.predict, "
            "automl.results, automl.modelset, automl.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyspark'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_no_module_is_over_four_hundred_lines():
    long = {str(p.relative_to(AUTOML)): n for p in AUTOML.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def test_the_results_columns_are_listed_in_one_module():
    owners = [p.name for p in AUTOML.rglob("*.py") if '("baseline_score", "double")' in p.read_text(encoding="utf-8")]
    assert owners == ["results.py"]
