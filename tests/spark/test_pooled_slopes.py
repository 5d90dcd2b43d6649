"""Slopes pooled across scenarios through the real jobs: hsb82's 160 schools, about 36 training pupils each.

The training job's first pass sums every school's moments; each school's default forecast becomes its own mean
plus the slopes of the other schools. Against the same job without pooling, the typical school's holdout error
drops; prediction and ``automl debug`` use the same slopes.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from automl import jobs
from automl.config import parse_config

pytestmark = pytest.mark.spark


def _config(shared_data, output, to_score, **models) -> object:
    return parse_config({
        "name": "hsb82", "task": "regression", "scenario_keys": ["school"], "target": "mAch",
        "data": {"streams": [{"name": "pupils", "path": str(shared_data / "hsb82.parquet"),
                              "predict_path": str(to_score)}]},
        "split": {"min_train_rows": 10}, "features": {"enabled": False},
        "models": {"families": ["linear"], **models}, "tuning": {"max_evals": 2, "seed": 3},
        "output": {"path": str(output)}}, source="<hsb82 test config>")


def _holdout_rmse(summary) -> pd.Series:
    holdout = pd.read_parquet(summary.outputs["holdout"])
    return holdout.groupby("school").apply(lambda g: np.sqrt(np.mean((g["actual"] - g["prediction"]) ** 2)),
                                           include_groups=False)


def test_schools_share_slopes_through_train_predict_and_debug(spark, shared_data, tmp_path):
    pupils = pd.read_parquet(shared_data / "hsb82.parquet")
    to_score = pupils.groupby("school").head(3).drop(columns=["mAch"])
    to_score.to_parquet(tmp_path / "to_score.parquet")
    pooled_config = _config(shared_data, tmp_path / "pooled", tmp_path / "to_score.parquet")
    alone_config = _config(shared_data, tmp_path / "alone", tmp_path / "to_score.parquet", pooled_slopes=False)

    pooled = jobs.train(pooled_config, spark=spark)
    alone = jobs.train(alone_config, spark=spark)

    evidence = pooled.details["pooled_slopes"]
    assert evidence["trusted"] and evidence["scenarios"] == pooled.counts["ok"] >= 150
    assert alone.details["pooled_slopes"] is None
    assert pooled.details["logging_errors"] == 0  # the slopes are the MLflow params of a pooled_slopes model
    results = pd.read_parquet(pooled.outputs["results"]).set_index("school")
    ok = results[results["status"] == "ok"]
    assert (ok["baseline_name"] == "pooled_slopes").mean() > 0.8
    assert (ok["best_family"].str.contains("pooled_slopes")).mean() > 0.5
    alone_results = pd.read_parquet(alone.outputs["results"])
    assert not alone_results["best_family"].fillna("").str.contains("pooled").any()
    # the same schools, the same holdout pupils: the typical school predicts better with the others' slopes
    with_others, on_its_own = _holdout_rmse(pooled), _holdout_rmse(alone)
    ratio = (with_others / on_its_own.loc[with_others.index])
    assert ratio.median() < 0.99 and ratio.mean() < 0.99, ratio.describe()

    predictions = pd.read_parquet(jobs.predict(pooled_config, spark=spark).outputs["predictions"])
    scored = predictions[predictions["school"].isin(ok.index)]
    assert len(scored) == len(to_score[to_score["school"].isin(ok.index)])
    assert scored["error"].eq("").all() and scored["prediction"].notna().all()

    school = ok.index[ok["best_family"] == "pooled_slopes"][0]
    assert {"ses", "minrty.Yes", "sx.Male"} <= set(json.loads(ok.loc[school, "best_params"]))
    fit = jobs.debug(pooled_config, {"school": str(school)}, spark=spark)
    assert fit.model.family == "pooled_slopes"
    assert fit.metrics["rmse"] == pytest.approx(ok.loc[school, "score"], rel=1e-9)
