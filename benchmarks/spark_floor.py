"""The least a Spark job shaped like the framework's costs on a fresh JVM, with no scenario work at all.

    python benchmarks/spark_floor.py DATA.parquet KEY PARTITIONS CORES MODULE [MODULE ...]

Starts its own ``local[CORES]`` session with the framework's settings (start-up not timed, as in
``run.py``), then times one job: read the parquet file, shuffle it into PARTITIONS by KEY,
``groupBy(KEY).applyInPandas`` with a function that imports the pipeline's MODULES and returns one row
per group. That is Spark's own share of a framework run (cold JVM: query compilation, the shuffle, Python
workers forked and importing), which no framework on Spark can avoid. Prints one JSON line.
"""
from __future__ import annotations

import importlib
import json
import sys
import time

import pandas as pd


def main(argv: list[str]) -> None:
    path, key, partitions, cores, modules = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4:]
    from automl.config import SparkConfig
    from automl.spark.session import get_spark

    spark = get_spark(SparkConfig(master=f"local[{cores}]", conf={"spark.ui.enabled": "false"}))

    def one_row(group: pd.DataFrame) -> pd.DataFrame:
        for name in modules:
            importlib.import_module(name)
        return pd.DataFrame({key: [group[key].iloc[0]]})

    started = time.perf_counter()
    rows = (spark.read.parquet(path).repartition(partitions, key).groupBy(key)
            .applyInPandas(one_row, f"{key} long").collect())
    cold = time.perf_counter() - started
    spark.stop()
    print(json.dumps({"cold_seconds": round(cold, 3), "groups": len(rows)}))


if __name__ == "__main__":
    main(sys.argv[1:])
