"""Start Spark's Python workers and import the pipeline's libraries while the driver is still planning.

A fresh Python worker spends seconds importing scikit-learn, MLflow, featuretools and LightGBM before its
first scenario can start (measured: 3 s from the training stage's start to its first scenario, on 2 idle
cores). Spark reuses Python workers across jobs (``spark.python.worker.reuse``, on by default), so a tiny
job started in the background at the beginning of a run, one task per core, does that work while the JVM
runs the statistics job, and the training stage finds its workers ready.

Best effort: a failed warm-up is logged and changes nothing else.
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Iterator

import pandas as pd
from pyspark.sql import SparkSession

from automl.config import Config
from automl.scenario.families import FAMILIES
from automl.spark.session import task_cpus

__all__ = ["pipeline_modules", "warm_up_workers"]

log = logging.getLogger(__name__)

_ALWAYS = ("automl.scenario.pipeline", "automl.tracking", "hyperopt", "sklearn.metrics", "threadpoolctl")
_SELECTION = {"importance": ("sklearn.ensemble",), "mutual_info": ("sklearn.feature_selection",), "none": ()}


def pipeline_modules(config: Config) -> list[str]:
    """Every library the configured pipeline imports lazily (see :mod:`automl.scenario.families`)."""
    modules = list(_ALWAYS)
    if config.features.enabled:
        modules += ["featuretools", "woodwork"]
    modules += _SELECTION[config.selection.method]
    for family in config.models.families:
        modules += FAMILIES[family].modules
    return list(dict.fromkeys(modules))


def warm_up_workers(spark: SparkSession, config: Config, cores: int) -> threading.Thread | None:
    """Run the import job in a daemon thread, one task per task slot of ``cores`` (``spark.task.cpus`` each);
    returns the thread, or None when pointless."""
    try:
        reuse = str(spark.conf.get("spark.python.worker.reuse", "true")).lower() == "true"
    except Exception:  # a Connect server may not show this setting; Spark's default is to reuse
        reuse = True
    if not reuse:
        return None  # each task would get a fresh worker: nothing to keep warm
    slots = max(1, cores // task_cpus(spark))
    thread = threading.Thread(target=_run, args=(spark, pipeline_modules(config), slots), daemon=True,
                              name="automl-warm-up")
    thread.start()
    return thread


def _run(spark: SparkSession, modules: list[str], slots: int) -> None:
    started = time.perf_counter()
    try:
        ready = (spark.range(0, slots, 1, slots)
                 .mapInPandas(_Importer(modules), "seconds double")
                 .collect())
    except Exception as exc:  # never the job's problem: the first scenarios then pay the imports themselves
        log.info("Python worker warm-up skipped: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return
    log.info("%d Python workers warmed up in %.1fs (imports %.1fs each at most)", len(ready),
             time.perf_counter() - started, max((r["seconds"] for r in ready), default=0.0))


class _Importer:
    """The ``mapInPandas`` function: import ``modules`` in this worker, report how long it took."""

    def __init__(self, modules: list[str]) -> None:
        self.modules = modules

    def __call__(self, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        started = time.perf_counter()
        for name in self.modules:
            importlib.import_module(name)
        for _ in batches:
            pass
        yield pd.DataFrame({"seconds": [time.perf_counter() - started]})
