"""The Python-worker warm-up: which libraries it imports, and that it runs on every slot."""
from __future__ import annotations

import importlib.util
import logging

from automl.config import parse_config
from automl.spark.warmup import pipeline_modules, warm_up_workers


def _config(**sections) -> object:
    return parse_config({"name": "w", "task": "regression", "scenario_keys": ["k"], "target": "y",
                         "data": {"streams": [{"name": "s", "path": "unused"}]}, **sections})


def test_the_modules_follow_the_configured_pipeline():
    lean = pipeline_modules(_config(features={"enabled": False}, selection={"method": "none"},
                                    models={"families": ["linear"]}))
    assert "featuretools" not in lean and "lightgbm" not in lean and "sklearn.ensemble" not in lean
    assert {"automl.scenario.pipeline", "automl.tracking", "sklearn.linear_model"} <= set(lean)
    full = pipeline_modules(_config(models={"families": ["lightgbm", "random_forest"]}))
    assert {"featuretools", "lightgbm", "sklearn.ensemble"} <= set(full)
    assert all(importlib.util.find_spec(name) is not None for name in full)


def test_every_slot_imports_them(spark, caplog):
    caplog.set_level(logging.INFO, logger="automl.spark.warmup")
    thread = warm_up_workers(spark, _config(), cores=2)
    assert thread is not None
    thread.join(timeout=300)
    assert not thread.is_alive()
    assert "2 Python workers warmed up" in caplog.text
