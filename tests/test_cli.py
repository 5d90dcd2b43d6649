"""The ``automl`` command as users run it: subprocesses, exit codes, messages and the final JSON line."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.demo_data import write_all

REPO = Path(__file__).resolve().parents[1]
DEMAND = str(REPO / "configs" / "demand.yaml")


def _run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl.cli", *args], capture_output=True, text=True,
                          input=stdin, timeout=timeout, env={**os.environ, **(env or {})}, cwd=REPO)


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    write_all(root / "data", small=True)
    return {"AUTOML_DATA_DIR": str(root / "data"), "AUTOML_OUTPUT_DIR": str(root / "out")}


def test_validate_accepts_the_example_configs():
    for name in ("demand", "churn"):
        done = _run("validate", "--config", str(REPO / "configs" / f"{name}.yaml"))
        assert done.returncode == 0, done.stderr
        assert "valid" in done.stdout


def test_validate_rejects_a_broken_config_with_a_located_message(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(Path(DEMAND).read_text().replace("max_evals: 12", "max_evals: many")
                      .replace("test_size: 8", "test_sise: 8"))
    done = _run("validate", "--config", str(broken))
    assert done.returncode == 2
    assert str(broken) in done.stderr
    assert "tuning.max_evals" in done.stderr and "'many'" in done.stderr
    assert "split.test_sise" in done.stderr
    assert "Traceback" not in done.stderr


def test_validate_reports_yaml_syntax_errors_with_their_line(tmp_path):
    broken = tmp_path / "syntax.yaml"
    broken.write_text("name: x\ntask: [regression\n")
    done = _run("validate", "--config", str(broken))
    assert done.returncode == 2 and "line" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.spark
def test_debug_one_scenario_prints_timings_features_model_and_metrics(demo_env):
    done = _run("debug", "--config", DEMAND, "--scenario", "store_id=1,item_id=2", "--set", "tuning.max_evals=3",
                env=demo_env)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "scenario store_id=1, item_id=2" in out
    assert "step timings (s): split" in out and "tune" in out
    assert "selected features" in out and "best model:" in out
    assert "holdout metrics: rmse" in out and "baseline" in out


@pytest.mark.spark
def test_debug_says_when_the_model_lost_to_the_default_forecast_on_the_holdout(tmp_path):
    # Promotions lift units by 20 until the six holdout weeks, which are all promotions and lift nothing: the
    # linear model validates far better than the default forecast, then loses to it on the holdout.
    promo = (np.random.default_rng(3).random(60) < 0.5).astype(float)
    promo[-6:] = 1.0
    units = np.where(np.arange(60) < 54, 100.0 + 20.0 * promo, 100.0)
    pd.DataFrame({"store": 1, "week": pd.date_range("2020-01-06", periods=60, freq="W-MON"), "promo": promo,
                  "units": units}).to_parquet(tmp_path / "sales.parquet")
    config = tmp_path / "promo.yaml"
    config.write_text(textwrap.dedent(f"""\
        name: promo
        task: regression
        scenario_keys: [store]
        target: units
        time_column: week
        data:
          streams: [{{name: sales, path: "{tmp_path / 'sales.parquet'}"}}]
        split: {{test_size: 6, validation_size: 6, min_train_rows: 10}}
        models: {{families: [linear]}}
        tuning: {{max_evals: 5}}
        output: {{path: "{tmp_path / 'out'}"}}
        """))
    done = _run("debug", "--config", str(config), "--scenario", "store=1")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "best model: damped_trend" in done.stdout
    assert re.search(r"rejected on the holdout: linear \(rmse 19\.9\d* on the holdout, damped_trend 1\d\.\d+\); "
                     r"the default forecast shipped", done.stdout), done.stdout


@pytest.mark.spark
def test_debug_unknown_scenario_says_how_to_find_valid_keys(demo_env):
    done = _run("debug", "--config", DEMAND, "--scenario", "store_id=99,item_id=1", env=demo_env)
    assert done.returncode == 2
    assert "no rows for scenario store_id=99,item_id=1" in done.stderr
    assert "automl scenarios --config" in done.stderr


@pytest.mark.spark
def test_breakpoint_in_a_pipeline_step_stops_in_the_debug_process(demo_env, tmp_path):
    """``automl debug`` runs the pipeline in-process: a breakpoint() in a step opens pdb right there."""
    script = tmp_path / "with_breakpoint.py"
    script.write_text(textwrap.dedent("""
        import automl.scenario.pipeline as pipeline
        from automl.cli import main

        original = pipeline.select_features

        def select_features(features, *args, **kwargs):
            breakpoint()
            return original(features, *args, **kwargs)

        pipeline.select_features = select_features
        raise SystemExit(main(["debug", "--config", %r, "--scenario", "store_id=2,item_id=1",
                               "--set", "tuning.max_evals=2"]))
    """ % DEMAND))
    done = subprocess.run([sys.executable, str(script)], input="p ('columns', features.shape[1])\nc\n",
                          capture_output=True, text=True, timeout=300, env={**os.environ, **demo_env},
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(Pdb)" in done.stdout and "('columns'," in done.stdout
    assert "holdout metrics" in done.stdout


@pytest.mark.spark
def test_missing_target_column_is_one_paragraph_and_a_json_line(demo_env):
    done = _run("train", "--config", DEMAND, "--set", "target=revenue", env=demo_env)
    assert done.returncode == 2
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "target column 'revenue' is missing" in error[0]
    assert "Columns available" in error[0] and "Traceback" not in done.stderr
    final = json.loads(done.stdout.strip().splitlines()[-1])
    assert final["status"] == "error" and "revenue" in final["error"]


def test_version_and_verbose_after_the_subcommand():
    version = _run("--version")
    assert version.returncode == 0 and version.stdout.strip().startswith("automl 0.")
    after = _run("validate", "--config", DEMAND, "-v")
    assert after.returncode == 0, after.stderr
    before = _run("-v", "validate", "--config", DEMAND)
    assert before.returncode == 0, before.stderr


@pytest.mark.spark
def test_validate_data_reports_a_missing_path_a_misspelt_target_and_a_broken_derive_at_once(demo_env, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(Path(DEMAND).read_text().replace("target: units", "target: unitz")
                      .replace("stores.parquet", "no_such_file.parquet")
                      .replace('log_price: "ln(price)"', 'log_price: "ln(price +* 2)"'))
    done = _run("validate", "--config", str(broken), "--data", env=demo_env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no_such_file.parquet" in done.stderr and "unitz" in done.stderr and "data.derive.log_price" in done.stderr
    assert "Traceback" not in done.stderr and "at org.apache" not in done.stderr


@pytest.mark.spark
def test_train_run_listing_summary_and_an_all_skipped_run(demo_env, tmp_path):
    """One small real run through the CLI: the human summary, no JVM noise, ``automl runs``; then a run whose
    every scenario is skipped exits 1 naming the reason."""
    fast = ["--set", "tuning.max_evals=2", "--set", "models.families=[linear]", "--where", "store_id = 1"]
    done = _run("train", "--config", DEMAND, *fast, env=demo_env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "worst against the baseline" in done.stderr and "slowest:" in done.stderr
    assert not [line for line in done.stderr.splitlines() if " WARN " in line or "NativeCodeLoader" in line]
    final = json.loads(done.stdout.strip().splitlines()[-1])
    assert final["status"] == "succeeded" and final["outputs"]["report"].endswith("report.html")
    runs = _run("runs", "--config", DEMAND, env=demo_env)
    assert runs.returncode == 0 and runs.stdout.startswith(final["run_id"])

    # Every scenario skipped: store 1's keep their champions, the other stores have none and say why.
    skipped = _run("train", "--config", DEMAND, *fast[:4], "--set", "split.min_train_rows=10000", env=demo_env)
    assert skipped.returncode == 1, skipped.stderr[-3000:]
    final = json.loads(skipped.stdout.strip().splitlines()[-1])
    assert final["status"] == "failed" and final["message"].startswith("no scenario trained:")
    assert "too few rows" in final["message"]
    models = _run("models", "--config", DEMAND, "--limit", "100", env=demo_env)
    assert models.returncode == 0, models.stderr[-3000:]
    table, _, untrained = models.stdout.partition(" scenarios without a champion (their latest training):\n")
    *champions, count = [line for line in table.splitlines()[1:] if line.strip()]  # rows, then the count
    rows = untrained.splitlines()[1:]
    assert int(count) == len(rows) > 0 and len(champions) + len(rows) == final["counts"]["skipped"]
    assert all(f"{final['run_id']} skipped too few rows: " in row for row in rows)
    assert [row.split()[:2] for row in rows] == sorted(row.split()[:2] for row in rows)  # by scenario keys


@pytest.mark.spark
def test_a_bad_value_in_a_derive_is_a_located_error_without_java_noise(demo_env, tmp_path):
    broken = tmp_path / "ansi.yaml"
    broken.write_text(Path(DEMAND).read_text().replace('log_price: "ln(price)"',
                                                       'log_price: "CAST(store_type AS INT)"'))
    done = _run("train", "--config", str(broken), "--set", "tuning.max_evals=2", env=demo_env)
    assert done.returncode == 2, done.stderr[-3000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "data.derive.log_price" in error[0], done.stderr[-3000:]
    assert sum("at org.apache" in line or "at java." in line for line in done.stderr.splitlines()) <= 3
    assert json.loads(done.stdout.strip().splitlines()[-1])["status"] == "error"
