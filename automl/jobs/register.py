"""``automl register``: every champion of the model set as one MLflow model, registered under an alias.

The registered model routes each input row to its scenario's champion by the scenario keys, so a serving
endpoint or ``mlflow.pyfunc.spark_udf`` scores any mix of scenarios (see :mod:`automl.tracking.register`).
"""
from __future__ import annotations

from typing import Any

from automl.config import Config
from automl.errors import ConfigError
from automl.jobs.engine import Engine, Selection
from automl.jobs.train import spark_engine
from automl.modelset import ModelSet

__all__ = ["register"]

_EXAMPLE_ROWS = 5


def register(config: Config, *, engine: Engine | None = None, spark: Any = None, name: str | None = None,
             alias: str | None = None) -> dict[str, str]:
    """Log and register the champions; returns the model URI (``models:/<name>@<alias>``), version and run.

    Example:
        >>> register(load_config("configs/demand.yaml"), name="demand")["model_uri"]  # doctest: +SKIP
        'models:/demand@champion'
    """
    from automl.tracking import tracking_uri  # mlflow imports pyspark: only when a job runs
    from automl.tracking.register import log_many_model

    name = name or config.mlflow.registered_model
    if not name:
        raise ConfigError(f"{config.name}: no model name to register under: pass --name or set "
                          f"mlflow.registered_model")
    model_set = ModelSet.read(config.output_path)
    engine = engine or spark_engine(config, spark)
    scenarios = engine.scenarios(Selection(), for_prediction=True)
    return log_many_model(config, model_set.champions, input_example=scenarios.head(_EXAMPLE_ROWS),
                          input_types=scenarios.column_types, registered_name=name,
                          alias=alias or config.mlflow.registered_alias, tracking_uri=tracking_uri(config),
                          untrained=model_set.untrained_reasons())
