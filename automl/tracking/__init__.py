"""Every MLflow call in one place, one job per module.

- :mod:`~automl.tracking.store`: the tracking URI, a fail-fast check, SQLite tuning, one client per process.
- :mod:`~automl.tracking.retry`: transient failures retried with backoff; a breaker for a dead server.
- :mod:`~automl.tracking.runs`: the job's parent run (params, results table, summaries, end).
- :mod:`~automl.tracking.publish`: per-scenario saving and (``mlflow.scenario_runs``) child runs.
- :mod:`~automl.tracking.pyfunc`: a scenario model on disk (pyfunc directory or pickle file), loaded back.
- :mod:`~automl.tracking.many_model` and :mod:`~automl.tracking.register`: every champion as one routing
  pyfunc, registered in the Model Registry under an alias.
"""
from __future__ import annotations

from automl.tracking.many_model import ManyModel
from automl.tracking.publish import ModelPublisher
from automl.tracking.pyfunc import (
           ScenarioPyfunc,
           load_scenario_model,
           save_scenario_model,
)
from automl.tracking.register import log_many_model
from automl.tracking.retry import with_retries
from automl.tracking.runs import JobRun
from automl.tracking.store import check_tracking, tracking_uri

__all__ = ["JobRun", "ManyModel", "ModelPublisher", "ScenarioPyfunc", "check_tracking", "load_scenario_model",
           "log_many_model", "save_scenario_model", "tracking_uri", "with_retries"]
