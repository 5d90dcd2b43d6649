"""The results row: one per scenario and run, its columns and types, and every way a row is made or read.

A fitted scenario, a scenario skipped with a reason and a failed one all become a row here, and a row becomes
a fit again here (to re-log a model on resume). Columns are Spark DDL types, so the same list serves the
engine's schema, the checkpoints and the docs. Scenario key columns come first, with their master-frame types.
"""
from __future__ import annotations

import json
import re
import traceback
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from automl.config import Config
from automl.errors import ConfigError, ScenarioError
from automl.scenario.metrics import to_loss
from automl.scenario.model import ScenarioModel
from automl.scenario.pipeline import PIPELINE_STEPS, ScenarioFit

__all__ = ["STATUSES", "STEPS", "TABLE_ONLY", "Published", "arrow_schema", "blank_row", "check_key_names",
           "fit_from_row", "fit_row",
           "prediction_columns", "problem_row", "result_columns", "to_ddl"]

# ok: trained now; unchanged: not retrained (--changed-only), its champion stands; skipped: data it cannot
# model, with the reason; failed: an error, with its traceback.
STATUSES = ("ok", "unchanged", "failed", "skipped")
STEPS = (*PIPELINE_STEPS, "publish")
_TRACEBACK_CHARS = 4000

_RESULT_HEAD = [
    ("scenario_id", "string"),     # the scenario's identity (automl.scenario.keys.scenario_id)
    ("run_id", "string"),
    ("status", "string"),          # ok | failed | skipped
    ("error", "string"),           # empty when ok; the reason when skipped
    ("error_type", "string"),
    ("traceback", "string"),
    ("primary_metric", "string"),
    ("score", "double"),           # primary metric on the holdout
    ("baseline_score", "double"),  # the naive baseline's primary metric on the same holdout
    ("baseline_name", "string"),   # the naive forecast to beat (damped_trend, naive_last, naive_mean, ...)
    ("beats_baseline", "boolean"),
]

_RESULT_TAIL = [
    ("best_family", "string"),
    ("best_params", "string"),     # JSON
    ("leaderboard", "string"),     # JSON: family -> best validation score
    ("rejected_on_holdout", "string"),  # what validated better than the default forecast but lost to it there
    ("selected_features", "array<string>"),
    ("importances", "string"),     # JSON: feature -> importance in the final model, top 20
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
    ("champion_run_id", "string"),  # the run whose model predict uses for this scenario after this run
    ("champion_note", "string"),    # promoted | why the earlier champion was kept
    ("data_fingerprint", "string"),
    ("executor_id", "string"),
    ("partition_id", "long"),
    ("attempt", "long"),
    ("holdout", "string"),         # JSON records of the holdout rows; moved to the holdout table at the end
]
# Columns that travel with a row (checkpoints, Spark) but are not part of the results table.
TABLE_ONLY = ("holdout",)


@dataclass(frozen=True)
class Published:
    """Where a scenario's model went; ``logging_error`` is set when MLflow refused it (model kept on disk)."""

    model_path: str = ""
    model_uri: str = ""
    mlflow_run_id: str = ""
    logging_error: str = ""


def check_key_names(config: Config) -> None:
    """Scenario keys become columns of the results and predictions tables: none may take a name those
    tables use for something else."""
    reserved = {name for name, _ in _RESULT_HEAD + _RESULT_TAIL}
    reserved |= {"prediction", "probability", "class_probabilities", "model_run_id", "error"}
    reserved |= {f"metric_{name}" for name in config.report_metrics}
    clash = sorted(set(config.scenario_keys) & reserved)
    if clash:
        raise ConfigError(f"{config.name}: scenario_keys {clash} clash with columns the results or predictions "
                          f"tables add; rename them with a stream's derive (e.g. derive: {{{clash[0]}_key: "
                          f"{clash[0]}}}) and use the new name")


def result_columns(config: Config, key_types: dict[str, str]) -> list[tuple[str, str]]:
    """Columns of the training results table, reported metrics included (``metric_<name>``)."""
    keys = [(k, key_types[k]) for k in config.scenario_keys]
    metrics = [(f"metric_{name}", "double") for name in config.report_metrics]
    return keys + _RESULT_HEAD + metrics + _RESULT_TAIL


def prediction_columns(config: Config, column_types: dict[str, str]) -> list[tuple[str, str]]:
    """Columns of the predictions table: keys, sample ids, ``predict.keep_columns`` copied from the input,
    prediction (+ probabilities), the model's run, and the error that left a row without a prediction."""
    ids = [(c, column_types[c]) for c in config.sample_id_columns]
    ids += [(c, column_types[c]) for c in config.predict.keep_columns if c not in config.sample_id_columns]
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


_ARROW_TYPES = {
    "string": pa.string(), "double": pa.float64(), "float": pa.float32(), "boolean": pa.bool_(),
    "bigint": pa.int64(), "long": pa.int64(), "int": pa.int32(), "smallint": pa.int16(), "tinyint": pa.int8(),
    "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"), "timestamp_ntz": pa.timestamp("us"),
    "array<string>": pa.list_(pa.string()), "binary": pa.binary(),
}


def arrow_schema(columns: list[tuple[str, str]]) -> pa.Schema:
    """The Arrow schema of ``columns`` (Spark simple type strings): how checkpoints are read back typed."""
    fields = []
    for name, kind in columns:
        decimal_type = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", kind)
        if decimal_type:
            arrow = pa.decimal128(int(decimal_type.group(1)), int(decimal_type.group(2)))
        elif kind in _ARROW_TYPES:
            arrow = _ARROW_TYPES[kind]
        else:
            raise TypeError(f"column {name!r}: type {kind!r} is not supported as a scenario key")
        fields.append(pa.field(name, arrow))
    return pa.schema(fields)


def blank_row(columns: list[str]) -> dict[str, Any]:
    """A row of ``columns`` with nothing measured yet: nulls, and zero seconds for every step."""
    row: dict[str, Any] = dict.fromkeys(columns)
    row.update({f"seconds_{step}": 0.0 for step in STEPS})
    return row


def fit_row(fit: ScenarioFit, config: Config) -> dict[str, Any]:
    """The columns a successful fit fills: holdout metrics against the baseline, the model and its sizes."""
    primary = config.primary_metric
    columns: dict[str, Any] = {f"metric_{name}": value for name, value in fit.metrics.items()}
    columns.update(
        status="ok", error="", error_type="", traceback="",
        score=fit.metrics[primary], baseline_score=fit.baseline[primary],
        beats_baseline=bool(to_loss(primary, fit.metrics[primary]) < to_loss(primary, fit.baseline[primary])),
        best_family=fit.model.family, best_params=json.dumps(fit.model.params, sort_keys=True, default=str),
        leaderboard=json.dumps(fit.leaderboard), selected_features=list(fit.model.features),
        n_rows=fit.n_rows, n_train=fit.n_train, n_test=fit.n_test, n_evals=fit.n_evals, seed=fit.seed)
    columns["baseline_name"] = fit.baseline_name
    columns["rejected_on_holdout"] = fit.rejected
    if fit.importances:
        columns["importances"] = json.dumps({k: round(float(v), 6) for k, v in fit.importances.items()})
    if len(fit.holdout):
        columns["holdout"] = fit.holdout.to_json(orient="split", index=False, date_format="iso", double_precision=6)
    return columns


def problem_row(exc: BaseException) -> dict[str, Any]:
    """The columns of a scenario that did not train: ``skipped`` with the reason for data it cannot model
    (:class:`ScenarioError`), ``failed`` with the error and a trimmed traceback for anything else."""
    if isinstance(exc, ScenarioError):
        return {"status": "skipped", "error": str(exc), "error_type": type(exc).__name__, "traceback": ""}
    text = traceback.format_exc()
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:_TRACEBACK_CHARS],
            "error_type": type(exc).__name__,
            "traceback": text if len(text) <= _TRACEBACK_CHARS else "...\n" + text[-_TRACEBACK_CHARS:]}


def fit_from_row(model: ScenarioModel, row: dict[str, Any], config: Config) -> ScenarioFit:
    """A fit as its results row remembers it (to re-log a saved model on resume): the baseline of the primary
    metric only, since the row keeps no other."""
    metrics = {k[len("metric_"):]: float(v) for k, v in row.items() if k.startswith("metric_") and v is not None}
    baseline = {config.primary_metric: float(row["baseline_score"])} if row.get("baseline_score") is not None else {}
    leaderboard = json.loads(row["leaderboard"]) if row.get("leaderboard") else {}
    seconds = {k[len("seconds_"):]: float(v) for k, v in row.items()
               if k.startswith("seconds_") and k not in ("seconds_total", "seconds_publish") and v is not None}
    return ScenarioFit(model, metrics, baseline, leaderboard, int(row.get("n_evals") or 0), int(row.get("n_rows") or 0),
                       int(row.get("n_train") or 0), int(row.get("n_test") or 0), int(row.get("seed") or 0), seconds)
