"""The job layer: what to train or score, counts and status, the run's record. No pyspark import here:
the work over scenarios goes through an engine (:mod:`automl.spark.engine`)."""
