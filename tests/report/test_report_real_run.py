"""The reports of a real train and predict run of the demand example, opened in headless Chromium."""
from __future__ import annotations

from pathlib import Path

import pytest
from report_browser import Browser, BrowserError, find_or_install_chromium
from test_report_browser import open_detail, wait_for_plots

from automl import jobs
from automl.config import load_config
from automl.demo_data import write_all

pytestmark = pytest.mark.spark

DEMAND = Path(__file__).resolve().parents[2] / "configs" / "demand.yaml"


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory) -> dict[str, jobs.JobSummary]:
    root = tmp_path_factory.mktemp("real-report")
    write_all(root / "data", small=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_DATA_DIR", str(root / "data"))
        patch.setenv("AUTOML_OUTPUT_DIR", str(root / "out"))
        config = load_config(DEMAND, ["tuning.max_evals=3", "models.families=[lightgbm, linear]"])
    return {"train": jobs.train(config, spark=spark), "predict": jobs.predict(config, spark=spark)}


def test_the_demo_reports_draw_and_find_a_scenario_by_its_keys(runs):
    try:
        chromium = find_or_install_chromium()
    except BrowserError as missing:
        pytest.skip(str(missing))
    train, predict = runs["train"], runs["predict"]
    assert train.succeeded and predict.succeeded
    with Browser(chromium) as page:
        page.open(Path(train.outputs["report"]))
        assert page.problems() == []
        overview = wait_for_plots(page, "#figures .js-plotly-plot")
        assert overview and all(n > 0 for n in overview)
        assert "store_id=1 · item_id=2" in open_detail(page, "store_id=1 item_id=2")
        detail = wait_for_plots(page, "#detail .js-plotly-plot")
        assert detail and all(n > 0 for n in detail)  # holdout against time, importances
        assert page.problems() == []

        page.open(Path(predict.outputs["report"]))
        assert page.problems() == []
        drawn = wait_for_plots(page, ".js-plotly-plot")
        assert drawn and all(n > 0 for n in drawn)
