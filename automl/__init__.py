"""automl: Spark-native AutoML for many-models batch work, one tuned model per scenario.

Data flow: ``config`` (YAML) -> ``data`` (Spark master DataFrame) -> ``spark`` (planning, applyInPandas) ->
``scenario`` (pandas pipeline per scenario) -> ``tracking`` (MLflow) and ``outputs`` (results, predictions).
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
