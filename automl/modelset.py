"""The model set: the champion of every scenario of a use case, across training runs.

A scenario's champion is its latest ``ok`` training that was promoted (``models.promote``). A run that
trains some scenarios (``--scenario``, ``--where``, ``--resume``, ``--changed-only``, deadline skips)
replaces only their champions; a scenario that fails or is skipped keeps its previous one. ``predict`` and
``register`` use the model set, so a backfill of one scenario never hides the other scenarios' models.

Stored under ``output.path``::

    model_set/champions.parquet   one row per scenario: keys, scenario_id, lineage, model location, scores
    model_set/untrained.parquet   scenarios trained without ever getting a champion: keys, the latest run, status
                                  and reason, so ``predict`` can say why their rows have no prediction
    model_set/meta.json           format version, use case, key and target types, last run that changed it

The directory is replaced whole (written beside it, then renamed), so a reader sees the old or the new set.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from automl.config import Config
from automl.errors import AutoMLError
from automl.rundir import staging_path, swap_into_place

__all__ = ["FORMAT_VERSION", "ModelSet", "config_hash", "promote", "untrained_reason"]

FORMAT_VERSION = 1
_LINEAGE = ["scenario_id", "run_id", "trained_at", "model_path", "model_uri", "mlflow_run_id", "data_fingerprint",
            "config_hash", "primary_metric", "score", "baseline_score", "beats_baseline", "best_family"]
_UNTRAINED = ["scenario_id", "run_id", "status", "error"]
# The parts of a config that change what a model learns; output, tracking and execution settings do not.
_MODELLING_FIELDS = ("task", "target", "time_column", "sample_id", "scenario_keys", "split", "features",
                     "selection", "models", "tuning", "metrics")


def config_hash(config: Config) -> str:
    """A short hash of the settings a model depends on: a scenario whose champion was trained under another
    hash is retrained by ``--changed-only``."""
    modelling = config.model_dump(mode="json", include=set(_MODELLING_FIELDS))
    return hashlib.sha256(json.dumps(modelling, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ModelSet:
    """The champions of one use case (``champions``: one row per scenario), what they were trained on, and the
    scenarios that have none (``untrained``: the latest training's status and reason)."""

    champions: pd.DataFrame
    meta: dict[str, Any]
    untrained: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_UNTRAINED))

    @staticmethod
    def directory(output_path: str) -> str:
        return os.path.join(os.path.abspath(output_path), "model_set")

    @classmethod
    def read(cls, output_path: str, *, required: bool = True) -> ModelSet | None:
        """The stored model set; None (or an error naming the way out, when ``required``) if there is none."""
        root = cls.directory(output_path)
        try:
            with open(os.path.join(root, "meta.json"), encoding="utf-8") as handle:
                meta = json.load(handle)
        except FileNotFoundError:
            if required:
                raise AutoMLError(f"no model set under {output_path!r}: run 'automl train' first, or pass "
                                  f"--run-id") from None
            return None
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise AutoMLError(f"{root}: model set format version {version!r} is not the {FORMAT_VERSION} this "
                              f"version of automl reads; retrain ('automl train') or use the matching version")
        untrained = os.path.join(root, "untrained.parquet")  # absent from model sets written before it existed
        return cls(pq.read_table(os.path.join(root, "champions.parquet")).to_pandas(), meta,
                   *([pq.read_table(untrained).to_pandas()] if os.path.exists(untrained) else []))

    def write(self, output_path: str) -> None:
        """Replace the stored model set atomically."""
        root = self.directory(output_path)
        staging = staging_path(root)
        os.makedirs(staging)
        pq.write_table(pa.Table.from_pandas(self.champions, preserve_index=False),
                       os.path.join(staging, "champions.parquet"))
        untrained = self.untrained.astype(dict.fromkeys(_UNTRAINED, str))  # keys keep their types
        pq.write_table(pa.Table.from_pandas(untrained, preserve_index=False),
                       os.path.join(staging, "untrained.parquet"))
        with open(os.path.join(staging, "meta.json"), "w", encoding="utf-8") as handle:
            json.dump({**self.meta, "format_version": FORMAT_VERSION}, handle, indent=2, default=str)
        swap_into_place(staging, root)

    def models(self) -> dict[str, tuple[str, str]]:
        """scenario_id -> (model location, run id) of every champion."""
        return {r["scenario_id"]: (r["model_path"] or r["model_uri"], r["run_id"])
                for r in self.champions.to_dict("records")}

    def by_scenario(self) -> dict[str, dict[str, Any]]:
        return {r["scenario_id"]: r for r in self.champions.to_dict("records")}

    def untrained_reasons(self) -> dict[str, str]:
        """scenario_id -> why it has no champion (:func:`untrained_reason`)."""
        return {r["scenario_id"]: untrained_reason(r["run_id"], r["status"], r["error"])
                for r in self.untrained.to_dict("records")}


def untrained_reason(run_id: str, status: str, error: Any) -> str:
    """Why a trained scenario has no model, e.g. ``training run r1: skipped: too few rows ...`` (a missing
    error, NaN in a results table, reads as nothing)."""
    return f"training run {run_id}: {status}: {error if isinstance(error, str) else ''}"


def promote(previous: ModelSet | None, results: pd.DataFrame, config: Config, *, run_id: str,
            meta: dict[str, Any]) -> tuple[ModelSet, dict[str, tuple[str, str]]]:
    """The model set after a training run, and per scenario of ``results`` its champion's run and a note.

    ``ok`` rows become champions unless ``models.promote: beats_baseline`` holds back one that does not beat
    its naive baseline while an earlier champion exists (with none, it is promoted: a model that exists beats
    no model). Any other row keeps the earlier champion.
    """
    keys = config.scenario_keys
    old = previous.by_scenario() if previous is not None else {}
    trained_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    fingerprint = config_hash(config)
    champions = dict(old)
    untrained = {r["scenario_id"]: r for r in previous.untrained.to_dict("records")} if previous is not None else {}
    notes: dict[str, tuple[str, str]] = {}
    for row in results.to_dict("records"):
        sid = row["scenario_id"]
        earlier = old.get(sid)
        kept = f"kept the champion of run {earlier['run_id']} ({earlier['trained_at']})" if earlier else ""
        if row["status"] == "ok":
            held_back = (config.models.promote == "beats_baseline" and not row.get("beats_baseline")
                         and earlier is not None)
            if held_back:
                notes[sid] = (earlier["run_id"], f"not promoted: does not beat its naive baseline on the holdout; {kept}")
                continue
            champions[sid] = {**{k: row[k] for k in keys}, **{c: row.get(c) for c in _LINEAGE},
                              "run_id": run_id, "trained_at": trained_at, "config_hash": fingerprint}
            untrained.pop(sid, None)
            notes[sid] = (run_id, "promoted")
        elif row["status"] == "unchanged":
            notes[sid] = (earlier["run_id"] if earlier else "", f"unchanged since run {earlier['run_id']}" if earlier else "")
        elif earlier:
            notes[sid] = (earlier["run_id"], f"{row['status']}: {kept}")
        else:
            error = row.get("error")
            untrained[sid] = {**{k: row[k] for k in keys}, "scenario_id": sid, "run_id": run_id,
                              "status": row["status"], "error": error if isinstance(error, str) else ""}
            notes[sid] = ("", f"{row['status']}: no champion")
    frame = pd.DataFrame(list(champions.values()), columns=[*keys, *_LINEAGE])
    merged = {**(previous.meta if previous else {}), **meta, "updated_by_run": run_id, "updated_at": time.time()}
    return ModelSet(frame, merged, pd.DataFrame(list(untrained.values()), columns=[*keys, *_UNTRAINED])), notes
