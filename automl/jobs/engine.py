"""What the job layer needs from a compute engine, as typing protocols (the Spark engine implements them).

Keeping the job logic behind this small surface is what lets it stay free of pyspark: what to train, counts,
status and records are decided here, while planning, Python workers and table formats stay in the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

import pandas as pd

__all__ = ["Engine", "Scenarios", "Selection"]


@dataclass(frozen=True)
class Selection:
    """Which scenarios a job works on: listed ones (``--scenario k=v``), a SQL filter on the keys
    (``--where``), or all of them when both are empty."""

    scenarios: list[dict[str, str]] = field(default_factory=list)
    where: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"scenarios": self.scenarios or None, "where": self.where}


class Scenarios(Protocol):
    """The scenarios of one lazy master frame."""

    column_types: dict[str, str]  # column -> Spark type, e.g. {"units": "double"}

    def statistics(self) -> pd.DataFrame:
        """Per scenario: keys, scenario_id, rows, fingerprint (+ target_rows/min/max, distinct_times)."""

    def snapshot(self, path: str) -> None:
        """Pin the input to a saved copy at ``path``."""

    def to_pandas(self) -> pd.DataFrame:
        """Every selected row, in this process."""

    def head(self, n: int) -> pd.DataFrame:
        """The first ``n`` rows."""

    def summarise(self, todo: pd.DataFrame, task: Callable[[pd.DataFrame, list[str]], pd.DataFrame],
                  columns: list[tuple[str, str]]) -> pd.DataFrame:
        """Run ``task`` over the scenarios of ``todo`` in parallel, on the rows of many scenarios at a time (and
        the key columns that tell them apart): ``scenario_id`` and ``columns`` per scenario."""

    def train(self, todo: pd.DataFrame, task: Callable[[pd.DataFrame, dict[str, Any]], dict[str, Any]],
              columns: list[tuple[str, str]], *, checkpoints: str, attempt: int) -> pd.DataFrame:
        """Run ``task`` over the scenarios of ``todo`` in parallel; their result rows."""

    def predict(self, scenarios: pd.DataFrame, task: Callable[[pd.DataFrame, dict[str, Any]], pd.DataFrame],
                columns: list[tuple[str, str]], path: str, *,
                progress: Callable[[int, int], None] | None = None) -> tuple[str, pd.DataFrame]:
        """Score every input row and write the predictions; where they went and a tally per scenario."""


class Engine(Protocol):
    """Opens scenarios and writes tables."""

    cores: int
    threads: int

    def warm_up(self) -> None:
        """Get workers ready in the background (best effort)."""

    def scenarios(self, selection: Selection, *, for_prediction: bool) -> Scenarios:
        """The training or prediction input, restricted to ``selection``."""

    def write_table(self, rows: pd.DataFrame, columns: list[tuple[str, str]], path: str) -> str:
        """Write the results table (run directory, plus the catalog table when configured)."""

    def write_catalog_table(self, rows: pd.DataFrame, table: str) -> None:
        """Replace a catalog table with ``rows``."""
