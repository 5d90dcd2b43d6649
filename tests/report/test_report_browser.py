"""Reports in a real headless Chromium: no console errors, plots drawn, scenario search, no script injection.

Chromium is Debian's package, installed by the session fixture when missing (root + apt-get); the tests
skip only where that is impossible. The page is driven over the DevTools pipe (``report_browser``).
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from report_browser import Browser, BrowserError, find_or_install_chromium
from report_synthetic import predict_inputs, train_inputs
from sklearn.metrics import roc_auc_score

from automl.report import build_predict_report, build_train_report, write_report

KEYS = ["store_id", "item_id"]
HOSTILE = "<script>alert(1)</script>"
SNEAKY = "<img src=x onerror=\"window.injected=1\">"

DRAWN_PLOTS = """Array.from(document.querySelectorAll(%r)).map(function (p) {
  var svg = p.querySelector('svg.main-svg');
  return svg ? svg.querySelectorAll('path, rect.nsewdrag').length : 0;
})"""


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        return find_or_install_chromium()
    except BrowserError as missing:
        pytest.skip(str(missing))


@pytest.fixture
def page(chromium):
    with Browser(chromium) as browser:
        yield browser


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, Path]:
    """A demand-like training report with two hostile keys, a classification one, a predict one, a crash."""
    out = tmp_path_factory.mktemp("reports")
    results, holdout, manifest = train_inputs(20)
    for column in ("item_id",):
        results[column] = results[column].astype(object)
        holdout[column] = holdout[column].astype(object)
    results.loc[5, "item_id"], results.loc[6, "item_id"] = HOSTILE, SNEAKY
    results.loc[7, "importances"] = '{"<img src=y onerror=\\"window.injected=2\\">": 0.9, "price": 0.1}'
    results["rejected_on_holdout"] = ""
    results.loc[2, "rejected_on_holdout"] = "lightgbm (rmse 8.77 on the holdout, damped_trend 6.66)"  # store 1, item 3
    manifest = {**manifest, "default_replacements": {"replaced": 17, "rejected_on_holdout": 1}}
    options = {"scenario_keys": KEYS, "time_column": "week"}
    paths = {"train": write_report(build_train_report(results, holdout, manifest, task="regression", **options),
                                   out / "train.html")}
    results, holdout, manifest = train_inputs(12, task="classification")
    paths["classification"] = write_report(
        build_train_report(results, holdout, manifest, task="classification", **options), out / "churn.html")
    predictions, history, manifest = predict_inputs(20)
    paths["predict"] = write_report(
        build_predict_report(predictions, manifest, task="regression", history=history, **options), out / "predict.html")
    paths["crashed"] = write_report(
        build_train_report(None, None, {"run_id": "r0", "status": "error"}, task="regression", **options),
        out / "crashed.html")
    return paths


def holdout_of_churn_scenario_1() -> pd.DataFrame:
    """The holdout rows of scenario store_id=1, item_id=2 in the classification report."""
    _, holdout, _ = train_inputs(12, task="classification")
    return holdout[holdout.scenario_id == "s000001"]


def open_detail(page: Browser, text: str) -> str:
    """Type into the scenario search as a user would; the detail's title once it shows."""
    page.type_into("#search", text)
    return page.evaluate("(function () { var t = document.getElementById('detail-title');"
                         " return t && !document.getElementById('detail').hidden ? t.textContent : null; })()")


def wait_for_plots(page: Browser, selector: str, timeout: float = 10.0) -> list[int]:
    """Drawn elements per plot under ``selector``, once every plot has some (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = page.evaluate(DRAWN_PLOTS % selector)
        if (counts and all(counts)) or time.monotonic() > deadline:
            return counts
        time.sleep(0.1)


def test_training_report_draws_and_finds_a_scenario(page, reports):
    page.open(reports["train"])
    assert page.problems() == []
    assert page.evaluate("document.getElementById('title').textContent") == "demand — train report"
    assert ("default forecastreplaced in 17 series; 1 more beat it on validation and lost to it on the holdout "
            "(94% held)") in page.evaluate("document.getElementById('meta').textContent")
    overview = wait_for_plots(page, "#figures .js-plotly-plot")
    assert len(overview) == 4 and all(n > 0 for n in overview)
    assert page.evaluate("document.querySelectorAll('#tables table')[0].rows.length") == 19  # 18 ok + header

    assert open_detail(page, "store_id=1 item_id=3") == "okstore_id=1 · item_id=3"
    detail = wait_for_plots(page, "#detail .js-plotly-plot")
    assert len(detail) == 2 and all(n > 0 for n in detail)  # holdout time plot, importances
    traces = page.evaluate("document.querySelector('#detail .js-plotly-plot').data.map(function (t) {"
                           " return [t.name, t.x.length]; })")
    assert traces == [["actual", 8], ["prediction", 8], ["baseline", 8]]
    assert page.evaluate("document.querySelectorAll('#detail table')[1].rows.length") == 4  # leaderboard
    assert ("The default forecast shipped: lightgbm (rmse 8.77 on the holdout, damped_trend 6.66) validated better"
            in page.evaluate("document.getElementById('detail').textContent"))
    assert page.problems() == []


def test_hostile_keys_show_as_text_and_never_run(page, reports):
    page.open(reports["train"])
    assert open_detail(page, "<script>") == "ok" + "store_id=1 · item_id=" + HOSTILE
    page.evaluate("document.getElementById('search').value = ''")
    assert open_detail(page, "onerror") == "ok" + "store_id=1 · item_id=" + SNEAKY
    matches = page.evaluate("Array.from(document.querySelectorAll('#matches li')).map(function (l) {"
                            " return l.textContent; })")
    assert matches == ["store_id=1 · item_id=" + SNEAKY]
    page.evaluate("document.getElementById('search').value = ''")
    open_detail(page, "store_id=1 item_id=8")
    wait_for_plots(page, "#detail .js-plotly-plot")
    assert page.evaluate("typeof window.injected") == "undefined"
    assert page.evaluate("document.querySelectorAll('main script, main img, #detail img').length") == 0
    assert page.problems() == []  # an alert() would be listed as a dialog


def test_classification_report_draws_roc_and_confusion_matrix(page, reports):
    page.open(reports["classification"])
    assert open_detail(page, "store_id=1 item_id=2") == "okstore_id=1 · item_id=2"
    titles = page.evaluate("Array.from(document.querySelectorAll('#detail .js-plotly-plot')).map(function (p) {"
                           " return p.layout.title.text; })")
    rows = holdout_of_churn_scenario_1()
    auc = roc_auc_score(rows["actual"] == "yes", rows["probability"])
    assert titles[0] == f"ROC on the holdout (AUC {auc:.3f}, positive: yes)"
    assert titles[1] == "Confusion matrix on the holdout"
    matrix = page.evaluate("document.querySelectorAll('#detail .js-plotly-plot')[1].data[0].z")
    expected = pd.crosstab(rows["actual"], rows["prediction"]).reindex(index=["no", "yes"], columns=["no", "yes"])
    assert matrix == expected.fillna(0).astype(int).values.tolist()
    assert all(n > 0 for n in wait_for_plots(page, "#detail .js-plotly-plot"))
    assert page.problems() == []


def test_predict_report_draws_forecast_after_history(page, reports):
    page.open(reports["predict"])
    assert all(n > 0 for n in wait_for_plots(page, "#figures .js-plotly-plot"))
    assert open_detail(page, "store_id=1 item_id=4") == "okstore_id=1 · item_id=4"
    names = page.evaluate("document.querySelector('#detail .js-plotly-plot').data.map(function (t) {"
                          " return [t.name, t.x[0]]; })")
    assert names[0][0] == "history (actual)" and names[1][0] == "prediction"
    assert names[1][1] > names[0][1]
    page.evaluate("document.getElementById('search').value = ''")
    assert open_detail(page, "item_id=20") == "errorstore_id=1 · item_id=20"
    assert page.evaluate("document.querySelector('#detail div.error').textContent").startswith("no model")
    assert page.problems() == []


def test_crashed_run_report_shows_its_state(page, reports):
    page.open(reports["crashed"])
    assert page.problems() == []
    notes = page.evaluate("document.getElementById('notes').textContent")
    assert "recorded no scenario results" in notes
    assert page.evaluate("document.getElementById('match-count').textContent").startswith("0 scenarios")
