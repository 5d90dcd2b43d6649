"""A scenario model on disk, in one of two forms, and read back from either.

- ``per_scenario`` runs save an MLflow pyfunc directory per scenario (``mlflow.pyfunc.load_model(path)``
  works on it, and it is what a child run uploads).
- ``scenario_runs: none`` saves one pickle file per scenario (``<slug>.pkl``): no MLmodel, conda and
  requirements files to write, which is most of a pyfunc save's cost; the registered many-model
  (:mod:`automl.tracking.many_model`) bundles these files as they are.

:func:`load_scenario_model` reads both.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from collections.abc import Iterator
from typing import Any

import cloudpickle
import mlflow
import pandas as pd

import automl
from automl.config import Config
from automl.errors import DataError
from automl.scenario.model import ScenarioModel
from automl.scenario.pipeline import predict_scenario

__all__ = ["MODEL_FILE_SUFFIX", "ScenarioPyfunc", "load_scenario_model", "model_bytes", "model_from_bytes",
           "quiet_pyfunc_save", "save_scenario_file", "save_scenario_model"]

MODEL_FILE_SUFFIX = ".pkl"
# Stored with each pickled model: a reader meeting another format or version says so instead of guessing.
_FORMAT = "automl.scenario_model"
_VERSION = 1


class ScenarioPyfunc(mlflow.pyfunc.PythonModel):
    """MLflow pyfunc face of a scenario model: ``predict(rows)`` returns sample ids and predictions."""

    def __init__(self, model: ScenarioModel, config: Config) -> None:
        self.model = model
        self.config = config

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_scenario(model_input, self.model, self.config)


def save_scenario_model(model: ScenarioModel, config: Config, path: str) -> None:
    """Write the model in MLflow's pyfunc format (loadable with ``mlflow.pyfunc.load_model(path)``)."""
    if os.path.exists(path):
        shutil.rmtree(path)  # a retried scenario replaces its earlier attempt
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.tmp-{os.getpid()}"
    with quiet_pyfunc_save():
        # The distribution, not the import name: the public index's "automl" is an unrelated project. Listing
        # it skips MLflow's slow requirement inference; the registered many-model carries the built wheel.
        mlflow.pyfunc.save_model(staging, python_model=ScenarioPyfunc(model, config),
                                 pip_requirements=[f"automl-many-models=={automl.__version__}"])
    os.replace(staging, path)


def save_scenario_file(model: ScenarioModel, path: str) -> None:
    """Write the model as one pickle file, atomically: a reader sees the old file or the new one, never half."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staging = f"{path}.tmp-{os.getpid()}"
    with open(staging, "wb") as out:
        out.write(cloudpickle.dumps({"format": _FORMAT, "version": _VERSION, "model": model}))
    os.replace(staging, path)


def model_bytes(path: str) -> bytes:
    """The model saved at ``path`` (either form) as the bytes of a model file, for bundling.

    A pickle file is returned as it is (no unpickling); a pyfunc directory is loaded and pickled.
    """
    if os.path.isfile(path):
        with open(path, "rb") as saved:
            return saved.read()
    return cloudpickle.dumps({"format": _FORMAT, "version": _VERSION, "model": load_scenario_model(path)})


def model_from_bytes(data: bytes, where: str) -> ScenarioModel:
    """The model in a model file's bytes; ``where`` names the file in the error a foreign file gets."""
    saved = cloudpickle.loads(data)
    if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
        raise DataError(f"{where} is not an automl scenario model file")
    if saved.get("version") != _VERSION:
        raise DataError(f"{where} holds a scenario model of file version {saved.get('version')!r}; this version "
                        f"of automl reads version {_VERSION}: retrain the scenario or use the version that wrote it")
    return saved["model"]


@functools.lru_cache(maxsize=64)
def load_scenario_model(path_or_uri: str) -> ScenarioModel:
    """The scenario model saved at a path (pickle file or pyfunc directory) or a ``runs:/`` URI, cached per process."""
    if os.path.isfile(path_or_uri):
        with open(path_or_uri, "rb") as saved:
            return model_from_bytes(saved.read(), path_or_uri)
    return mlflow.pyfunc.load_model(path_or_uri).unwrap_python_model().model


@contextlib.contextmanager
def quiet_pyfunc_save() -> Iterator[None]:
    """Without the warnings below while a pyfunc model of ours is saved or logged."""
    pyfunc_log = logging.getLogger("mlflow.pyfunc")
    pyfunc_log.addFilter(_expected_save_warnings)
    try:
        yield
    finally:
        pyfunc_log.removeFilter(_expected_save_warnings)


def _expected_save_warnings(record: logging.LogRecord) -> bool:
    """Drop the two warnings ``save_model`` gives for every scenario (thousands of lines in executor logs).

    Both are expected here: the model is a pickled Python object by design (scenario models are not code
    files), and its signature depends on each scenario's selected features, so there is no static one.
    """
    message = record.getMessage()
    return not message.startswith(("Passing a Python object as `python_model`", "Failed to infer model signature"))
