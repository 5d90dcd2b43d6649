"""Secrets from ${ENV} interpolation never reach logs, MLflow params, manifests, results or error messages."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from automl import jobs
from automl.config import parse_config
from automl.errors import ConfigError

pytestmark = pytest.mark.spark

SECRET = "s3cr3t-Token-4242"


def _document(tmp_path: Path) -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=120)
    pd.DataFrame({"s": ["a"] * 60 + ["b"] * 60, "id": range(120), "x": x, "y": 2 * x + rng.normal(size=120)}) \
        .to_parquet(tmp_path / "rows.parquet")
    return {"name": "secrets", "task": "regression", "scenario_keys": ["s"], "target": "y", "sample_id": ["id"],
            # Parquet ignores reader options it does not know: a stand-in for a database password option.
            "data": {"streams": [{"name": "rows", "path": str(tmp_path / "rows.parquet"),
                                  "options": {"password": "${DB_PASSWORD}"}}]},
            "features": {"enabled": False}, "models": {"families": ["linear"]}, "tuning": {"max_evals": 2},
            "output": {"path": str(tmp_path / "out")}}


def test_secrets_stay_out_of_every_output(spark, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    config = parse_config(_document(tmp_path))
    assert config.data.streams[0].options["password"] == SECRET  # the reader still gets the real value
    # Everything the framework logs, at its most verbose (the CLI keeps py4j's wire log at WARNING).
    with caplog.at_level(logging.DEBUG, logger="automl"):
        summary = jobs.train(config, spark=spark)

    assert summary.succeeded and SECRET not in summary.to_json()
    assert SECRET not in caplog.text
    for path in (tmp_path / "out").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".parquet", ".yaml", ".txt", ""):
            assert SECRET.encode() not in path.read_bytes(), path
    client = mlflow.MlflowClient(summary.details["tracking_uri"])
    params = client.get_run(summary.run_id).data.params
    assert "'password': '***'" in params["data.streams"]
    assert SECRET not in json.dumps(params)


def test_config_errors_never_echo_a_secret(tmp_path, monkeypatch):
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    document = _document(tmp_path)
    document["tuning"] = {"max_evals": "${DB_PASSWORD}"}
    with pytest.raises(ConfigError) as raised:
        parse_config(document)
    assert "tuning.max_evals" in str(raised.value) and SECRET not in str(raised.value)
    assert "***" in str(raised.value)


def test_a_secret_inside_the_tracking_uri_stays_out_of_manifest_summary_and_report(spark, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TOKEN", SECRET)
    document = _document(tmp_path)
    document["data"]["streams"][0]["options"] = {}
    document["mlflow"] = {"tracking_uri": f"sqlite:///{tmp_path}/store-${{MLFLOW_TOKEN}}.db"}
    summary = jobs.train(parse_config(document), spark=spark)
    assert summary.succeeded and SECRET not in summary.to_json()
    assert summary.details["tracking_uri"] == f"sqlite:///{tmp_path}/store-***.db"
    written = [p for p in (tmp_path / "out").rglob("*") if p.is_file() and p.suffix in (".json", ".html")]
    assert any(p.name == "manifest.json" for p in written) and any(p.name == "report.html" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), path
