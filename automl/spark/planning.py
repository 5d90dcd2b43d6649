"""Scenario-to-partition planning: keep every core busy until the end, whatever the scenario sizes.

Spark's defaults cannot be trusted with this: adaptive execution coalesced 8 scenario groups into one task
on a 2-core machine, so every scenario ran on one core. The framework therefore assigns each scenario to a
bucket itself (longest-processing-time-first over a few buckets per core, the largest scenarios alone,
heaviest buckets first), and pins bucket b to Spark partition b exactly.

Within a bucket, small scenarios travel to Python together: a *pack* is one ``applyInPandas`` group of up to
``pack_rows`` rows, split back into scenarios in pandas. Spark pays its per-group cost (a sort boundary, an
Arrow stream each way, a result conversion) once per pack instead of once per scenario, which is most of
what a tiny scenario would otherwise cost. Packing does not change the balance: a partition runs its
groups one after the other either way.
"""
from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass
from typing import Any, Hashable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

__all__ = ["BUCKET", "PACK", "Plan", "distribute", "plan_partitions", "spark_hash_long"]

log = logging.getLogger(__name__)

BUCKET = "_automl_bucket"
PACK = "_automl_pack"
# Every scenario pays a fixed cost (featuretools setup, tuning loop, logging) on top of its rows. Measured
# (docs/benchmarks.md): a scenario with 20x the rows took 4-5x as long as a 150-row one, i.e. the fixed part
# is worth several hundred rows.
_FIXED_COST_ROWS = 600


@dataclass(frozen=True)
class Plan:
    """Which bucket (= Spark partition) and pack each scenario runs in, and the expected load per bucket."""

    assignment: dict[Hashable, int]
    packs: dict[Hashable, int]
    loads: tuple[int, ...]
    largest: tuple[Hashable, int]

    @property
    def n_partitions(self) -> int:
        return len(self.loads)

    @property
    def n_packs(self) -> int:
        return len(set(self.packs.values()))

    def imbalance(self, cores: int) -> float:
        """Expected makespan over the ideal (total / cores); 1.0 is perfect."""
        ideal = sum(self.loads) / max(1, min(cores, self.n_partitions))
        return _makespan(self.loads, cores) / ideal if ideal else 1.0

    def describe(self, cores: int) -> str:
        return (f"{len(self.assignment)} scenarios -> {self.n_partitions} partitions on {cores} cores, "
                f"{self.n_packs} groups; largest scenario {self.largest[0]} ({self.largest[1]} rows); "
                f"expected imbalance {self.imbalance(cores):.2f}x")


def plan_partitions(rows: dict[Hashable, int], *, cores: int, partitions_per_core: int = 4,
                    pack_rows: int = 1) -> Plan:
    """Longest-processing-time-first packing of scenarios into buckets, then of each bucket into packs.

    A scenario costing more than an even share of the work gets a bucket to itself; buckets are numbered
    heaviest first, since Spark starts partitions in index order and the heavy ones must not start last.
    A pack holds scenarios of one bucket up to ``pack_rows`` rows in all (a larger scenario is a pack alone;
    ``pack_rows=1`` sends every scenario on its own).

    Example:
        >>> plan = plan_partitions({"a": 1000, "b": 10, "c": 10}, cores=2, pack_rows=100)
        >>> plan.n_partitions, plan.n_packs
        (3, 3)
    """
    if not rows:
        return Plan({}, {}, (), (None, 0))
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
    assignment = {k: renumber[b] for k, b in chosen.items()}
    largest = max(rows.items(), key=lambda kv: kv[1])
    return Plan(assignment, _packs(rows, assignment, pack_rows), tuple(loads[b] for b in order), largest)


def _packs(rows: dict[Hashable, int], assignment: dict[Hashable, int], pack_rows: int) -> dict[Hashable, int]:
    """Consecutive scenarios of a bucket share a pack until it would exceed ``pack_rows`` rows."""
    packs: dict[Hashable, int] = {}
    next_pack = 0
    open_pack: dict[int, tuple[int, int]] = {}  # bucket -> (pack id, rows in it)
    for key in sorted(assignment, key=lambda k: (assignment[k], -rows[k], str(k))):
        bucket = assignment[key]
        pack, filled = open_pack.get(bucket, (-1, pack_rows))
        if filled + rows[key] > pack_rows:
            pack, filled = next_pack, 0
            next_pack += 1
        packs[key] = pack
        open_pack[bucket] = (pack, filled + rows[key])
    return packs


def distribute(spark: SparkSession, master: DataFrame, plan: Plan, keys: list[str],
               key_rows: list[dict[str, Any]]) -> DataFrame:
    """``master`` with bucket and pack columns, hash-partitioned so that bucket b lands in partition b.

    ``repartition(n, col)`` places a row by ``pmod(hash(col), n)``; we choose, per bucket, a bucket value
    whose hash lands in that partition, so the plan holds exactly and adaptive execution (which never
    coalesces an explicit partition count) cannot merge buckets. ``key_rows`` hold each scenario's key
    values and its ``scenario_id`` (the key of ``plan.assignment``).
    """
    n = plan.n_partitions
    values = bucket_values(n)
    rows = [(*(r[k] for k in keys), values[plan.assignment[r["scenario_id"]]], plan.packs[r["scenario_id"]])
            for r in key_rows]
    renamed = [f"_automl_key{i}" for i in range(len(keys))]
    key_schema = master.select(*(F.col(f"`{k}`").alias(r) for k, r in zip(keys, renamed))).schema
    mapping = spark.createDataFrame(rows, schema=key_schema.add(BUCKET, "long").add(PACK, "long"))
    # Null-safe equality: a null key is a scenario like any other, and an equi-join would drop its rows.
    # The join must never drop a row silently: every scenario of ``master`` is in the plan by construction.
    matches = [master[f"`{k}`"].eqNullSafe(mapping[r]) for k, r in zip(keys, renamed)]
    joined = master.join(F.broadcast(mapping), on=matches, how="inner").drop(*renamed)
    return joined.repartition(n, BUCKET)


def bucket_values(n: int) -> list[int]:
    """For each partition p < n, the smallest long whose Spark ``hash`` lands in p (``pmod(hash, n) == p``)."""
    found: dict[int, int] = {}
    candidate = 0
    while len(found) < n:
        found.setdefault(spark_hash_long(candidate) % n, candidate)  # Python's % is pmod for n > 0
        candidate += 1
    return [found[p] for p in range(n)]


_MASK = 0xFFFFFFFF


def spark_hash_long(value: int, seed: int = 42) -> int:
    """Spark's ``hash()`` of a ``long`` (Murmur3 x86 32-bit, seed 42), as a signed 32-bit int.

    It is the function ``repartition(n, col)`` partitions by, so the driver can place buckets without
    running a Spark job. ``tests/spark/test_planning.py`` checks it against Spark itself.
    """
    h1 = seed
    for word in (value & _MASK, (value >> 32) & _MASK):
        k1 = (word * 0xCC9E2D51) & _MASK
        k1 = ((k1 << 15) | (k1 >> 17)) & _MASK
        k1 = (k1 * 0x1B873593) & _MASK
        h1 ^= k1
        h1 = ((h1 << 13) | (h1 >> 19)) & _MASK
        h1 = (h1 * 5 + 0xE6546B64) & _MASK
    h1 ^= 8
    h1 ^= h1 >> 16
    h1 = (h1 * 0x85EBCA6B) & _MASK
    h1 ^= h1 >> 13
    h1 = (h1 * 0xC2B2AE35) & _MASK
    h1 ^= h1 >> 16
    return h1 - (1 << 32) if h1 & 0x80000000 else h1


def _makespan(loads: tuple[int, ...], cores: int) -> int:
    """Greedy list scheduling of buckets in index order onto ``cores`` workers."""
    workers = [0] * max(1, cores)
    for load in loads:
        heapq.heapreplace(workers, workers[0] + load)
    return max(workers)
