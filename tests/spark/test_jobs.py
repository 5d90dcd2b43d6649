"""The job layer on real local Spark: model set, changed-only, identity, row accounting, status, outputs."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from automl import jobs
from automl.errors import DataError
from automl.modelset import ModelSet
from job_helpers import config as make_config, series

pytestmark = pytest.mark.spark


def _rows(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


def test_backfill_keeps_other_champions_and_changed_only_trains_only_what_changed(spark, tmp_path):
    data = tmp_path / "rows.parquet"
    frame = pd.concat([series(f"s{i}", seed=i) for i in range(4)])
    frame.to_parquet(data)
    config = make_config(data, tmp_path / "out")
    first = jobs.train(config, spark=spark)
    assert first.counts["ok"] == 4

    backfill = jobs.train(config, spark=spark, selection=jobs.Selection([{"s": "s1"}]))
    assert backfill.counts["ok"] == 1
    champions = ModelSet.read(config.output_path).champions.set_index("s")
    assert len(champions) == 4
    assert champions.loc["s1", "run_id"] == backfill.run_id
    assert (champions.drop("s1")["run_id"] == first.run_id).all()

    scored = jobs.predict(config, spark=spark)
    predictions = _rows(scored.outputs["predictions"])
    assert scored.succeeded and predictions["error"].eq("").all()
    runs = predictions.groupby("s")["model_run_id"].first()
    assert runs["s1"] == backfill.run_id and (runs.drop("s1") == first.run_id).all()

    # One more week for two scenarios: only those two train again.
    extra = pd.concat([series(f"s{i}", n=49, seed=i).tail(1) for i in (0, 2)])
    pd.concat([frame, extra]).to_parquet(data)
    changed = jobs.train(config, spark=spark, changed_only=True)
    assert changed.counts == {"ok": 2, "unchanged": 2, "failed": 0, "skipped": 0}
    results = _rows(changed.outputs["results"]).set_index("s")
    assert set(results.index[results["status"] == "ok"]) == {"s0", "s2"}
    assert results.loc["s1", "champion_run_id"] == backfill.run_id
    assert results.loc["s3", "champion_note"].startswith("unchanged since run")


def test_a_failed_scenario_keeps_its_champion_and_says_so(spark, tmp_path, monkeypatch):
    data = tmp_path / "rows.parquet"
    pd.concat([series(f"s{i}", seed=i) for i in range(3)]).to_parquet(data)
    config = make_config(data, tmp_path / "out", execution={"max_failed_fraction": 1.0})
    first = jobs.train(config, spark=spark)
    monkeypatch.setenv("AUTOML_FAULT_INJECTION", "1.0")
    failing = jobs.train(config, spark=spark)
    results = _rows(failing.outputs["results"])
    assert (results["status"] == "failed").all()
    assert results["champion_run_id"].eq(first.run_id).all()
    assert results["champion_note"].str.contains(f"kept the champion of run {first.run_id}").all()
    assert failing.status == "failed" and "no scenario trained" in failing.message


def test_null_keys_and_keys_that_print_alike_are_separate_scenarios(spark, tmp_path):
    parts = []
    for i, (a, b) in enumerate([("x,b=y", "z"), ("x", "y,b=z"), (None, "z"), ("None", "z")]):
        part = series(f"{i}", seed=i).drop(columns="s")
        parts.append(part.assign(a=a, b=b))
    data = tmp_path / "rows.parquet"
    pd.concat(parts).to_parquet(data)
    future = [p.tail(3).drop(columns="y").assign(t=p["t"].max() + pd.Timedelta(weeks=1)) for p in parts]
    future_rows = pd.concat([f.assign(t=f["t"] + pd.to_timedelta(np.arange(3), unit="W")) for f in future])
    future_rows.to_parquet(tmp_path / "future.parquet")
    config = make_config(data, tmp_path / "out", scenario_keys=["a", "b"],
                         data={"streams": [{"name": "rows", "path": str(data),
                                            "predict_path": str(tmp_path / "future.parquet")}]})
    trained = jobs.train(config, spark=spark)
    results = _rows(trained.outputs["results"])
    assert trained.counts["ok"] == 4 and len(results) == 4
    assert results["scenario_id"].nunique() == 4 and results["model_path"].nunique() == 4
    assert results["a"].isna().sum() == 1

    scored = jobs.predict(config, spark=spark)
    predictions = _rows(scored.outputs["predictions"])
    assert scored.details["rows_in"] == scored.details["rows_out"] == len(future_rows) == len(predictions)
    assert predictions["error"].eq("").all() and predictions["prediction"].notna().all()
    assert predictions["a"].isna().sum() == 3

    fit = jobs.debug(config, {"a": "<null>", "b": "z"}, spark=spark)  # as labels write a null key
    assert fit.model.keys == {"a": None, "b": "z"} and fit.n_rows == 48


def test_prediction_keeps_passthrough_columns_row_for_row_and_refuses_another_sample_id(spark, tmp_path):
    data = tmp_path / "rows.parquet"
    pd.concat([series(f"s{i}", seed=i) for i in range(2)]).to_parquet(data)
    future = pd.concat([series(f"s{i}", n=54, seed=i).tail(6) for i in range(2)]).drop(columns="y")
    future["row_id"] = [f"r{i:03d}" for i in range(len(future))]
    future = future.sample(frac=1.0, random_state=3)  # row order must not matter
    future.to_parquet(tmp_path / "future.parquet")
    streams = {"streams": [{"name": "rows", "path": str(data), "predict_path": str(tmp_path / "future.parquet")}]}
    config = make_config(data, tmp_path / "out", data=streams, predict={"keep_columns": ["row_id"]})
    jobs.train(config, spark=spark)
    predictions = _rows(jobs.predict(config, spark=spark).outputs["predictions"])
    assert sorted(predictions["row_id"]) == sorted(future["row_id"])
    joined = future.merge(predictions[["row_id", "s", "t", "prediction"]], on="row_id", suffixes=("", "_predicted"))
    assert (joined["s"] == joined["s_predicted"]).all() and (joined["t"] == joined["t_predicted"]).all()

    other_id = make_config(data, tmp_path / "out", data=streams, sample_id=["row_id"])
    with pytest.raises(DataError, match=r"predict.keep_columns"):
        jobs.predict(other_id, spark=spark)


def test_a_run_where_every_scenario_is_skipped_fails_with_the_commonest_reason(spark, tmp_path):
    parts = []
    for i in range(3):
        part = series(f"s{i}", seed=i)
        part.loc[part.index[1], "t"] = part["t"].iloc[0]
        parts.append(part)
    pd.concat(parts).to_parquet(tmp_path / "rows.parquet")
    summary = jobs.train(make_config(tmp_path / "rows.parquet", tmp_path / "out"), spark=spark)
    assert summary.status == "failed" and summary.counts["skipped"] == 3
    assert summary.message.startswith("no scenario trained: 3 x") and "duplicated" in summary.message
    assert summary.details["top_reasons"][0]["scenarios"] == 3


def test_min_beats_baseline_fraction_turns_a_weak_run_into_a_failure(spark, tmp_path):
    # The last 18 weeks are flat: the naive last value is perfect on the holdout, no model can beat it.
    flat = series("flat", seed=1)
    flat.loc[flat.index[-18:], "y"] = 7.0
    pd.concat([flat, series("good", seed=2)]).to_parquet(tmp_path / "rows.parquet")
    lenient = jobs.train(make_config(tmp_path / "rows.parquet", tmp_path / "a"), spark=spark)
    assert lenient.succeeded and lenient.details["beats_baseline_fraction"] < 1.0
    strict = make_config(tmp_path / "rows.parquet", tmp_path / "b", execution={"min_beats_baseline_fraction": 1.0})
    summary = jobs.train(strict, spark=spark)
    assert summary.status == "failed" and "min_beats_baseline_fraction" in summary.message


def test_resume_retrains_scenarios_whose_data_changed(spark, tmp_path):
    data = tmp_path / "rows.parquet"
    frame = pd.concat([series(f"s{i}", seed=i) for i in range(3)])
    frame.to_parquet(data)
    config = make_config(data, tmp_path / "out")
    first = jobs.train(config, spark=spark)
    changed = frame.copy()
    changed.loc[changed["s"] == "s1", "x"] += 1.0
    changed.to_parquet(data)
    resumed = jobs.train(config, spark=spark, resume=first.run_id)
    results = _rows(resumed.outputs["results"]).set_index("s")
    assert results.loc["s1", "attempt"] == 2 and (results.drop("s1")["attempt"] == 1).all()
    assert results["data_fingerprint"].nunique() == 3


def test_catalog_tables_are_written_besides_the_run_directory(spark, tmp_path):
    data = tmp_path / "rows.parquet"
    pd.concat([series(f"s{i}", seed=i) for i in range(2)]).to_parquet(data)
    future = pd.concat([series(f"s{i}", n=54, seed=i).tail(6) for i in range(2)]).drop(columns="y")
    future.to_parquet(tmp_path / "future.parquet")
    suffix = os.urandom(4).hex()
    config = make_config(data, tmp_path / "out", output__results_table=f"results_{suffix}",
                         output__predictions_table=f"predictions_{suffix}",
                         output__champions_table=f"champions_{suffix}", data={"streams": [{"name": "rows", "path": str(data),
                                            "predict_path": str(tmp_path / "future.parquet")}]})
    try:
        trained = jobs.train(config, spark=spark)
        scored = jobs.predict(config, spark=spark)
        assert spark.table(f"results_{suffix}").count() == 2 == len(_rows(trained.outputs["results"]))
        assert spark.table(f"predictions_{suffix}").count() == 12 == len(_rows(scored.outputs["predictions"]))
        champions = spark.table(f"champions_{suffix}").toPandas()
        assert sorted(champions["s"]) == ["s0", "s1"] and set(champions["run_id"]) == {trained.run_id}
    finally:
        spark.sql(f"DROP TABLE IF EXISTS champions_{suffix}")
        spark.sql(f"DROP TABLE IF EXISTS results_{suffix}")
        spark.sql(f"DROP TABLE IF EXISTS predictions_{suffix}")


def test_other_output_formats_and_a_snapshot(spark, tmp_path):
    data = tmp_path / "rows.parquet"
    pd.concat([series(f"s{i}", seed=i) for i in range(2)]).to_parquet(data)
    pd.concat([series(f"s{i}", n=54, seed=i).tail(6) for i in range(2)]).drop(columns="y").to_parquet(
        tmp_path / "future.parquet")
    config = make_config(data, tmp_path / "out", output__format="json", data={"streams": [{"name": "rows", "path": str(data),
                                            "predict_path": str(tmp_path / "future.parquet")}], "snapshot": True})
    trained = jobs.train(config, spark=spark)
    assert trained.succeeded
    written = spark.read.json(trained.outputs["results"])
    assert written.count() == 2
    snapshots = list((tmp_path / "out" / "snapshots").iterdir())
    assert len(snapshots) == 1 and snapshots[0].name == trained.details["data_fingerprint"]
    # The pinned run's models are found although its results table is JSON.
    assert jobs.predict(config, spark=spark, run_id=trained.run_id).counts["failed"] == 0


def test_a_successful_train_registers_the_model_set_and_it_scores_like_predict(spark, tmp_path):
    import mlflow

    from automl.spark.engine import SparkEngine

    data = tmp_path / "rows.parquet"
    pd.concat([*(series(f"s{i}", seed=i) for i in range(3)), series("s4", n=5, seed=4)]).to_parquet(data)
    pd.concat([series(f"s{i}", n=54, seed=i).tail(6) for i in range(5)]).drop(columns="y").to_parquet(
        tmp_path / "future.parquet")  # s3 was never trained, s4 has too few rows to train
    config = make_config(data, tmp_path / "out", mlflow__registered_model="faults_many",
                         data={"streams": [{"name": "rows", "path": str(data),
                                            "predict_path": str(tmp_path / "future.parquet")}]})
    trained = jobs.train(config, spark=spark)
    assert trained.outputs["registered_model"] == "models:/faults_many@champion", trained.details
    expected = _rows(jobs.predict(config, spark=spark).outputs["predictions"])

    rows = SparkEngine(spark, config).scenarios(jobs.Selection(), for_prediction=True).to_pandas()
    mlflow.set_tracking_uri(trained.details["tracking_uri"])
    served = mlflow.pyfunc.load_model("models:/faults_many@champion").predict(rows)
    assert len(served) == len(rows) == len(expected)
    both = expected.merge(served, on=["s", "t"], suffixes=("", "_served"))
    known = both[~both["s"].isin(["s3", "s4"])]
    np.testing.assert_allclose(known["prediction_served"].astype(float), known["prediction"], rtol=1e-9)
    unknown = both[both["s"] == "s3"]
    assert unknown["prediction_served"].isna().all() and unknown["error_served"].str.contains("no champion").all()
    skipped = both[both["s"] == "s4"]  # its rows say why, as predict's do
    assert skipped["prediction_served"].isna().all() and len(skipped) == 6
    assert skipped["error_served"].str.contains(f"training run {trained.run_id}: skipped: too few rows").all()
