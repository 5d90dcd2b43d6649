"""automl: Spark-native AutoML for many-models batch work, one tuned model per scenario.

Data flow: ``config`` (YAML) -> ``data`` (the Spark master DataFrame) -> ``jobs`` (what to train or score; no
Spark) over ``spark.engine`` (planning, applyInPandas) -> ``scenario`` (the pandas pipeline per scenario) ->
``results`` (one row per scenario) -> ``rundir``, ``modelset``, ``report`` and ``tracking`` (MLflow).
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
