"""Train then predict through local Spark on the example demand use case (small data)."""
from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest

from automl import jobs
from automl.config import load_config
from automl.data.master import build_master
from automl.scenario.pipeline import fit_scenario

pytestmark = pytest.mark.spark

DEMAND = Path(__file__).resolve().parents[2] / "configs" / "demand.yaml"
FAST = ["tuning.max_evals=6", "tuning.timeout_seconds=60"]
KEYS = ["store_id", "item_id"]


@pytest.fixture(scope="module")
def trained(spark, demo_data, tmp_path_factory):
    """One training and one prediction run of the demand example, shared by the tests below."""
    output = tmp_path_factory.mktemp("demand-output")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUTOML_DATA_DIR", str(demo_data))
        patch.setenv("AUTOML_OUTPUT_DIR", str(output))
        config = load_config(DEMAND, FAST)
    training = jobs.train(config, spark=spark)
    prediction = jobs.predict(config, spark=spark)
    return config, training, prediction


def _results(summary: jobs.JobSummary) -> pd.DataFrame:
    return pd.read_parquet(summary.outputs["results"]).sort_values(KEYS).reset_index(drop=True)


def test_every_scenario_has_exactly_one_ok_row(trained, demo_data):
    _, training, _ = trained
    results = _results(training)
    sales = pd.read_parquet(demo_data / "demand" / "sales.parquet")
    expected = sales[KEYS].drop_duplicates()
    assert training.succeeded and training.counts == {"ok": len(expected), "unchanged": 0, "failed": 0, "skipped": 0}
    assert len(results) == len(expected)
    assert not results.duplicated(KEYS).any()
    assert (results["status"] == "ok").all(), results[["status", "error"]]
    assert results["error"].eq("").all()
    assert results["model_uri"].str.startswith("runs:/").all()
    assert results["selected_features"].map(len).gt(0).all()


def test_tuned_models_beat_the_naive_baseline(trained):
    results = _results(trained[1])
    # Promotions and prices drive demand: tuned models win almost everywhere; where one does not win every
    # validation fold the scenario keeps its naive forecast, so no scenario is worse than its baseline.
    assert results["beats_baseline"].mean() >= 0.8, results[["best_family", "score", "baseline_score"]]
    assert (results["score"] <= results["baseline_score"]).all(), results[["best_family", "score", "baseline_score"]]


def test_every_prediction_row_is_scored(trained, demo_data):
    _, _, prediction = trained
    predictions = pd.read_parquet(prediction.outputs["predictions"])
    future = pd.read_parquet(demo_data / "demand" / "future_sales.parquet")
    assert prediction.succeeded
    assert len(predictions) == len(future) == prediction.counts["rows"]
    assert predictions["error"].eq("").all(), predictions["error"].unique()
    assert predictions["prediction"].notna().all()
    merged = future.merge(predictions, on=[*KEYS, "week"], how="left", validate="one_to_one")
    assert merged["prediction"].notna().all()


def test_mlflow_model_loaded_back_reproduces_the_predictions(trained, spark):
    config, training, prediction = trained
    results = _results(training)
    predictions = pd.read_parquet(prediction.outputs["predictions"])
    mlflow.set_tracking_uri(training.details["tracking_uri"])
    future = build_master(spark, config, for_prediction=True).toPandas()
    for row in results.head(2).to_dict("records"):
        selected = (future["store_id"] == row["store_id"]) & (future["item_id"] == row["item_id"])
        scored = mlflow.pyfunc.load_model(row["model_uri"]).predict(future[selected])
        expected = predictions[(predictions["store_id"] == row["store_id"])
                               & (predictions["item_id"] == row["item_id"])].sort_values("week")
        pd.testing.assert_series_equal(scored["prediction"].reset_index(drop=True),
                                       expected["prediction"].reset_index(drop=True), check_names=False)


def test_spark_result_equals_the_pandas_pipeline_on_the_same_group(trained, spark):
    config, training, _ = trained
    row = _results(training).iloc[-1]
    master = build_master(spark, config).toPandas()
    group = master[(master["store_id"] == row["store_id"]) & (master["item_id"] == row["item_id"])]
    fit = fit_scenario(group, {"store_id": int(row["store_id"]), "item_id": int(row["item_id"])}, config)
    assert fit.model.family == row["best_family"]
    assert fit.metrics[config.primary_metric] == pytest.approx(row["score"], rel=1e-9)


def test_same_seed_gives_the_same_results(trained, spark):
    config, training, _ = trained
    again = jobs.train(config, spark=spark)
    first, second = _results(training), _results(again)
    assert again.run_id != training.run_id
    columns = [*KEYS, "status", "best_family", "best_params", "score", "baseline_score", "selected_features"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_scenarios_ran_on_both_cores_as_planned(trained):
    results = _results(trained[1])
    # 6 scenarios, 2 cores x 4 partitions per core -> one partition per scenario, none coalesced away.
    assert results["partition_id"].nunique() == len(results)
