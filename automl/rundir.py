"""The run directory: checkpoints, models, results, predictions and the manifest, all committed atomically.

Layout under ``output.path`` (a filesystem path the driver and every executor share: local disk, NFS,
``/dbfs`` or ``/Volumes``)::

    runs/<run_id>/manifest.json       kind, status, config, counts, data fingerprint (replaced atomically)
    runs/<run_id>/checkpoints/*.json  one result row per scenario, written by executors as each one finishes
    runs/<run_id>/models/<scenario>   the model of each scenario (see automl.tracking)
    runs/<run_id>/results/            training results table (swapped in whole at the end)
    runs/<run_id>/holdout/            every scenario's holdout rows: actual, prediction, baseline
    runs/<run_id>/predictions/        prediction table (prediction jobs)
    runs/<run_id>/report.html         the run's report
    model_set/                        the champion of every scenario across runs (see automl.modelset)

``<scenario>`` is the scenario's slug (a readable prefix and its injective id, see automl.scenario.keys).

A checkpoint is named by its scenario, so a rerun replaces it: a resumed run can neither lose nor duplicate
a scenario. It is one small JSON object (readable with ``jq`` while a job runs): a one-row parquet file cost
5-18 ms per scenario, JSON well under one. Tables are written to a hidden sibling and renamed into place, so
readers never see half a table.
"""
from __future__ import annotations

import datetime
import decimal
import glob
import json
import os
import shutil
import time
import uuid
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from automl.errors import AutoMLError

__all__ = ["RunDirectory", "latest_run", "list_runs", "read_checkpoint", "read_manifest", "staging_path",
           "swap_into_place", "write_checkpoint"]

_CHECKPOINT = ".json"


class RunDirectory:
    """Paths and atomic writes for one job run."""

    def __init__(self, output_path: str, run_id: str) -> None:
        self.output_path = os.path.abspath(output_path)
        self.run_id = run_id
        self.root = os.path.join(self.output_path, "runs", run_id)

    @property
    def checkpoints(self) -> str:
        return os.path.join(self.root, "checkpoints")

    @property
    def models(self) -> str:
        return os.path.join(self.root, "models")

    def table(self, name: str) -> str:
        return os.path.join(self.root, name)

    @property
    def report(self) -> str:
        return os.path.join(self.root, "report.html")

    def prepare(self) -> None:
        for path in (self.checkpoints, self.models):
            os.makedirs(path, exist_ok=True)

    def write_manifest(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the manifest and replace it atomically."""
        manifest = {**read_manifest(self.root), **fields, "run_id": self.run_id, "updated_at": time.time()}
        os.makedirs(self.root, exist_ok=True)
        staging = os.path.join(self.root, f".manifest-{uuid.uuid4().hex}.json")
        with open(staging, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, default=str)
        os.replace(staging, os.path.join(self.root, "manifest.json"))
        return manifest

    def read_checkpoints(self, slugs: list[str] | None = None, schema: pa.Schema | None = None) -> pd.DataFrame:
        """Every scenario row written so far (one per scenario), or only those of the scenarios ``slugs``.

        With ``schema`` (the results table's), columns get its types back (JSON has no dates or timestamps).
        """
        if slugs is None:
            files = sorted(glob.glob(os.path.join(self.checkpoints, f"*{_CHECKPOINT}")))
        else:
            files = [f for f in (os.path.join(self.checkpoints, f"{slug}{_CHECKPOINT}") for slug in slugs)
                     if os.path.exists(f)]
        records = []
        for path in files:
            with open(path, encoding="utf-8") as handle:
                records.append(json.load(handle))
        if not records:
            return pd.DataFrame()
        if schema is None:
            return pd.DataFrame.from_records(records)
        return pa.table({f.name: _typed([r.get(f.name) for r in records], f.type) for f in schema}).to_pandas()

    def count_checkpoints(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.checkpoints) if name.endswith(_CHECKPOINT))
        except FileNotFoundError:
            return 0


def read_checkpoint(directory: str, slug: str) -> dict[str, Any] | None:
    """One scenario's row as written (untyped JSON), or None when it has none (executor side)."""
    try:
        with open(os.path.join(directory, f"{slug}{_CHECKPOINT}"), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write_checkpoint(directory: str, slug: str, row: dict[str, Any]) -> None:
    """Atomically write one scenario's result row (executor side)."""
    staging = os.path.join(directory, f".{slug}.{uuid.uuid4().hex}.tmp")
    with open(staging, "w", encoding="utf-8") as handle:
        json.dump(row, handle, default=_json_value)
    os.replace(staging, os.path.join(directory, f"{slug}{_CHECKPOINT}"))


def _json_value(value: Any) -> Any:
    """What ``json`` cannot write by itself: numpy scalars and arrays, dates and timestamps, decimals."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime.date, datetime.datetime, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    raise TypeError(f"checkpoint value of type {type(value).__name__} is not supported: {value!r}")


def _typed(values: list[Any], kind: pa.DataType) -> pa.Array:
    """``values`` as an Arrow array of ``kind``; ISO strings (dates, timestamps, decimals) are parsed."""
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        parsed = pa.array(values)
    if pa.types.is_timestamp(kind) and kind.tz:  # naive ISO strings, as pandas gives Spark timestamps: UTC
        parsed = parsed.cast(pa.timestamp(kind.unit))
    return parsed.cast(kind)


def swap_into_place(staging: str, final: str) -> None:
    """Replace directory ``final`` by ``staging`` with renames only: readers see the old or the new table."""
    retired = f"{final}.old-{uuid.uuid4().hex}"
    if os.path.exists(final):
        os.replace(final, retired)
    os.replace(staging, final)
    shutil.rmtree(retired, ignore_errors=True)


def staging_path(final: str) -> str:
    """A hidden sibling of ``final`` on the same filesystem, so the final rename is atomic."""
    parent, name = os.path.split(final)
    return os.path.join(parent, f".{name}.staging-{uuid.uuid4().hex}")


def read_manifest(run_root: str) -> dict[str, Any]:
    try:
        with open(os.path.join(run_root, "manifest.json"), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return {}


def list_runs(output_path: str, *, kind: str | None = None) -> list[dict[str, Any]]:
    """Every run's manifest under ``output_path`` (of ``kind`` when given), newest first by start time."""
    manifests = []
    for path in glob.glob(os.path.join(os.path.abspath(output_path), "runs", "*", "manifest.json")):
        manifest = read_manifest(os.path.dirname(path))
        if manifest.get("run_id") and (kind is None or manifest.get("kind") == kind):
            manifests.append(manifest)
    return sorted(manifests, key=lambda m: float(m.get("started_at") or 0), reverse=True)


def latest_run(output_path: str, *, kind: str = "train") -> str:
    """Id of the most recent successful run of ``kind`` under ``output_path``."""
    for manifest in list_runs(output_path, kind=kind):
        if manifest.get("status") == "succeeded":
            return str(manifest["run_id"])
    raise AutoMLError(f"no successful {kind} run under {output_path!r}: run 'automl train' first, "
                      f"or pass --run-id")
