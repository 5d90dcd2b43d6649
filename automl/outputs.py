"""The run directory: checkpoints, models, results, predictions and the manifest, all committed atomically.

Layout under ``output.path`` (a filesystem path the driver and every executor share: local disk, NFS,
``/dbfs`` or ``/Volumes``)::

    runs/<run_id>/manifest.json       kind, status, config, counts, data fingerprint (replaced atomically)
    runs/<run_id>/checkpoints/*.parquet  one file per scenario, written by executors as each one finishes
    runs/<run_id>/models/<scenario>/   MLflow pyfunc model per scenario
    runs/<run_id>/results/            training results table (swapped in whole at the end)
    runs/<run_id>/predictions/        prediction table (prediction jobs)

A checkpoint is named by its scenario, so a rerun replaces it: a resumed run can neither lose nor duplicate
a scenario. Tables are written to a hidden sibling and renamed into place, so readers never see half a table.
"""
from __future__ import annotations

import glob
import json
import os
import shutil
import time
import uuid
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from automl.errors import AutoMLError

__all__ = ["RunDirectory", "latest_run", "read_manifest"]


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

    def read_checkpoints(self, slugs: list[str] | None = None) -> pd.DataFrame:
        """Every scenario row written so far (one per scenario), or only those of the scenarios ``slugs``."""
        if slugs is None:
            files = sorted(glob.glob(os.path.join(self.checkpoints, "*.parquet")))
        else:
            files = [f for f in (os.path.join(self.checkpoints, f"{slug}.parquet") for slug in slugs)
                     if os.path.exists(f)]
        if not files:
            return pd.DataFrame()
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive").to_pandas()

    def count_checkpoints(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.checkpoints) if name.endswith(".parquet"))
        except FileNotFoundError:
            return 0


def write_checkpoint(directory: str, slug: str, row: pd.DataFrame, schema: pa.Schema) -> None:
    """Atomically write one scenario's result row (executor side)."""
    staging = os.path.join(directory, f".{slug}.{uuid.uuid4().hex}.tmp")
    pq.write_table(pa.Table.from_pandas(row, schema=schema, preserve_index=False), staging)
    os.replace(staging, os.path.join(directory, f"{slug}.parquet"))


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


def latest_run(output_path: str, *, kind: str = "train") -> str:
    """Id of the most recent successful run of ``kind`` under ``output_path``."""
    candidates = []
    for path in glob.glob(os.path.join(os.path.abspath(output_path), "runs", "*", "manifest.json")):
        manifest = read_manifest(os.path.dirname(path))
        if manifest.get("kind") == kind and manifest.get("status") == "succeeded":
            candidates.append((manifest.get("finished_at", 0), manifest["run_id"]))
    if not candidates:
        raise AutoMLError(f"no successful {kind} run under {output_path!r}: run 'automl train' first, "
                          f"or pass --run-id")
    return max(candidates)[1]
