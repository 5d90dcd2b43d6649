"""Scenario-to-partition planning: the plan's promises, checked on the plan and on a real Spark shuffle."""
from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from automl.spark.planning import BUCKET, PACK, distribute, plan_partitions, spark_hash_long
from automl.spark.worker import scenarios_of


def _sizes(n: int, seed: int = 0) -> dict[tuple, int]:
    rng = random.Random(seed)
    return {(f"s{i:04d}",): rng.choice([20, 50, 300, 3000]) for i in range(n)}


def test_every_scenario_is_planned_once_and_heavy_buckets_come_first():
    rows = _sizes(500)
    plan = plan_partitions(rows, cores=2, partitions_per_core=4, pack_rows=1000)
    assert set(plan.assignment) == set(rows) == set(plan.packs)
    assert plan.n_partitions == 8
    assert list(plan.loads) == sorted(plan.loads, reverse=True)
    assert plan.imbalance(2) < 1.01


def test_a_scenario_bigger_than_an_even_share_has_a_partition_to_itself():
    rows = {("big",): 100_000, **{(f"s{i}",): 100 for i in range(40)}}
    plan = plan_partitions(rows, cores=2, partitions_per_core=4)
    big = plan.assignment[("big",)]
    assert [k for k, b in plan.assignment.items() if b == big] == [("big",)]
    assert big == 0  # the heaviest bucket starts first
    assert "largest scenario ('big',) (100000 rows)" in plan.describe(2)


def test_packs_stay_within_one_bucket_and_under_the_row_cap():
    rows = _sizes(400, seed=3)
    plan = plan_partitions(rows, cores=2, partitions_per_core=4, pack_rows=1000)
    members: dict[int, list[tuple]] = {}
    for key, pack in plan.packs.items():
        members.setdefault(pack, []).append(key)
    for keys in members.values():
        assert len({plan.assignment[k] for k in keys}) == 1
        assert sum(rows[k] for k in keys) <= 1000 or len(keys) == 1


def test_tiny_scenarios_share_one_group_per_partition():
    plan = plan_partitions({(i,): 20 for i in range(400)}, cores=2, partitions_per_core=4, pack_rows=1000)
    assert plan.n_partitions == 8 and plan.n_packs == 8


def test_pack_rows_one_sends_every_scenario_alone():
    rows = _sizes(50)
    plan = plan_partitions(rows, cores=2, pack_rows=1)
    assert plan.n_packs == len(rows)


def test_bucket_hash_is_sparks_own(spark):
    values = [0, 1, -1, 7, 42, 2**31 - 1, -(2**31), 2**40 + 3, -(2**63), 2**63 - 1,
              *(random.Random(1).randrange(-(2**63), 2**63) for _ in range(200))]
    frame = spark.createDataFrame([(v,) for v in values], "v long").select("v", F.hash("v").alias("h"))
    assert {r["v"]: r["h"] for r in frame.collect()} == {v: spark_hash_long(v) for v in values}


def test_each_bucket_lands_in_its_own_partition_despite_adaptive_execution(spark):
    rows = {f"s{i}": 10 + i for i in range(30)}
    plan = plan_partitions(rows, cores=2, partitions_per_core=4, pack_rows=40)
    master = spark.createDataFrame([(i, float(j)) for i in range(30) for j in range(10 + i)], "key long, x double")
    spark.conf.set("spark.sql.adaptive.enabled", "true")
    placed = (distribute(spark, master, plan, ["key"], [{"key": i, "scenario_id": f"s{i}"} for i in range(30)])
              .withColumn("partition", F.spark_partition_id())
              .groupBy("key", BUCKET, PACK, "partition").agg(F.count(F.lit(1)).alias("rows"))
              .toPandas())
    assert len(placed) == 30 and placed["rows"].sum() == master.count()
    for r in placed.to_dict("records"):
        assert r["partition"] == plan.assignment[f"s{r['key']}"]
        assert r[PACK] == plan.packs[f"s{r['key']}"]


def test_null_keys_are_distributed_like_any_other_scenario(spark):
    master = spark.createDataFrame([(None, "x", 1.0), (None, "x", 2.0), (1, None, 3.0), (1, "x", 4.0)],
                                   "a long, b string, y double")
    ids = {"n-x": (None, "x"), "1-n": (1, None), "1-x": (1, "x")}
    plan = plan_partitions(dict.fromkeys(ids, 2), cores=2, pack_rows=1)
    placed = distribute(spark, master, plan, ["a", "b"],
                        [{"scenario_id": sid, "a": a, "b": b} for sid, (a, b) in ids.items()]).toPandas()
    assert len(placed) == 4 and sorted(placed["y"]) == [1.0, 2.0, 3.0, 4.0]
    assert list(placed.columns[:3]) == ["a", "b", "y"]


def test_scenarios_of_splits_a_pack_and_keeps_null_keys():
    pack = pd.DataFrame({"store": ["a", "a", None, "b", None], "item": [1, 1, 2, 1, 2], "y": np.arange(5.0),
                         BUCKET: 3, PACK: 7})
    found = {tuple(keys.values()): frame["y"].tolist() for keys, frame in scenarios_of(pack, ["store", "item"])}
    assert found == {("a", 1): [0.0, 1.0], (None, 2): [2.0, 4.0], ("b", 1): [3.0]}


def test_a_single_scenario_pack_is_not_copied():
    pack = pd.DataFrame({"store": ["a"] * 4, "y": np.arange(4.0), BUCKET: 0, PACK: 0})
    [(keys, frame)] = list(scenarios_of(pack, ["store"]))
    assert keys == {"store": "a"} and frame is pack and list(frame.columns) == ["store", "y"]
    assert np.shares_memory(frame["y"].to_numpy(), pack["y"].to_numpy())


@pytest.mark.parametrize("n", [1, 2, 8, 13])
def test_plan_with_fewer_scenarios_than_slots(n):
    plan = plan_partitions({(i,): 100 for i in range(n)}, cores=2, partitions_per_core=4)
    assert plan.n_partitions == min(n, 8)


def test_a_retried_task_returns_the_rows_this_attempt_already_checkpointed(tmp_path):
    from automl.rundir import write_checkpoint
    from automl.scenario.keys import scenario_slug
    from automl.spark.worker import TrainPacks

    write_checkpoint(str(tmp_path), scenario_slug({"store": "a"}), {"status": "ok", "score": 1.5, "attempt": 2})
    write_checkpoint(str(tmp_path), scenario_slug({"store": "b"}), {"status": "ok", "score": 9.0, "attempt": 1})
    trained = []

    def task(frame, keys, *, retry):
        trained.append((keys["store"], retry))
        return {**keys, "status": "ok", "score": 2.0}

    packs = TrainPacks(task, ["store"], ["store", "status", "score", "attempt"], str(tmp_path), {}, attempt=2)
    pack = pd.DataFrame({"store": ["a", "b"], "y": [1.0, 2.0], BUCKET: 0, PACK: 0})
    rows = packs(pack).set_index("store")
    assert rows.loc["a", "score"] == 1.5  # finished by this attempt before its task was lost: not trained again
    assert rows.loc["b", "score"] == 2.0 and trained == [("b", True)]  # an older attempt's row: trained again
