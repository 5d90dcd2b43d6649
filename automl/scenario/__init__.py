"""Per-scenario AutoML in pandas only: this package never imports pyspark.

The same code runs inside Spark's ``applyInPandas`` and in a plain Python process (``automl debug``);
the entry point is :func:`automl.scenario.pipeline.fit_scenario`.
"""
