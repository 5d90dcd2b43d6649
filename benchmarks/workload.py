"""The benchmark's many-model workload: seeded data on disk and one config per variant.

Every scenario is a learnable regression (its own coefficients on five numeric inputs, one categorical
input, a mild non-linearity and noise), so tuning has something to find and every scenario trains ``ok``.
All arms of a run read the same parquet file and the same validated :class:`~automl.config.Config`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from automl.config import Config, parse_config

__all__ = ["KEY", "VARIANTS", "Sizes", "Workload", "make_config", "sizes_for", "write_workload"]

KEY = "scenario"
VARIANTS = ("balanced", "skewed", "overhead", "large")


@dataclass(frozen=True)
class Sizes:
    """Scenario count and rows per scenario for one variant (``heavy`` scenarios get ``factor`` x rows)."""

    scenarios: int
    rows: int
    heavy: int = 0
    factor: int = 1

    def rows_of(self, scenario: int) -> int:
        return self.rows * self.factor if scenario < self.heavy else self.rows

    @property
    def total_rows(self) -> int:
        return self.scenarios * self.rows + self.heavy * self.rows * (self.factor - 1)


# Full-size defaults (the targets); --quick shrinks them to a smoke test of about a minute.
_DEFAULTS = {
    "balanced": Sizes(200, 300),
    "skewed": Sizes(120, 150, heavy=4, factor=20),
    "overhead": Sizes(10_000, 20),
    "large": Sizes(1, 2_000_000),
}
_QUICK = {
    "balanced": Sizes(6, 100),
    "skewed": Sizes(6, 80, heavy=1, factor=20),
    "overhead": Sizes(100, 20),
    "large": Sizes(1, 50_000),
}


def sizes_for(variant: str, *, quick: bool, scenarios: int | None, rows: int | None) -> Sizes:
    """The variant's sizes with the command line's ``--scenarios`` / ``--rows`` applied."""
    base = (_QUICK if quick else _DEFAULTS)[variant]
    heavy = min(base.heavy, max(1, (scenarios or base.scenarios) // 30)) if base.heavy else 0
    return Sizes(scenarios or base.scenarios, rows or base.rows, heavy, base.factor)


@dataclass(frozen=True)
class Workload:
    """Where the data is and how many rows each scenario has."""

    path: str
    rows_by_scenario: dict[int, int]

    @property
    def n_scenarios(self) -> int:
        return len(self.rows_by_scenario)


def write_workload(directory: str, sizes: Sizes, *, seed: int = 20240601, chunk_rows: int = 500_000) -> Workload:
    """Write the variant's rows as one parquet file (row groups of ``chunk_rows``) under ``directory``.

    Columns: ``scenario`` (long), ``row_id`` (long, unique), ``x1..x5`` (double), ``channel`` (string),
    ``y`` (double). Generated in chunks, so the 2,000,000-row scenario never needs two copies in memory.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "rows.parquet")
    rng = np.random.default_rng(seed)
    rows_by_scenario = {s: sizes.rows_of(s) for s in range(sizes.scenarios)}
    coefficients = rng.normal(0.0, 2.0, size=(sizes.scenarios, 5))
    levels = rng.normal(50.0, 10.0, size=sizes.scenarios)
    writer = None
    next_row_id = 0
    pending: list[pd.DataFrame] = []
    pending_rows = 0
    try:
        for scenario, n in rows_by_scenario.items():
            done = 0
            while done < n:
                take = min(chunk_rows, n - done)
                pending.append(_scenario_rows(rng, scenario, take, next_row_id, coefficients[scenario],
                                              levels[scenario]))
                next_row_id += take
                done += take
                pending_rows += take
                if pending_rows >= chunk_rows:
                    writer = _flush(writer, path, pending)
                    pending, pending_rows = [], 0
        if pending:
            writer = _flush(writer, path, pending)
    finally:
        if writer is not None:
            writer.close()
    return Workload(path, rows_by_scenario)


def _scenario_rows(rng: np.random.Generator, scenario: int, n: int, first_id: int, beta: np.ndarray,
                   level: float) -> pd.DataFrame:
    x = rng.normal(0.0, 1.0, size=(n, 5))
    channel = rng.choice(np.array(["web", "store", "phone"]), size=n)
    effect = np.where(channel == "web", 3.0, np.where(channel == "store", -2.0, 0.0))
    y = level + x @ beta + 2.0 * np.sin(2.0 * x[:, 0]) + effect + rng.normal(0.0, 1.0, size=n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(1, 6)])
    frame.insert(0, "row_id", np.arange(first_id, first_id + n, dtype="int64"))
    frame.insert(0, KEY, np.full(n, scenario, dtype="int64"))
    frame["channel"] = channel
    frame["y"] = y
    return frame


def _flush(writer: pq.ParquetWriter | None, path: str, parts: list[pd.DataFrame]) -> pq.ParquetWriter:
    table = pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer


def make_config(variant: str, *, data_path: str, output_path: str, tracking_uri: str, cores: int,
                log_models: bool = True, quick: bool = False, scenario_runs: str = "per_scenario") -> Config:
    """The validated config every arm of ``variant`` uses; only ``output.path`` differs between arms.

    The tuning budget is fixed by ``max_evals`` alone: the timeout is far out of reach, so a busy machine
    slows a run down but never changes the work it does.
    """
    document = {
        "name": f"bench_{variant}",
        "task": "regression",
        "scenario_keys": [KEY],
        "target": "y",
        "sample_id": ["row_id"],
        "data": {"streams": [{"name": "rows", "path": data_path}]},
        "split": {"test_size": 0.2, "validation_size": 0.2},
        "mlflow": {"tracking_uri": tracking_uri, "experiment": f"bench-{variant}", "log_models": log_models,
                   "scenario_runs": scenario_runs},
        "output": {"path": output_path},
        "spark": {"master": f"local[{cores}]"},
        "tuning": {"seed": 7, "timeout_seconds": 86_400},
    }
    if variant in ("balanced", "skewed"):
        # The full pipeline: featuretools products, importance selection, two families tuned by TPE.
        document.update(
            features={"trans_primitives": ["multiply_numeric"]},
            selection={"method": "importance", "max_features": 8},
            models={"families": ["lightgbm", "linear"],
                    "search_space": {"lightgbm": {"n_estimators": {"type": "int", "low": 20, "high": 120,
                                                                   "log": True}}}},
        )
        document["tuning"]["max_evals"] = 2 if quick else 6
    elif variant == "overhead":
        # The trivial model of the issue: what is left is the framework's own cost per scenario.
        document.update(features={"enabled": False}, selection={"method": "none"},
                        models={"families": ["linear"]})
        document["split"]["min_train_rows"] = 8
        document["tuning"]["max_evals"] = 1
    elif variant == "large":
        # A cheap model on a big scenario: the question is memory, not tuning.
        document.update(features={"enabled": False}, selection={"method": "none"},
                        models={"families": ["lightgbm"],
                                "search_space": {"lightgbm": {"n_estimators": 30, "num_leaves": 31,
                                                              "subsample": 0.8}}})
        document["tuning"]["max_evals"] = 1
    else:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    return parse_config(document, source=f"<benchmark {variant}>")
