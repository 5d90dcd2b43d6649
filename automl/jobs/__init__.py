"""The job layer: what to train or score, counts and status, the run's record. No pyspark import here:
the work over scenarios goes through an engine (:mod:`automl.jobs.engine`; Spark's is
:mod:`automl.spark.engine`).

Every entry point (CLI, ``jobs/*.py`` for spark-submit, Databricks notebooks) calls these functions.
"""
from automl.jobs.debug import debug, list_scenarios
from automl.jobs.engine import Selection
from automl.jobs.predict import predict
from automl.jobs.summary import JobSummary
from automl.jobs.train import train

__all__ = ["JobSummary", "Selection", "debug", "list_scenarios", "predict", "train"]
