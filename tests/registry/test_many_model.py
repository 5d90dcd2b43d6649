"""One registered many-model: logged with a signature, registered under an alias, loaded back by alias, and
scoring every scenario exactly as its own champion does; bad input registers nothing.

Real MLflow (a SQLite store under tmp_path), real fitted scenarios, real Spark for ``spark_udf``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from automl.config import parse_config
from automl.errors import DataError, TrackingError
from automl.scenario.keys import scenario_id
from automl.scenario.pipeline import fit_scenario, predict_scenario
from automl.tracking import load_scenario_model, log_many_model, save_scenario_model
from automl.tracking.pyfunc import save_scenario_file
from automl.tracking.register import project_wheel

STORES = (1, 2, 3)
TRAIN_WEEKS, FUTURE_WEEKS = 60, 4
INPUT_TYPES = {"store": "bigint", "week": "timestamp", "promo": "bigint", "price": "double", "region": "string",
               "units": "double"}


def _config(tmp_path):
    return parse_config({
        "name": "demand", "task": "regression", "scenario_keys": ["store"], "target": "units",
        "time_column": "week", "data": {"streams": [{"name": "sales", "path": "sales.parquet"}]},
        "split": {"test_size": FUTURE_WEEKS, "validation_size": FUTURE_WEEKS, "min_train_rows": 10},
        "features": {"target_lags": [4], "target_windows": [3]},
        "models": {"families": ["linear"]}, "tuning": {"max_evals": 2},
        "output": {"path": str(tmp_path / "out")},
    }, source="test")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """This checkout's wheel, built once for the module (the default path of project_wheel)."""
    path = project_wheel()
    kept = tmp_path_factory.mktemp("wheel") / os.path.basename(path)
    shutil.copy(path, kept)
    return str(kept)


@pytest.fixture
def trained(tmp_path, weekly_frame):
    """Three champions (store 1 saved as a pyfunc directory, 2 and 3 as pickle files) and each store's future."""
    config = _config(tmp_path)
    rows, futures = [], {}
    for store in STORES:
        frame = weekly_frame(TRAIN_WEEKS + FUTURE_WEEKS, seed=store).assign(store=store)
        fit = fit_scenario(frame.head(TRAIN_WEEKS), {"store": store}, config)
        path = str(tmp_path / "models" / f"store-{store}")
        if store == 1:
            save_scenario_model(fit.model, config, path)
        else:
            path += ".pkl"
            save_scenario_file(fit.model, path)
        futures[store] = frame.tail(FUTURE_WEEKS).drop(columns="units")
        rows.append({"store": store, "scenario_id": scenario_id({"store": store}), "model_path": path,
                     "run_id": f"run{store}", "trained_at": pd.Timestamp("2024-01-01"), "data_fingerprint": "f",
                     "score": fit.metrics["rmse"], "baseline_score": fit.baseline["rmse"], "beats_baseline": True})
    example = weekly_frame(3, seed=9).assign(store=1)
    return config, pd.DataFrame(rows), futures, example


def _register(config, champions, example, tmp_path, wheel, **changes):
    arguments = {"input_example": example, "input_types": INPUT_TYPES, "registered_name": "demand",
                 "alias": "champion", "tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "wheel": wheel, **changes}
    return log_many_model(config, champions, **arguments)


def _expected(config, champions, futures) -> pd.DataFrame:
    """Each store's future scored by its own champion, one scenario at a time."""
    parts = []
    for row in champions.itertuples():
        scored = predict_scenario(futures[row.store], load_scenario_model(row.model_path), config)
        parts.append(scored.assign(store=row.store))
    return pd.concat(parts, ignore_index=True)


def _mixed_input(futures) -> pd.DataFrame:
    """Every store's future rows, shuffled together with two rows of store 9, which has no champion."""
    unknown = futures[1].head(2).assign(store=9)
    return pd.concat([*futures.values(), unknown], ignore_index=True).sample(frac=1.0, random_state=3)


def test_registered_by_alias_it_scores_every_scenario_like_its_champion(trained, tmp_path, wheel):
    config, champions, futures, example = trained
    reason = "training run r7: skipped: too few rows: 3 rows with a target"
    registered = _register(config, champions, example, tmp_path, wheel,
                           untrained={scenario_id({"store": 9}): reason})
    assert registered["model_uri"] == "models:/demand@champion" and registered["version"] == "1"

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/demand@champion")
    rows = _mixed_input(futures)
    out = model.predict(rows)

    assert list(out.columns) == ["store", "week", "prediction", "model_run_id", "error"]
    assert len(out) == len(rows)
    assert (out["week"].to_numpy() == rows["week"].to_numpy()).all(), "one output row per input row, in order"
    known = out[out["store"] != 9].merge(_expected(config, champions, futures), on=["store", "week"],
                                         suffixes=("", "_own"))
    assert len(known) == len(STORES) * FUTURE_WEEKS
    np.testing.assert_allclose(known["prediction"], known["prediction_own"], rtol=1e-12)
    assert (known["error"] == "").all() and (known["model_run_id"] == "run" + known["store"].astype(str)).all()
    unknown = out[out["store"] == 9]
    assert len(unknown) == 2 and unknown["prediction"].isna().all()
    assert (unknown["error"] == f"LookupError: scenario store=9 has no champion model in this many-model "
                                f"({reason})").all()

    signature = model.metadata.get_input_schema()
    assert set(signature.required_input_names()) >= {"store", "week", "promo", "price"}
    assert "units" in signature.input_names() and "units" not in signature.required_input_names()
    assert model.metadata.get_output_schema().input_names() == list(out.columns)
    with open(mlflow.pyfunc.get_model_dependencies("models:/demand@champion")) as listed:
        requirements = listed.read().splitlines()
    assert f"artifacts/{os.path.basename(wheel)}" in requirements
    assert not [r for r in requirements if r.split("=")[0].strip().lower() == "automl"]


def test_a_missing_input_column_is_named(trained, tmp_path, wheel):
    config, champions, futures, example = trained
    _register(config, champions, example, tmp_path, wheel)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    loaded = mlflow.pyfunc.load_model("models:/demand@champion")
    with pytest.raises(Exception, match="price"):
        loaded.predict(futures[1].drop(columns="price"))
    with pytest.raises(DataError, match=r"lacks columns \['price'\]"):
        loaded.unwrap_python_model().score(futures[1].drop(columns="price"))


# --- bad input: a clear error, nothing registered --------------------------------------------------------------

def test_no_champions_is_refused_before_mlflow(trained, tmp_path):
    config, champions, _, example = trained
    with pytest.raises(DataError, match="no champion models to register for use case 'demand'"):
        _register(config, champions.head(0), example, tmp_path, wheel=None)
    assert not (tmp_path / "mlflow.db").exists()


def test_a_deleted_model_file_is_named_and_nothing_is_registered(trained, tmp_path):
    config, champions, _, example = trained
    lost = champions.loc[champions["store"] == 2, "model_path"].item()
    os.remove(lost)
    with pytest.raises(DataError, match=rf"1 of 3 champion models cannot be registered: store=2: model file "
                                        rf"'{lost}' is missing.*nothing was registered"):
        _register(config, champions, example, tmp_path, wheel=None)
    assert not (tmp_path / "mlflow.db").exists()


def test_a_name_or_alias_the_registry_refuses_leaves_the_registry_as_it_was(trained, tmp_path, wheel):
    config, champions, _, example = trained
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(TrackingError, match=r"refused registered model 'demand' with alias 'v1' \(.*reserved"):
        _register(config, champions, example, tmp_path, wheel, alias="v1")
    assert client.search_registered_models() == []  # the registered model it created is gone again

    _register(config, champions, example, tmp_path, wheel)
    with pytest.raises(TrackingError, match=r"alias 'latest' \(.*reserved.*nothing was registered"):
        _register(config, champions, example, tmp_path, wheel, alias="latest")
    assert [str(v.version) for v in client.search_model_versions("name='demand'")] == ["1"]
    assert str(client.get_model_version_by_alias("demand", "champion").version) == "1"

    with pytest.raises(TrackingError, match=r"refused registered model 'team/demand'.*cannot contain '/'"):
        _register(config, champions, example, tmp_path, wheel, registered_name="team/demand")
    assert [m.name for m in client.search_registered_models()] == ["demand"]


# --- Spark and a fresh environment -----------------------------------------------------------------------------

@pytest.mark.spark
def test_spark_udf_scores_like_pandas(trained, tmp_path, wheel, spark):
    from pyspark.sql.functions import struct

    config, champions, futures, example = trained
    _register(config, champions, example, tmp_path, wheel)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    rows = _mixed_input(futures)
    expected = mlflow.pyfunc.load_model("models:/demand@champion").predict(rows)

    # A scenario's future rows must reach the model together (target lags reach back over them).
    frame = spark.createDataFrame(rows).repartition(2, "store")
    udf = mlflow.pyfunc.spark_udf(spark, "models:/demand@champion",
                                  result_type="prediction double, model_run_id string, error string")
    scored = (frame.withColumn("out", udf(struct(*frame.columns))).select("store", "week", "out.*").toPandas())

    both = scored.merge(expected, on=["store", "week"], suffixes=("_spark", ""))
    assert len(both) == len(rows)
    np.testing.assert_allclose(both["prediction_spark"], both["prediction"], rtol=1e-12)  # NaN == NaN here
    assert (both["error_spark"] == both["error"]).all()
    assert (both["model_run_id_spark"] == both["model_run_id"]).all()


@pytest.mark.cluster
def test_a_fresh_virtualenv_with_only_the_wheel_scores_the_same(trained, tmp_path, wheel):
    config, champions, futures, example = trained
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    _register(config, champions, example, tmp_path, wheel)
    rows = _mixed_input(futures)
    rows.to_parquet(tmp_path / "rows.parquet")
    mlflow.set_tracking_uri(uri)
    expected = mlflow.pyfunc.load_model("models:/demand@champion").predict(rows)

    started = time.monotonic()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    # --no-compile: byte-compiling a hundred dependencies is most of an install's time, and none is needed
    installed = subprocess.run([python, "-m", "pip", "install", "-q", "--no-compile", wheel], capture_output=True,
                               text=True, timeout=1200, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    installing = time.monotonic() - started
    script = tmp_path / "score.py"
    script.write_text(
        "import sys, mlflow, pandas as pd, automl\n"
        "assert 'site-packages' in automl.__file__, automl.__file__\n"
        f"mlflow.set_tracking_uri({uri!r})\n"
        "model = mlflow.pyfunc.load_model('models:/demand@champion')\n"
        "model.predict(pd.read_parquet(sys.argv[1])).to_parquet(sys.argv[2])\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    scored = subprocess.run([python, str(script), str(tmp_path / "rows.parquet"), str(tmp_path / "out.parquet")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert scored.returncode == 0, scored.stderr[-3000:]
    print(f"\nfresh virtualenv: venv + pip install of the wheel {installing:.0f}s, "
          f"load and score {time.monotonic() - started - installing:.0f}s")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), expected.reset_index(drop=True))
