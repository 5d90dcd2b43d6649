"""What a worker does with one scenario's rows: fit, publish, and always return its results row.

:func:`train_one` never raises: a scenario that cannot be modelled is ``skipped`` with the reason, any other
failure is ``failed`` with the error, so one scenario never stops the others.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from automl.config import Config
from automl.results import STEPS, Published, fit_row, problem_row
from automl.scenario.keys import scenario_id, scenario_label, scenario_seed
from automl.scenario.pipeline import ScenarioFit, fit_scenario, predict_scenario
from automl.scenario.pooling import PooledEvidence
from automl.scenario.resources import Stopwatch, limit_threads, peak_rss_mb, reset_peak_rss

__all__ = ["FAULT_INJECTION_VARIABLE", "InjectedFault", "PredictTask", "ScenarioContext", "train_one"]

# Test hook, never a user setting: the driver reads it when a job starts, and this fraction of scenarios
# (chosen by key hash, so reproducibly) raises inside the worker.
FAULT_INJECTION_VARIABLE = "AUTOML_FAULT_INJECTION"


class InjectedFault(RuntimeError):
    """Raised on purpose (``AUTOML_FAULT_INJECTION``) to prove fault isolation."""


@dataclass(frozen=True)
class ScenarioContext:
    """What a scenario needs besides its rows.

    Args:
        config: the use case.
        run_id: the training run this scenario belongs to.
        threads: cores this process owns (``spark.task.cpus`` under Spark); models use exactly these.
        deadline: epoch seconds after which tuning stops early (global job deadline), or None.
        publish: saves and logs a fitted scenario; None keeps the model in memory only.
        fault_fraction: test hook (see ``FAULT_INJECTION_VARIABLE``); 0 in every real run.
        pooled: every scenario's moments summed (:mod:`automl.scenario.pooling`), or None.
    """

    config: Config
    run_id: str = ""
    threads: int = 1
    deadline: float | None = None
    publish: Callable[..., Published] | None = None
    fault_fraction: float = 0.0
    pooled: PooledEvidence | None = None

    @staticmethod
    def injected_faults() -> float:
        """The fault fraction the driver's environment asks for (tests only)."""
        return float(os.environ.get(FAULT_INJECTION_VARIABLE) or 0.0)


def train_one(frame: pd.DataFrame, keys: dict[str, Any], context: ScenarioContext, *,
              retry: bool = False) -> dict[str, Any]:
    """The scenario's results-row columns (see :mod:`automl.results`); never raises.

    ``retry``: an earlier try may have been interrupted while logging this scenario (a lost worker, a killed
    driver); its half-logged MLflow run is replaced rather than left beside the new one.
    """
    started = time.perf_counter()
    reset_peak_rss()
    seconds: dict[str, float] = {}
    config = context.config
    row: dict[str, Any] = {**keys, "run_id": context.run_id, "primary_metric": config.primary_metric,
                           "n_rows": len(frame)}
    try:
        _inject_fault(context, keys)
        with limit_threads(context.threads):
            fit = fit_scenario(frame, keys, config, threads=context.threads, deadline=context.deadline,
                               seconds=seconds, pooled=context.pooled)
        row.update(fit_row(fit, config))
        if context.publish is not None:
            with Stopwatch(seconds)("publish"):
                published = context.publish(keys, fit, replace_partial=retry)
            row.update(model_path=published.model_path, model_uri=published.model_uri,
                       mlflow_run_id=published.mlflow_run_id, logging_error=published.logging_error)
    except Exception as exc:  # fault isolation: report, never propagate
        row.update(problem_row(exc))
    for step in STEPS:
        row[f"seconds_{step}"] = round(seconds.get(step, 0.0), 4)
    row["seconds_total"] = round(time.perf_counter() - started, 4)
    row["peak_memory_mb"] = round(peak_rss_mb(), 1)
    return row


def _inject_fault(context: ScenarioContext, keys: dict[str, Any]) -> None:
    fraction = context.fault_fraction
    if fraction and scenario_seed(context.config.tuning.seed, keys) / 0x7FFFFFFF < fraction:
        raise InjectedFault(f"fault injected into scenario {scenario_label(keys)} ({FAULT_INJECTION_VARIABLE})")


class PredictTask:
    """Scores one scenario's rows with its model: every input row gives exactly one output row (a
    prediction, or a null one with the reason in ``error``). Picklable: Spark ships it to the workers."""

    def __init__(self, config: Config, models: dict[str, tuple[str, str]], columns: list[str], threads: int,
                 untrained: dict[str, str] | None = None) -> None:
        self.config, self.models, self.columns, self.threads = config, models, columns, threads
        self.untrained = untrained or {}  # scenario_id -> why training left it without a model

    def __call__(self, frame: pd.DataFrame, keys: dict[str, Any]) -> pd.DataFrame:
        from automl.tracking import load_scenario_model

        config = self.config
        path, run_id = self.models.get(scenario_id(keys), ("", ""))
        ids = [c for c in config.sample_id_columns if c in frame.columns]
        passthrough = [c for c in config.predict.keep_columns if c not in ids]
        try:
            if not path:
                why = self.untrained.get(scenario_id(keys))
                raise LookupError(f"scenario {scenario_label(keys)} has no trained model ({why})" if why else
                                  f"scenario {scenario_label(keys)} has no trained model (train it, or check the "
                                  f"keys of the prediction input)")
            with limit_threads(self.threads):
                scored = predict_scenario(frame, load_scenario_model(path), config)
            scored = _with_passthrough(scored, frame, ids, passthrough).assign(model_run_id=run_id, error="")
        except Exception as exc:  # every input row is still returned, with the reason it has no prediction
            scored = frame[ids + passthrough].reset_index(drop=True).assign(
                model_run_id=run_id, error=f"{type(exc).__name__}: {exc}")
        for name, value in keys.items():
            scored[name] = value
        for name in self.columns:
            if name not in scored.columns:
                scored[name] = None
        return scored[self.columns]


def _with_passthrough(scored: pd.DataFrame, frame: pd.DataFrame, ids: list[str], passthrough: list[str]) -> pd.DataFrame:
    """Copy ``predict.keep_columns`` from the input rows onto their predictions, matched by sample id (and
    by occurrence among equal ids: such rows are identical, since the default id hashes the whole row)."""
    if not passthrough:
        return scored
    if len(scored) != len(frame):
        raise ValueError(f"{len(frame)} input rows gave {len(scored)} predictions")
    order = "_automl_occurrence"
    left = scored.assign(**{order: scored.groupby(ids, dropna=False).cumcount().to_numpy()})
    right = frame[ids + passthrough].assign(**{order: frame.groupby(ids, dropna=False).cumcount().to_numpy()})
    for column in ids:  # the pipeline parses the time column into datetimes; match on the same type
        if pd.api.types.is_datetime64_any_dtype(left[column]) and not pd.api.types.is_datetime64_any_dtype(right[column]):
            right[column] = pd.to_datetime(right[column])
    merged = left.merge(right, on=[*ids, order], how="left", validate="one_to_one")
    return merged.drop(columns=order)
