"""Many-model benchmark: the framework on Spark against a Python loop and joblib, measured in one run.

    python benchmarks/run.py --variant balanced|skewed|overhead|large|all [--scenarios N] [--rows R] [--quick]

Every arm trains the same scenarios with the same per-scenario work (see ``benchmarks/arms.py``): the
pipeline with ``threads=1``, the pyfunc model saved and logged as an MLflow child run, one checkpoint row.
The figures are printed as a table, as ratios to the joblib arm of the same run, and written as JSON
(``--out``). See docs/benchmarks.md for the targets and the latest figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any

# Before mlflow is imported anywhere (here, in Spark's Python workers, in joblib's workers, which all
# inherit this environment): MLflow warns twice per saved pyfunc model, i.e. 20,000 lines at 10,000 scenarios.
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# Benchmark the checkout this script belongs to, in this process and in every worker (Spark's Python
# workers and joblib's inherit PYTHONPATH), whatever an editable install elsewhere points ``automl`` at.
_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path[:0] = [_HERE, _REPO]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO, _HERE, os.environ.get("PYTHONPATH")]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from arms import (ArmResult, run_bare_apply, run_framework, run_joblib, run_pandas_loop,  # noqa: E402
                  run_sequential)
from monitor import MemorySampler, StageSampler, load_average, machine  # noqa: E402
from workload import KEY, VARIANTS, make_config, sizes_for, write_workload  # noqa: E402

log = logging.getLogger("benchmark")

# The targets.
BALANCED_TARGET = 1.10   # framework wall <= 1.10 x joblib wall
SKEWED_TARGET = 1.15     # framework wall <= 1.15 x max(total work / cores, largest scenario)
OVERHEAD_TARGET_MS = 2.0  # framework cost per scenario, amortised


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    variants = list(VARIANTS) if args.variant == "all" else [args.variant]
    cores = args.cores or os.cpu_count() or 1
    workdir = tempfile.mkdtemp(prefix="automl-bench-", dir=args.workdir)
    report: dict[str, Any] = {"command": " ".join(sys.argv), "machine": machine(), "cores": cores,
                              "quick": args.quick, "started_at": time.strftime("%Y-%m-%d %H:%M:%S"), "variants": {}}
    began = time.perf_counter()
    try:
        tracking = _tracking_store(workdir)
        spark, report["spark_start_seconds"] = _spark(cores)
        report["spark_conf"] = {k: v for k, v in spark.sparkContext.getConf().getAll()
                                if k.startswith(("spark.driver.memory", "spark.executor.memory", "spark.master",
                                                 "spark.python", "spark.sql.execution.arrow"))}
        for variant in variants:
            _say(f"\n=== {variant} === load average {_load()}")
            figures = run_variant(variant, args, cores=cores, spark=spark, workdir=workdir, tracking=tracking)
            report["variants"][variant] = figures
            _print_variant(variant, figures)
        report["total_seconds"] = round(time.perf_counter() - began, 1)
    finally:
        name = f"{args.variant}{'-quick' if args.quick else ''}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out = args.out or os.path.join(_HERE, "results", name)
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, default=_jsonable)
        _say(f"\nresults: {out}  (total {time.perf_counter() - began:.0f}s)")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variant", choices=[*VARIANTS, "all"], default="balanced")
    parser.add_argument("--scenarios", type=int, help="number of scenarios (default: per variant)")
    parser.add_argument("--rows", type=int, help="rows per (ordinary) scenario (default: per variant)")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes: a smoke test (under a minute per variant on a quiet machine)")
    parser.add_argument("--cores", type=int, help="cores for joblib and local[cores] (default: nproc)")
    parser.add_argument("--sample", type=int, default=1000,
                        help="overhead variant: scenarios the sequential loop times (the ideal work is "
                             "extrapolated from them; default 1000)")
    parser.add_argument("--no-log-models", action="store_true",
                        help="mlflow.log_models=false in every arm (child runs and saved models stay)")
    parser.add_argument("--out", help="JSON results file (default: benchmarks/results/<variant>-<time>.json)")
    parser.add_argument("--workdir", help="where the temporary data and outputs go (default: system temp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data and outputs")
    parser.add_argument("--verbose", action="store_true", help="log the framework's INFO messages")
    return parser.parse_args(argv)


def run_variant(variant: str, args: argparse.Namespace, *, cores: int, spark: Any, workdir: str,
                tracking: str) -> dict[str, Any]:
    """Generate the variant's data, run every arm on it, and derive the figures of the issue."""
    sizes = sizes_for(variant, quick=args.quick, scenarios=args.scenarios, rows=args.rows)
    root = os.path.join(workdir, variant)
    started = time.perf_counter()
    workload = write_workload(os.path.join(root, "data"), sizes)
    _say(f"{workload.n_scenarios} scenarios, {sizes.total_rows:,} rows "
         f"({sizes.heavy} scenarios x{sizes.factor} larger); data written in {time.perf_counter() - started:.1f}s")

    def config(arm: str, scenario_runs: str = "per_scenario"):
        return make_config(variant, data_path=workload.path, output_path=os.path.join(root, arm),
                           tracking_uri=tracking, cores=cores, log_models=not args.no_log_models, quick=args.quick,
                           scenario_runs=scenario_runs)

    figures: dict[str, Any] = {"sizes": vars(sizes) | {"total_rows": sizes.total_rows},
                               "config": config("framework").model_dump(mode="json", exclude={"data", "output"})}
    arms: dict[str, ArmResult] = {}

    # (a) the sequential loop; at 10,000 tiny scenarios a sample of them gives the ideal work.
    only = None
    if variant == "overhead" and args.sample and args.sample < workload.n_scenarios:
        only = set(range(0, workload.n_scenarios, workload.n_scenarios // args.sample))
    arms["sequential"] = _measure("sequential", lambda: run_sequential(config("sequential"), workload.path, only=only))
    # (b) joblib over every core.
    arms["joblib"] = _measure("joblib", lambda: run_joblib(config("joblib"), workload.path, cores=cores))
    # (c) the framework on Spark, with its stages watched.
    with StageSampler(spark, f"bench-{variant}") as stages:
        arms["framework"] = _measure("framework", lambda: run_framework(config("framework"), spark))
    if variant in ("balanced", "skewed"):
        figures["spark_floor"] = _spark_floor(workload.path, cores, config("framework"))
    if variant == "overhead":
        # The same job with mlflow.scenario_runs: none: no child run and no pyfunc directory per scenario.
        arms["framework_no_runs"] = _measure("framework_no_runs",
                                             lambda: run_framework(config("framework_no_runs", "none"), spark))
        figures["publishing"] = _publishing(arms["framework"], arms["framework_no_runs"])
        arms["pandas_loop"] = _measure("pandas_loop", lambda: run_pandas_loop(workload.path, KEY))
        partitions = cores * config("framework").execution.partitions_per_core
        arms["bare_apply"] = _measure("bare_apply", lambda: run_bare_apply(spark, workload.path, KEY, partitions))
        if not args.quick:
            arms["bare_apply_fit"] = _measure("bare_apply_fit", lambda: run_bare_apply(spark, workload.path, KEY,
                                                                                       partitions, fit=True))

    figures["arms"] = {name: _arm_figures(arm, workload.n_scenarios) for name, arm in arms.items()}
    if only is not None:
        figures["arms"]["sequential"]["sampled_scenarios"] = len(only)
    joblib_wall = arms["joblib"].wall_seconds
    for name, arm in arms.items():
        figures["arms"][name]["ratio_to_joblib"] = round(arm.wall_seconds / joblib_wall, 3)
    figures["work"] = _work(arms["sequential"].rows, workload.n_scenarios, cores)
    figures["framework"] = _framework_figures(arms["framework"], stages, workload.rows_by_scenario, cores,
                                              config("framework").execution)
    figures["joblib_timeline"] = _timeline(arms["joblib"].rows, "work_seconds", cores)
    figures["targets"] = _targets(variant, figures, arms, cores, workload.n_scenarios)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def _publishing(per_scenario: ArmResult, bulk: ArmResult) -> dict[str, Any]:
    """Issue 11's figures: publishing ms per scenario in each MLflow mode (the results' ``seconds_publish``),
    and the whole framework wall without child runs over its wall with them (both measured in this run)."""
    def publish_ms(arm: ArmResult) -> float:
        return round(float(arm.rows["seconds_publish"].mean()) * 1000, 2)

    ratio = bulk.wall_seconds / per_scenario.wall_seconds
    return {"publish_ms_per_scenario_child_runs": publish_ms(per_scenario),
            "publish_ms_per_scenario_none": publish_ms(bulk), "publish_target_ms": 2.0,
            "wall_none_over_child_runs": round(ratio, 3), "wall_target": 0.6,
            "met": publish_ms(bulk) <= 2.0 and ratio <= 0.6}


def _spark_floor(path: str, cores: int, config: Any) -> dict[str, Any]:
    """Spark's own cost for this job shape on a fresh JVM (``spark_floor.py``, in its own process)."""
    import subprocess

    from automl.spark.warmup import pipeline_modules

    partitions = cores * config.execution.partitions_per_core
    _say("  spark floor     running (own JVM)...")
    done = subprocess.run([sys.executable, os.path.join(_HERE, "spark_floor.py"), path, KEY, str(partitions),
                           str(cores), *pipeline_modules(config)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"error": done.stderr[-1000:]}
    floor = json.loads(done.stdout.strip().splitlines()[-1])
    _say(f"  spark floor     {floor['cold_seconds']:.1f}s (read, shuffle, workers started and importing; no work)")
    return floor


def _measure(name: str, action) -> ArmResult:
    """Run one arm with memory sampling; the load average is read before and after."""
    before = load_average()
    _say(f"  {name:<15} running (load {before[0]:.2f})...")
    with MemorySampler() as memory:
        result = action()
    result.details.update(memory=memory.summary(), load_before=before, load_after=load_average())
    _say(f"  {name:<15} {result.wall_seconds:8.1f}s  ok={result.n_ok}/{len(result.rows)}  "
         f"load {before[0]:.2f} -> {result.details['load_after'][0]:.2f}")
    return result


def _arm_figures(arm: ArmResult, n_scenarios: int) -> dict[str, Any]:
    rows = arm.rows
    out: dict[str, Any] = {"wall_seconds": round(arm.wall_seconds, 2), "scenarios": len(rows), "ok": arm.n_ok,
                           "scenarios_per_second": round(len(rows) / arm.wall_seconds, 2), **arm.details}
    if "peak_memory_mb" in rows:
        out["scenario_peak_memory_mb_max"] = round(float(rows["peak_memory_mb"].max()), 1)
        out["scenario_peak_memory_mb_median"] = round(float(rows["peak_memory_mb"].median()), 1)
    if "seconds_total" in rows:
        out["scenario_seconds_sum"] = round(float(rows["seconds_total"].sum()), 2)
    if "logging_error" in rows:
        out["logging_errors"] = int((rows["logging_error"].fillna("") != "").sum())
    if "status" in rows and arm.n_ok < len(rows):
        out["errors"] = rows.loc[rows["status"] != "ok", "error"].astype(str).str[:200].value_counts().head(3).to_dict()
    return out


def _work(rows: pd.DataFrame, n_scenarios: int, cores: int) -> dict[str, Any]:
    """Per-scenario work from the sequential loop: total (extrapolated when sampled), largest, and parts."""
    work = rows["work_seconds"]
    scale = n_scenarios / len(rows)
    publish = rows["seconds_publish"] + rows["checkpoint_seconds"]
    fit = work - publish
    steps = {s: round(float(rows[f"seconds_{s}"].mean() * 1000), 2)
             for s in ("split", "features", "select", "tune", "refit", "evaluate", "publish")}
    return {"total_seconds": round(float(work.sum() * scale), 2), "largest_seconds": round(float(work.max()), 3),
            "mean_ms": round(float(work.mean() * 1000), 2), "fit_mean_ms": round(float(fit.mean() * 1000), 2),
            "publish_and_checkpoint_mean_ms": round(float(publish.mean() * 1000), 2),
            "checkpoint_mean_ms": round(float(rows["checkpoint_seconds"].mean() * 1000), 2),
            "step_mean_ms": steps, "extrapolated_from": len(rows) if scale != 1 else None,
            "ideal_seconds": round(max(float(work.sum() * scale) / cores, float(work.max())), 2)}


def _framework_figures(arm: ArmResult, stages: StageSampler, rows_by_scenario: dict[int, int], cores: int,
                       execution: Any) -> dict[str, Any]:
    from automl.spark.planning import plan_partitions

    plan = plan_partitions({(k,): n for k, n in rows_by_scenario.items()}, cores=cores,
                           partitions_per_core=execution.partitions_per_core, pack_rows=execution.pack_rows)
    stage_list = stages.stages()
    # The training stage is the one that ran longest (most status-tracker samples).
    samples = {s["stage"]: sum(1 for _, stage, _ in stages.trace if stage == s["stage"]) for s in stage_list}
    training = max(stage_list, key=lambda s: samples[s["stage"]], default=None)
    rows = arm.rows
    per_partition = rows.groupby("partition_id")["seconds_total"].agg(["count", "sum"]).round(2)
    return {"plan": {"partitions": plan.n_partitions, "groups": plan.n_packs, "expected_imbalance": round(plan.imbalance(cores), 3),
                     "bucket_loads_rows": list(plan.loads)},
            "stages": stage_list,
            "training_stage": training,
            "training_stage_busy": stages.busy_profile(training["stage"], cores) if training else {},
            "phases_seconds": stages.phases(training["stage"], _first_start(rows)) if training else {},
            "partitions": {int(p): {"scenarios": int(r["count"]), "busy_seconds": float(r["sum"])}
                           for p, r in per_partition.iterrows()},
            "executors": sorted(rows["executor_id"].dropna().unique().tolist()),
            "timeline": _timeline(rows, "seconds_total", cores),
            "publish_mean_ms": round(float(rows["seconds_publish"].mean() * 1000), 2),
            "scenario_seconds_mean_ms": round(float(rows["seconds_total"].mean() * 1000), 2)}


def _first_start(rows: pd.DataFrame) -> float | None:
    if "finished_at" not in rows or rows["finished_at"].isna().all():
        return None
    return float((rows["finished_at"] - rows["seconds_total"]).min())


def _timeline(rows: pd.DataFrame, duration: str, cores: int) -> dict[str, float]:
    """From each scenario's end time and duration: how long all cores were busy, and the idle tail.

    ``tail_seconds`` is the time between the last moment every core had a scenario and the end of the
    last one: the part of the run where some core had nothing left to do.
    """
    if "finished_at" not in rows or rows["finished_at"].isna().all():
        return {}
    end = rows["finished_at"].to_numpy(dtype="float64")
    start = end - rows[duration].to_numpy(dtype="float64")
    events = sorted([(t, 1) for t in start] + [(t, -1) for t in end])
    running, last_t, full, last_full_end = 0, events[0][0], 0.0, events[0][0]
    for t, change in events:
        if running >= cores:
            full += t - last_t
            last_full_end = t
        running += change
        last_t = t
    span = float(end.max() - start.min())
    return {"span_seconds": round(span, 2), "all_cores_busy_seconds": round(float(full), 2),
            "all_cores_busy_fraction": round(float(full) / span, 3) if span else 1.0,
            "tail_seconds": round(float(end.max() - last_full_end), 2)}


def _targets(variant: str, figures: dict[str, Any], arms: dict[str, ArmResult], cores: int,
             n_scenarios: int) -> dict[str, Any]:
    framework = arms["framework"].wall_seconds
    joblib = arms["joblib"].wall_seconds
    work = figures["work"]
    load = arms["framework"].details["load_before"][0], arms["framework"].details["load_after"][0]
    cpu = {name: arm.details["memory"]["cpu_seconds"] for name, arm in arms.items()}
    # The load-independent view: CPU seconds each arm consumed (driver, JVM, every worker).
    sampled = len(arms["sequential"].rows) / n_scenarios
    cpu_figures = {"cpu_seconds": cpu, "framework_cpu_over_joblib_cpu": round(cpu["framework"] / cpu["joblib"], 3),
                   "sequential_cpu_seconds_for_all_scenarios": round(cpu["sequential"] / sampled, 2)}
    floor = figures.get("spark_floor", {}).get("cold_seconds")
    if variant == "balanced":
        ratio = framework / joblib
        return {"framework_over_joblib": round(ratio, 3), "target": BALANCED_TARGET,
                "met": ratio <= BALANCED_TARGET, "load": load, "spark_floor_seconds": floor,
                "framework_minus_spark_floor_seconds": round(framework - floor, 2) if floor else None,
                **cpu_figures}
    if variant == "skewed":
        ideal = work["ideal_seconds"]
        return {"total_work_seconds": work["total_seconds"], "largest_scenario_seconds": work["largest_seconds"],
                "ideal_seconds": ideal, "framework_over_ideal": round(framework / ideal, 3),
                "joblib_over_ideal": round(joblib / ideal, 3), "target": SKEWED_TARGET,
                "met": framework / ideal <= SKEWED_TARGET, "load": load, "spark_floor_seconds": floor,
                "framework_minus_spark_floor_seconds": round(framework - floor, 2) if floor else None,
                **cpu_figures}
    if variant == "overhead":
        ideal = work["total_seconds"] / cores
        fit_only = work["fit_mean_ms"] / 1000 * n_scenarios / cores
        cost_ms = (framework - ideal) / n_scenarios * 1000
        floors = {name: round(arms[name].wall_seconds / n_scenarios * 1000, 3)
                  for name in ("pandas_loop", "bare_apply", "bare_apply_fit") if name in arms}
        extra_cpu = cpu["framework"] - cpu_figures["sequential_cpu_seconds_for_all_scenarios"]
        return {"ideal_work_over_cores_seconds": round(ideal, 2),
                "framework_cost_per_scenario_ms": round(cost_ms, 2),
                "joblib_cost_per_scenario_ms": round((joblib - ideal) / n_scenarios * 1000, 2),
                "framework_cost_incl_publishing_per_scenario_ms": round((framework - fit_only) / n_scenarios * 1000, 2),
                "framework_extra_cpu_ms_per_scenario": round(extra_cpu / n_scenarios * 1000, 2),
                "framework_extra_cpu_ms_per_scenario_over_cores": round(extra_cpu / n_scenarios / cores * 1000, 2),
                "floor_ms_per_scenario": floors, "target_ms": OVERHEAD_TARGET_MS,
                "met": cost_ms <= OVERHEAD_TARGET_MS, "load": load, **cpu_figures}
    row = arms["framework"].rows.iloc[0]
    memory = arms["framework"].details["memory"]
    return {"status": row["status"], "error": str(row.get("error", ""))[:300],
            "python_worker_peak_mb_from_results": float(row["peak_memory_mb"]),
            "python_worker_peak_rss_mb_sampled": memory["worker_rss_mb"], "jvm_peak_rss_mb": memory["jvm_rss_mb"],
            "driver_python_peak_rss_mb": memory["driver_rss_mb"],
            "executor_memory_settings": "Spark defaults (spark.driver.memory / spark.executor.memory not set)",
            "met": row["status"] == "ok", "load": load}


def _print_variant(variant: str, figures: dict[str, Any]) -> None:
    arms = figures["arms"]
    _say(f"\n{variant}: {figures['sizes']['scenarios']} scenarios, {figures['sizes']['total_rows']:,} rows")
    _say(f"{'arm':<15}{'wall s':>9}{'scen/s':>9}{'x joblib':>9}{'CPU s':>9}{'driver MB':>11}{'JVM MB':>9}"
         f"{'worker MB':>11}{'scen peak MB':>13}{'load':>13}")
    for name, arm in arms.items():
        memory = arm.get("memory", {})
        load = f"{arm['load_before'][0]:.1f}->{arm['load_after'][0]:.1f}"
        _say(f"{name:<15}{arm['wall_seconds']:>9.1f}{arm['scenarios_per_second']:>9.1f}{arm['ratio_to_joblib']:>9.2f}"
             f"{memory.get('cpu_seconds', 0):>9.1f}"
             f"{memory.get('driver_rss_mb', 0):>11.0f}{memory.get('jvm_rss_mb', 0):>9.0f}"
             f"{memory.get('worker_rss_mb', 0):>11.0f}{arm.get('scenario_peak_memory_mb_max', float('nan')):>13.0f}"
             f"{load:>13}")
    work, framework = figures["work"], figures["framework"]
    _say(f"work per scenario (sequential): mean {work['mean_ms']:.1f} ms = fit {work['fit_mean_ms']:.1f} + "
         f"publish/checkpoint {work['publish_and_checkpoint_mean_ms']:.1f}; total {work['total_seconds']:.1f}s, "
         f"largest {work['largest_seconds']:.2f}s")
    plan = framework["plan"]
    _say(f"plan: {plan['partitions']} partitions, {plan['groups']} groups, "
         f"expected imbalance {plan['expected_imbalance']:.2f}x; "
         f"training stage {framework['training_stage']}")
    _say("tasks per stage: " + ", ".join(f"{s['name']}:{s['tasks']}" for s in framework["stages"]))
    _say(f"training stage busy: {framework['training_stage_busy']}")
    _say(f"framework phases (s): {framework['phases_seconds']}")
    _say(f"framework timeline: {framework['timeline']}; joblib timeline: {figures['joblib_timeline']}")
    _say(f"TARGET: {json.dumps(figures['targets'], default=_jsonable)}")


def _tracking_store(workdir: str) -> str:
    """One SQLite MLflow store for every arm, created (schema migrations and all) before any timing."""
    from mlflow.tracking import MlflowClient

    uri = "sqlite:///" + os.path.join(workdir, "mlflow.db")
    started = time.perf_counter()
    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    _say(f"MLflow store {uri} created in {time.perf_counter() - started:.1f}s (not counted in any arm)")
    return uri


def _spark(cores: int):
    """A ``local[cores]`` session with the framework's own settings (its ``get_spark``), UI off."""
    from automl.config import SparkConfig
    from automl.spark.session import get_spark

    started = time.perf_counter()
    spark = get_spark(SparkConfig(master=f"local[{cores}]", app_name="automl-benchmark",
                                  conf={"spark.ui.enabled": "false"}))
    spark.sparkContext.setLogLevel("ERROR")
    seconds = time.perf_counter() - started
    _say(f"Spark {spark.version} local[{cores}] started in {seconds:.1f}s (not counted in any arm)")
    return spark, round(seconds, 2)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in load_average())


def _say(text: str) -> None:
    print(text, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
