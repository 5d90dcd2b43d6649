"""Scenario-to-partition planning: keep every core busy until the end, whatever the scenario sizes.

Spark's defaults cannot be trusted with this: adaptive execution coalesced 8 scenario groups into one task
on a 2-core machine, so every scenario ran on one core. The framework therefore assigns each scenario to a
bucket itself (longest-processing-time-first over a few buckets per core, the largest scenarios alone,
heaviest buckets first), and pins bucket b to Spark partition b exactly.
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from typing import Any, Hashable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

__all__ = ["BUCKET", "Plan", "distribute", "plan_partitions"]

log = logging.getLogger(__name__)

BUCKET = "_automl_bucket"
# Every scenario pays a fixed cost (featuretools setup, tuning loop, logging) on top of its rows.
_FIXED_COST_ROWS = 200


@dataclass(frozen=True)
class Plan:
    """Which bucket (= Spark partition) each scenario runs in, and the expected load per bucket."""

    assignment: dict[Hashable, int]
    loads: tuple[int, ...]
    largest: tuple[Hashable, int]

    @property
    def n_partitions(self) -> int:
        return len(self.loads)

    def imbalance(self, cores: int) -> float:
        """Expected makespan over the ideal (total / cores); 1.0 is perfect."""
        ideal = sum(self.loads) / max(1, min(cores, self.n_partitions))
        return _makespan(self.loads, cores) / ideal if ideal else 1.0

    def describe(self, cores: int) -> str:
        return (f"{len(self.assignment)} scenarios -> {self.n_partitions} partitions on {cores} cores; "
                f"largest scenario {self.largest[0]} ({self.largest[1]} rows); "
                f"expected imbalance {self.imbalance(cores):.2f}x")


def plan_partitions(rows: dict[Hashable, int], *, cores: int, partitions_per_core: int = 4) -> Plan:
    """Longest-processing-time-first packing of scenarios into buckets.

    A scenario costing more than an even share of the work gets a bucket to itself; buckets are numbered
    heaviest first, since Spark starts partitions in index order and the heavy ones must not start last.

    Example:
        >>> plan_partitions({"a": 1000, "b": 10, "c": 10}, cores=2).n_partitions
        3
    """
    if not rows:
        return Plan({}, (), (None, 0))
    costs = {key: n + _FIXED_COST_ROWS for key, n in rows.items()}
    n_buckets = min(len(costs), max(1, cores * partitions_per_core))
    heap = [(0, b) for b in range(n_buckets)]
    loads = [0] * n_buckets
    chosen: dict[Hashable, int] = {}
    for key, cost in sorted(costs.items(), key=lambda kv: (-kv[1], str(kv[0]))):
        load, bucket = heapq.heappop(heap)
        chosen[key] = bucket
        loads[bucket] = load + cost
        heapq.heappush(heap, (loads[bucket], bucket))
    order = sorted(range(n_buckets), key=lambda b: -loads[b])
    renumber = {old: new for new, old in enumerate(order)}
    largest = max(rows.items(), key=lambda kv: kv[1])
    return Plan({k: renumber[b] for k, b in chosen.items()}, tuple(loads[b] for b in order), largest)


def distribute(spark: SparkSession, master: DataFrame, plan: Plan, keys: list[str],
               key_rows: list[dict[str, Any]]) -> DataFrame:
    """``master`` with a bucket column, hash-partitioned so that bucket b lands in partition b.

    ``repartition(n, col)`` places a row by ``pmod(hash(col), n)``; we choose, per bucket, a bucket value
    whose hash lands in that partition, so the plan holds exactly and adaptive execution (which never
    coalesces an explicit partition count) cannot merge buckets. ``key_rows`` are the scenarios' key
    values, in the same order as ``plan.assignment``.
    """
    n = plan.n_partitions
    values = _values_landing_in_each_partition(spark, n)
    rows = [(*(r[k] for k in keys), values[plan.assignment[tuple(r[k] for k in keys)]]) for r in key_rows]
    key_schema = master.select(*keys).schema
    mapping = spark.createDataFrame(rows, schema=key_schema.add(BUCKET, "long"))
    # The join must never drop a row silently: every scenario of ``master`` is in the plan by construction.
    return master.join(F.broadcast(mapping), on=keys, how="inner").repartition(n, BUCKET)


def _values_landing_in_each_partition(spark: SparkSession, n: int) -> list[int]:
    candidates = spark.range(0, max(64, n * 40)).select("id", F.expr(f"pmod(hash(id), {n})").alias("p"))
    found: dict[int, int] = {}
    for row in candidates.collect():
        found.setdefault(int(row["p"]), int(row["id"]))
    if len(found) < n:
        raise RuntimeError(f"could not find bucket values for {n} partitions")
    return [found[p] for p in range(n)]


def _makespan(loads: tuple[int, ...], cores: int) -> int:
    """Greedy list scheduling of buckets in index order onto ``cores`` workers."""
    workers = [0] * max(1, cores)
    for load in loads:
        heapq.heapreplace(workers, workers[0] + load)
    return max(workers)
