"""Result and prediction table schemas, in one place (Spark DDL, so they serve Spark and the docs alike).

Training writes one row per scenario; prediction one row per input row. Scenario key columns come first,
with the types they have in the master DataFrame.
"""
from __future__ import annotations

from automl.config import Config
from automl.scenario.pipeline import STEPS

__all__ = ["STATUSES", "prediction_columns", "result_columns", "to_ddl"]

STATUSES = ("ok", "failed", "skipped")

_RESULT_HEAD = [
    ("run_id", "string"),
    ("status", "string"),          # ok | failed | skipped
    ("error", "string"),           # empty when ok; the reason when skipped
    ("error_type", "string"),
    ("traceback", "string"),
    ("primary_metric", "string"),
    ("score", "double"),           # primary metric on the holdout
    ("baseline_score", "double"),  # the naive baseline's primary metric on the same holdout
    ("beats_baseline", "boolean"),
]

_RESULT_TAIL = [
    ("best_family", "string"),
    ("best_params", "string"),     # JSON
    ("leaderboard", "string"),     # JSON: family -> best validation score
    ("selected_features", "array<string>"),
    ("n_rows", "long"),
    ("n_train", "long"),
    ("n_test", "long"),
    ("n_evals", "long"),
    ("seed", "long"),
    *[(f"seconds_{step}", "double") for step in STEPS],
    ("seconds_total", "double"),
    ("peak_memory_mb", "double"),
    ("model_path", "string"),
    ("model_uri", "string"),
    ("mlflow_run_id", "string"),
    ("logging_error", "string"),
    ("data_fingerprint", "string"),
    ("executor_id", "string"),
    ("partition_id", "long"),
    ("attempt", "long"),
]


def result_columns(config: Config, key_types: dict[str, str]) -> list[tuple[str, str]]:
    """Columns of the training results table, reported metrics included (``metric_<name>``)."""
    keys = [(k, key_types[k]) for k in config.scenario_keys]
    metrics = [(f"metric_{name}", "double") for name in config.report_metrics]
    return keys + _RESULT_HEAD + metrics + _RESULT_TAIL


def prediction_columns(config: Config, column_types: dict[str, str]) -> list[tuple[str, str]]:
    """Columns of the predictions table: keys, sample ids, prediction (+ probabilities), model run, error."""
    ids = [(c, column_types[c]) for c in config.sample_id_columns]
    keys = [(k, column_types[k]) for k in config.scenario_keys]
    if config.task == "regression":
        scored = [("prediction", "double")]
    else:
        scored = [("prediction", column_types.get(config.target, "string")), ("probability", "double"),
                  ("class_probabilities", "string")]
    return keys + ids + scored + [("model_run_id", "string"), ("error", "string")]


def to_ddl(columns: list[tuple[str, str]]) -> str:
    """``a long, b string`` for ``applyInPandas`` and ``createDataFrame``."""
    return ", ".join(f"`{name}` {kind}" for name, kind in columns)
