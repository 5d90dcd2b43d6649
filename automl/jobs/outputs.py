"""A run's files beyond its results table: the holdout table and the HTML report (also logged to MLflow).

Both are driver-side pandas work: the holdout rows travel inside each scenario's results row (a JSON column)
and are written here as one parquet table; the report reads the run directory, so ``automl report`` can
rebuild it for any run, crashed ones included.
"""
from __future__ import annotations

import glob
import json
import logging
import os
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from automl.config import Config
from automl.errors import AutoMLError
from automl.modelset import ModelSet
from automl.report import build_predict_report, build_train_report, write_report
from automl.rundir import RunDirectory, list_runs, read_manifest, staging_path, swap_into_place

__all__ = ["publish_report", "read_holdout", "read_table", "rebuild_report", "write_holdout"]

log = logging.getLogger(__name__)


def write_holdout(results: pd.DataFrame, run_dir: RunDirectory, config: Config) -> str:
    """One parquet table of every scenario's holdout rows (keys, scenario_id, time / sample ids, actual,
    prediction, baseline[, probability]); returns its path ("" when no scenario kept any).

    Parsed with the json module into one DataFrame per set of columns, not one per scenario: pandas' JSON
    reader cost 2 ms a scenario, 20 s of a 10,000-scenario job (docs/benchmarks.md); it also turned text ids
    such as "007" into numbers.
    """
    owners = [*config.scenario_keys, "scenario_id"]
    kept = results[results["holdout"].notna()].reset_index(drop=True)
    blocks: dict[tuple[str, ...], tuple[list[list[Any]], list[int], list[int]]] = {}
    for position, text in enumerate(kept["holdout"]):
        table = json.loads(text)
        data, positions, counts = blocks.setdefault(tuple(table["columns"]), ([], [], []))
        data.extend(table["data"])
        positions.append(position)
        counts.append(len(table["data"]))
    if not blocks:
        return ""
    parts = []
    for columns, (data, positions, counts) in blocks.items():
        frame = pd.DataFrame(data, columns=list(columns))
        for name in owners:  # each scenario's key values on each of its rows, in their own types
            frame[name] = np.repeat(kept[name].to_numpy()[positions], counts)
        parts.append(frame)
    holdout = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    for column in {config.time_column, config.split.order_by} & set(holdout.columns):
        holdout[column] = pd.to_datetime(holdout[column])
    holdout = holdout[[*owners, *(c for c in holdout.columns if c not in owners)]]
    path = run_dir.table("holdout")
    staging = staging_path(path)
    os.makedirs(staging)
    pq.write_table(pa.Table.from_pandas(holdout, preserve_index=False), os.path.join(staging, "part-0.parquet"))
    swap_into_place(staging, path)
    return path


def read_holdout(run_dir: RunDirectory) -> pd.DataFrame | None:
    path = run_dir.table("holdout")
    return pq.read_table(path).to_pandas() if os.path.isdir(path) else None


def read_table(path: str) -> pd.DataFrame | None:
    """A parquet table the engine wrote (None when missing or in another format)."""
    if not glob.glob(os.path.join(path, "*.parquet")):
        return None
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError):
        return None


def publish_report(run_dir: RunDirectory, manifest: dict[str, Any], config: Config, job: Any, *,
                   table: pd.DataFrame | None = None) -> str:
    """Build the run's report.html, log it to the MLflow parent run; returns its path ("" if it failed:
    a report never fails the job whose results are already written)."""
    try:
        html = _build(run_dir, manifest, config, table)
        path = str(write_report(html, run_dir.report))
    except Exception as exc:  # the results are safe; say so and go on
        log.warning("the run report could not be written: %s: %s", type(exc).__name__, exc)
        return ""
    if job is not None:
        try:
            job.log_artifact(path)
        except Exception as exc:
            log.warning("report.html not logged to MLflow (%s); it is at %s", exc, path)
    return path


def rebuild_report(config: Config, run_id: str | None = None) -> str:
    """``automl report``: build the report of run ``run_id`` (default: the newest run) again."""
    if run_id is None:
        runs = list_runs(config.output_path)
        if not runs:
            raise AutoMLError(f"no run under {os.path.abspath(config.output_path)}: run 'automl train' first")
        run_id = str(runs[0]["run_id"])
    run_dir = RunDirectory(config.output_path, run_id)
    manifest = read_manifest(run_dir.root)
    if not manifest:
        raise AutoMLError(f"no run {run_id!r} under {os.path.abspath(config.output_path)} (list runs with "
                          f"'automl runs --config <file>')")
    return str(write_report(_build(run_dir, manifest, config, None), run_dir.report))


def _champion_holdouts(config: Config) -> pd.DataFrame | None:
    """The holdout rows behind every champion: the history a forecast is drawn after."""
    model_set = ModelSet.read(config.output_path, required=False)
    if model_set is None:
        return None
    parts = []
    for run_id, champions in model_set.champions.groupby("run_id"):
        holdout = read_holdout(RunDirectory(config.output_path, str(run_id)))
        if holdout is not None:
            parts.append(holdout[holdout["scenario_id"].isin(set(champions["scenario_id"]))])
    return pd.concat(parts, ignore_index=True) if parts else None


def _build(run_dir: RunDirectory, manifest: dict[str, Any], config: Config, table: pd.DataFrame | None) -> str:
    keys, time_column = config.scenario_keys, config.time_column
    if manifest.get("kind") == "predict":
        predictions = read_table(run_dir.table("predictions"))
        if predictions is None:
            predictions = pd.DataFrame(columns=[*keys, "prediction", "error"])
        return build_predict_report(predictions, manifest, scenario_keys=keys, task=config.task,
                                    time_column=time_column, history=_champion_holdouts(config))
    results = table if table is not None else read_table(run_dir.table("results"))
    if results is None:
        results = run_dir.read_checkpoints()  # a crashed run: what its scenarios wrote so far
    return build_train_report(results, read_holdout(run_dir), manifest, scenario_keys=keys, task=config.task,
                              time_column=time_column, positive_class=config.metrics.positive_class)
