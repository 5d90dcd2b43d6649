"""The report builder without a browser: content, escaping, bad input, size at 10,000 scenarios."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_synthetic import predict_inputs, train_inputs

from automl.errors import DataError
from automl.report import build_predict_report, build_train_report, write_report
from automl.report.encode import embed_json
from automl.report.predict import predict_payload
from automl.report.train import train_payload

KEYS = ["store_id", "item_id"]
HOSTILE = "<script>alert(1)</script>"


def embedded(html: str) -> dict:
    """The JSON the page carries, parsed as the browser will."""
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert match, "no embedded data element"
    return json.loads(match.group(1))


def build(results, holdout, manifest, **kwargs):
    options = {"scenario_keys": KEYS, "task": "regression", "time_column": "week", **kwargs}
    return build_train_report(results, holdout, manifest, **options)


def test_train_report_carries_the_run_and_every_scenario():
    results, holdout, manifest = train_inputs(20)
    data = embedded(build(results, holdout, manifest))

    assert data["meta"]["use_case"] == "demand" and data["meta"]["run_id"] == "run-synthetic"
    assert data["meta"]["data_fingerprint"] == "9f2c4e1b7a3d5f60"
    assert data["meta"]["counts"] == "ok 18, failed 1, skipped 1"
    cards = dict(map(tuple, data["cards"]))
    assert (cards["scenarios"], cards["ok"], cards["failed"], cards["skipped"]) == (20, 18, 1, 1)
    beats = results.loc[results.status == "ok", "beats_baseline"].astype(bool)
    assert cards["beat the baseline"] == f"{beats.mean():.0%} of 18"
    assert all(data["figures"][name] for name in ("relative", "families", "steps", "memory"))
    assert sum(data["figures"]["families"]["data"][0]["y"]) == 18
    steps = data["figures"]["steps"]["data"][0]
    assert steps["x"] == ["split", "features", "select", "tune", "refit", "evaluate", "publish"]
    assert steps["y"][3] == pytest.approx(results.loc[results.status == "ok", "seconds_tune"].sum(), rel=1e-3)

    scenarios = data["scenarios"]
    i = scenarios["id"].index("s000004")
    assert [scenarios["keys"][0][i], scenarios["keys"][1][i]] == ["1", "5"]
    start, length = scenarios["holdout_start"][i], scenarios["holdout_length"][i]
    expected = holdout[holdout.scenario_id == "s000004"].sort_values("week")
    assert length == 8
    assert data["holdout"]["actual"][start:start + length] == pytest.approx(expected["actual"].tolist(), rel=1e-4)
    days = (expected["week"] - pd.Timestamp("1970-01-01")).dt.days.tolist()
    assert data["holdout"]["x"][start:start + length] == days and data["holdout"]["x_unit"] == "day"

    row = results.iloc[i]
    assert scenarios["params"][i] == json.loads(row["best_params"])
    top = max(json.loads(row["importances"]).items(), key=lambda kv: kv[1])
    assert data["features"][scenarios["importances"][i][0][0]] == top[0]
    board = scenarios["leaderboard"][i]
    assert [r[1] for r in board] == sorted(r[1] for r in board)  # rmse: lower is better, best first
    assert {data["families"][r[0]] for r in board} == set(json.loads(row["leaderboard"]))
    assert scenarios["rejected"] == [None] * 20  # the synthetic results have no such column


def test_a_model_rejected_on_the_holdout_is_named_for_its_scenario():
    results, holdout, manifest = train_inputs(4, n_failed=0)
    results["rejected_on_holdout"] = ["", "lightgbm (rmse 8.77 on the holdout, damped_trend 6.66)", "", None]
    scenarios = embedded(build(results, holdout, manifest))["scenarios"]
    assert scenarios["rejected"] == [None, "lightgbm (rmse 8.77 on the holdout, damped_trend 6.66)", None, None]


def test_tables_read_back_from_parquet_give_the_same_report(tmp_path):
    results, holdout, manifest = train_inputs(6)
    results.to_parquet(tmp_path / "results.parquet")
    holdout.assign(week=holdout["week"].dt.date).to_parquet(tmp_path / "holdout.parquet")  # Spark DateType
    read = [pd.read_parquet(tmp_path / f"{name}.parquet") for name in ("results", "holdout")]
    assert isinstance(read[0]["selected_features"].iloc[0], np.ndarray)
    again = train_payload(*read, manifest, scenario_keys=KEYS, task="regression", time_column="week")
    first = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="regression", time_column="week")
    assert again == first


def test_worst_slowest_and_failure_reasons():
    results, holdout, manifest = train_inputs(60, n_failed=3, n_skipped=2)
    data = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="regression", time_column="week")
    relative = data["scenarios"]["relative"]
    worst = [relative[i] for i in data["tables"]["worst"]]
    assert worst == sorted(worst) and len(worst) == 20
    assert min(r for r in relative if r is not None) == worst[0]
    seconds = [data["scenarios"]["seconds"][i] for i in data["tables"]["slowest"]]
    assert seconds == sorted(seconds, reverse=True) and seconds[0] == pytest.approx(results["seconds_total"].max(), rel=1e-3)
    reasons = {(r["status"], r["count"]): r["reason"] for r in data["tables"]["reasons"]}
    assert reasons[("failed", 3)].startswith("ValueError: Input contains NaN")
    assert reasons[("skipped", 2)].startswith("only 12 training rows")
    assert data["tables"]["n_problems"] == 5


def test_plotly_is_inlined_once_and_nothing_is_fetched():
    html = build(*train_inputs(5))
    assert html.count("plotly.js v") == 1
    assert not re.search(r"<script[^>]*\bsrc=|<link\b|<iframe\b|@import", html)


def test_hostile_values_never_reach_the_markup():
    results, holdout, manifest = train_inputs(4)
    results["item_id"] = results["item_id"].astype(object)
    results.loc[0, "item_id"] = HOSTILE
    results.loc[3, "error"] = "</script><img src=x onerror=alert(2)>"
    results.loc[1, "importances"] = json.dumps({"<b onmouseover=alert(3)>x</b>": 1.0})
    manifest["use_case"] = "</title><script>alert(4)</script>"
    html = build(results, holdout, manifest)

    for value in (HOSTILE, "<img src=x", "<b onmouseover", "</title><script>"):
        assert value not in html
    data = embedded(html)
    assert data["scenarios"]["keys"][1][0] == HOSTILE
    assert data["meta"]["use_case"] == manifest["use_case"]
    assert embed_json({"k": "</script>&"}) == '{"k":"\\u003c/script\\u003e\\u0026"}'


@pytest.mark.parametrize("results", [pd.DataFrame(), pd.DataFrame({"store_id": [], "item_id": [], "status": []})])
def test_a_run_without_results_gives_a_report(results):
    data = embedded(build(results, None, {"run_id": "crashed", "status": "error"}))
    assert data["scenarios"]["id"] == [] and data["meta"]["status"] == "error"
    assert all(figure is None for name, figure in data["figures"].items() if name != "steps")


def test_only_failed_scenarios_and_no_holdout():
    results, _, manifest = train_inputs(6, n_failed=6, n_skipped=0)
    data = embedded(build(results, None, manifest))
    assert data["figures"]["relative"] is None and data["figures"]["families"] is None
    assert data["tables"]["reasons"][0]["count"] == 6 and data["tables"]["worst"] == []
    assert any("No holdout table" in note for note in data["notes"])
    assert data["scenarios"]["holdout_length"] == [0] * 6


def test_holdout_without_time_column_and_stray_rows_are_noted():
    results, holdout, manifest = train_inputs(3)
    holdout = holdout.drop(columns="week")
    holdout = pd.concat([holdout, holdout.iloc[:2].assign(scenario_id="nobody")])
    data = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="regression", time_column="week")
    assert "x" not in data["holdout"] and sum(data["scenarios"]["holdout_length"]) == len(holdout) - 2
    assert any("2 holdout row(s) belong to no scenario" in n for n in data["notes"])
    assert any("no 'week' column" in n for n in data["notes"])


def test_classification_labels_follow_training_order():
    results, holdout, manifest = train_inputs(5, task="classification")
    data = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="classification", time_column="week")
    assert data["holdout"]["labels"] == ["no", "yes"] and data["holdout"]["positive"] == "yes"
    assert data["primary_metric"] == "accuracy" and data["greater_is_better"] is True
    first = holdout[holdout.scenario_id == "s000000"]
    codes = data["holdout"]["actual"][:len(first)]
    assert [["no", "yes"][c] for c in codes] == first["actual"].tolist()
    flipped = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="classification",
                            time_column="week", positive_class="no")
    assert flipped["holdout"]["labels"] == ["yes", "no"] and flipped["holdout"]["positive"] == "no"


def test_contract_violations_name_the_column():
    results, holdout, manifest = train_inputs(3)
    with pytest.raises(DataError, match=r"scenario key column\(s\) \['item_id'\] missing"):
        build(results.drop(columns="item_id"), holdout, manifest)
    with pytest.raises(DataError, match="scenario_id must be unique"):
        build(results.assign(scenario_id="same"), holdout, manifest)


def test_unreadable_json_cells_are_shown_raw():
    results, holdout, manifest = train_inputs(2, n_failed=0, n_skipped=0)
    results.loc[0, ["best_params", "leaderboard", "importances"]] = ["{not json", "[1, 2]", None]
    data = train_payload(results, holdout, manifest, scenario_keys=KEYS, task="regression", time_column="week")
    assert data["scenarios"]["params"][0] == "{not json"
    assert data["scenarios"]["leaderboard"][0] is None and data["scenarios"]["importances"][0] is None


def test_predict_report_counts_rows_errors_and_history():
    predictions, history, manifest = predict_inputs(6, horizon=4, n_failed=2)
    data = predict_payload(predictions, manifest, scenario_keys=KEYS, task="regression", time_column="week",
                           history=history)
    cards = dict(map(tuple, data["cards"]))
    assert (cards["scenarios"], cards["rows scored"], cards["rows with an error"]) == (6, 16, 8)
    assert data["tables"]["errors"][0]["rows"] == 8 and data["tables"]["errors"][0]["scenarios"] == 2
    s = data["scenarios"]
    assert s["rows"] == [4, 4, 4, 4, 0, 0] and s["errors"] == [0, 0, 0, 0, 4, 4]
    assert s["history_length"] == [52] * 6
    i = s["history_start"][0]
    assert data["history"]["x"][i + 51] < data["forecast"]["x"][s["forecast_start"][0]]
    assert s["error"][4].startswith("no model for this scenario")


def test_predict_report_bad_input():
    assert embedded(build_predict_report(pd.DataFrame(), {}, scenario_keys=KEYS, task="regression",
                                         time_column=None))["scenarios"]["id"] == []
    predictions, history, manifest = predict_inputs(2)
    data = predict_payload(predictions, manifest, scenario_keys=KEYS, task="regression", time_column="week",
                           history=history.drop(columns="actual"))
    assert data["scenarios"]["history_length"] == [0, 0] and "actual" not in data["history"]
    assert any("lacks column(s) ['actual']" in n for n in data["notes"])


def test_write_report_is_atomic(tmp_path):
    target = tmp_path / "run" / "report.html"
    write_report("<html>first</html>", target)
    assert target.read_text() == "<html>first</html>" and oct(target.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(TypeError):
        write_report(None, target)  # type: ignore[arg-type]
    assert target.read_text() == "<html>first</html>"
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


def test_report_package_never_imports_spark():
    code = ("import sys; from automl.report import build_train_report; import automl.report.predict; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    sources = Path(__file__).parents[2].joinpath("automl", "report").glob("*.py")
    assert not [p.name for p in sources if re.search(r"^\s*(import|from)\s+pyspark", p.read_text(), re.M)]


def test_ten_thousand_scenarios_fit_in_twenty_megabytes(tmp_path):
    results, holdout, manifest = train_inputs(10_000, holdout_rows=12, n_failed=200, n_skipped=100)
    path = write_report(build(results, holdout, manifest), tmp_path / "report.html")
    size = os.path.getsize(path)
    assert size <= 20 * 1024 * 1024, f"{size / 1e6:.1f} MB"
    data = embedded(path.read_text())
    assert len(data["scenarios"]["id"]) == 10_000 and len(data["holdout"]["actual"]) == 9_700 * 12
    assert np.isfinite([v for v in data["scenarios"]["relative"] if v is not None]).all()


def test_train_report_says_whether_slopes_were_pooled():
    results, holdout, manifest = train_inputs(20)
    assert "pooled_slopes" not in embedded(build(results, holdout, manifest))["meta"]
    manifest = {**manifest, "pooled_slopes": {"scenarios": 154, "inputs": 9, "gain": 0.0808, "helped": 0.7662,
                                              "versus_own": 0.917, "trusted": True}}
    assert embedded(build(results, holdout, manifest))["meta"]["pooled_slopes"] == (
        "used: 154 scenarios, 9 inputs, 8.1% less squared error than their means, 77% of them helped, 0.92x the "
        "error of their own slopes")
    manifest["pooled_slopes"].update(trusted=False, gain=0.004)
    assert embedded(build(results, holdout, manifest))["meta"]["pooled_slopes"].startswith("not used: 154 scenarios")


def test_train_report_says_how_often_a_replacement_of_the_default_forecast_held():
    results, holdout, manifest = train_inputs(20)
    assert "default_replacements" not in embedded(build(results, holdout, manifest))["meta"]
    manifest = {**manifest, "default_replacements": {"replaced": 66, "rejected_on_holdout": 50}}
    assert embedded(build(results, holdout, manifest))["meta"]["default_replacements"] == (
        "replaced in 66 series; 50 more beat it on validation and lost to it on the holdout (57% held)")
