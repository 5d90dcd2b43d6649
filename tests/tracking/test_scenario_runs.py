"""``mlflow.scenario_runs: none``: a pickle file per scenario and no MLflow request; the job's run gets the
results table and summaries instead. ``load_scenario_model`` reads both saved forms."""
from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from process_helpers import free_port
from tracking_helpers import write_config, write_scenarios

from automl.config import parse_config
from automl.errors import DataError
from automl.scenario.pipeline import fit_scenario, predict_scenario
from automl.tracking import JobRun, ModelPublisher, load_scenario_model, retry
from automl.tracking.runs import summarize_results


def _config(tmp_path, scenario_runs: str):
    data = tmp_path / "data.parquet"
    document = yaml.safe_load(write_config(tmp_path / "c.yaml", data=data, output=tmp_path / "out",
                                           tracking_uri="").read_text())
    document["mlflow"]["scenario_runs"] = scenario_runs
    return parse_config(document)


@pytest.fixture
def fitted(tmp_path):
    data = write_scenarios(tmp_path / "data.parquet", 1)
    config = _config(tmp_path, "none")
    keys = {"region": "north", "sku": 0}
    return config, keys, data, fit_scenario(data, keys, config)


def test_without_scenario_runs_a_model_is_one_file_and_mlflow_is_never_contacted(fitted, tmp_path):
    config, keys, data, fit = fitted
    dead = f"http://127.0.0.1:{free_port()}"  # any request would fail and show as a logging error
    publisher = ModelPublisher(dead, "0", "p" * 32, str(tmp_path / "models"), config)

    published = publisher(keys, fit)
    assert published.model_path.endswith(".pkl") and os.path.isfile(published.model_path)
    assert (published.model_uri, published.mlflow_run_id, published.logging_error) == ("", "", "")
    assert os.listdir(tmp_path / "models") == [os.path.basename(published.model_path)]  # no staging file left
    model = load_scenario_model(published.model_path)
    pd.testing.assert_frame_equal(predict_scenario(data, model, config), predict_scenario(data, fit.model, config))
    assert publisher.relog(keys, {"model_path": published.model_path}) == published


def test_both_saved_forms_load_and_a_foreign_file_is_named(fitted, tmp_path, monkeypatch):
    config, keys, data, fit = fitted
    monkeypatch.setattr(retry, "_sleep", lambda _: None)  # the per-scenario upload fails: no server
    monkeypatch.setattr(retry, "outage", retry.Outage(cooldown=60))
    per_scenario = ModelPublisher(f"http://127.0.0.1:{free_port()}", "0", "p" * 32, str(tmp_path / "dirs"),
                                  _config(tmp_path, "per_scenario"))
    directory = per_scenario(keys, fit).model_path
    assert os.path.isfile(os.path.join(directory, "MLmodel"))
    np.testing.assert_array_equal(predict_scenario(data, load_scenario_model(directory), config)["prediction"],
                                  predict_scenario(data, fit.model, config)["prediction"])
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(b"\x80\x04K\x01.")  # pickle of the int 1
    with pytest.raises(DataError, match=f"{foreign} is not an automl scenario model file"):
        load_scenario_model(str(foreign))


def test_the_job_run_logs_the_results_table_and_summaries(tmp_path):
    config = _config(tmp_path, "none")
    results = pd.DataFrame({"region": ["north", "south", "north"], "sku": [0, 1, 2],
                            "status": ["ok", "ok", "failed"], "score": [1.0, 3.0, None],
                            "baseline_score": [2.0, 4.0, None], "beats_baseline": [True, True, None],
                            "metric_rmse": [1.0, 3.0, None], "seconds_total": [0.5, 1.5, 0.1],
                            "selected_features": [["x1"], ["x1", "x2"], []], "error": ["", "", "boom"]})
    job = JobRun(config, "train")
    run_id = job.start()
    assert job.log_results(results, ["region", "sku"]) == ""
    job.finish(True)

    client = MlflowClient(job.uri)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["metric_rmse_mean"] == 2.0 and metrics["metric_rmse_median"] == 2.0
    assert metrics["seconds_total_mean"] == 1.0  # ok scenarios only
    local = client.download_artifacts(run_id, "tables", str(tmp_path / "download"))
    assert os.listdir(local) == ["results.parquet"]
    logged = pd.read_parquet(os.path.join(local, "results.parquet"))
    assert logged["sku"].tolist() == [0, 2, 1]  # in key order
    assert logged.set_index("sku")["selected_features"].map(list).to_dict() == {0: ["x1"], 1: ["x1", "x2"], 2: []}
    listed = json.loads(client.get_run(run_id).data.tags["mlflow.loggedArtifacts"])
    assert listed == [{"path": "tables/results.parquet", "type": "table"}]  # as mlflow.log_table lists tables
    assert summarize_results(results) == {k: v for k, v in metrics.items() if k in summarize_results(results)}


def test_an_ensemble_is_logged_with_each_members_params(tmp_path):
    rng = np.random.default_rng(2)  # two families whose average validates better (as in test_pipeline)
    data = pd.DataFrame({"region": "north", "sku": 0, "row": np.arange(300), "a": rng.normal(size=300),
                         "b": rng.normal(size=300)})
    data["y"] = 3 * data["a"] + 4 * (data["b"] > 0) + rng.normal(0, 1, 300)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    document = yaml.safe_load(write_config(tmp_path / "c.yaml", data=tmp_path / "data.parquet",
                                           output=tmp_path / "out", tracking_uri=uri).read_text())
    del document["split"]
    document.update(models={"families": ["linear", "random_forest", "lightgbm"]},
                    tuning={"max_evals": 9, "ensemble_size": 2})
    config = parse_config(document)
    keys = {"region": "north", "sku": 0}
    fit = fit_scenario(data, keys, config)
    assert "+" in fit.model.family
    client = MlflowClient(uri)
    experiment = client.create_experiment("ensembles", artifact_location=str(tmp_path / "artifacts"))
    parent = client.create_run(experiment).info.run_id
    published = ModelPublisher(uri, experiment, parent, str(tmp_path / "models"), config)(keys, fit)
    assert published.logging_error == ""
    params = client.get_run(published.mlflow_run_id).data.params
    assert params["family"] == fit.model.family
    expected = {f"{member}.{name}": str(value) for member, values in fit.model.params.items()
                for name, value in values.items()}
    assert expected and expected.items() <= params.items()
