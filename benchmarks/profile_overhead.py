"""Where a tiny scenario's time goes: the fixed cost every scenario pays, measured piece by piece.

    python benchmarks/profile_overhead.py [--scenarios 300] [--driver-scenarios 2000] [--skip-spark]

1. imports a fresh Python worker pays once (incremental seconds per module, in a subprocess);
2. the per-scenario body the framework runs in a worker (``train_one`` with publishing, then the
   checkpoint), under cProfile, on the overhead variant's tiny scenarios: milliseconds per scenario for
   each component (split, featuretools setup, hyperopt setup, fits, thread limiting, pyfunc save, MLflow
   run creation / logging / artifact upload / termination, checkpoint write);
3. Arrow conversion of one group and one result row, as the pandas UDF does per scenario;
4. the driver side of ``automl.jobs.train`` on ``--driver-scenarios`` tiny scenarios under cProfile
   (statistics job, the pooled slopes' first pass, planning, collect, reading checkpoints back, the model set,
   holdout and results tables, the report), per scenario.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
# Benchmark the checkout this script belongs to, in this process and in every worker (Spark's Python
# workers and joblib's inherit PYTHONPATH), whatever an editable install elsewhere points ``automl`` at.
_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path[:0] = [_HERE, _REPO]
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [_REPO, _HERE, os.environ.get("PYTHONPATH")]))

import pandas as pd  # noqa: E402

from monitor import load_average, machine  # noqa: E402
from workload import KEY, Sizes, make_config, write_workload  # noqa: E402

# (label, file suffix, function name): cumulative time of these frames, per scenario. Nested entries are
# shown indented; a parent's time includes its children.
_COMPONENTS = [
    ("scenario body (train + publish + checkpoint)", "arms.py", "__call__"),
    ("  train_one", "scenario_task.py", "train_one"),
    ("    reset_peak_rss + peak_rss_mb (/proc)", "resources.py", "reset_peak_rss"),
    ("    peak_rss_mb", "resources.py", "peak_rss_mb"),
    ("    limit_threads (threadpoolctl)", "resources.py", "limit_threads"),
    ("    fit_scenario", "pipeline.py", "fit_scenario"),
    ("      prepare_rows", "pipeline.py", "prepare_rows"),
    ("      holdout_split", "split.py", "holdout_split"),
    ("      FeatureEnricher.fit", "features.py", "fit"),
    ("      FeatureEnricher.transform", "features.py", "transform"),
    ("      select_features", "select.py", "select_features"),
    ("      HyperoptTuner.tune", "tuning.py", "tune"),
    ("        hyperopt.fmin", "fmin.py", "fmin"),
    ("        objective (fit + score per trial)", "pipeline.py", "objective"),
    ("      estimator fits (sklearn Pipeline.fit)", "sklearn/pipeline.py", "fit"),
    ("      compute_metrics", "metrics.py", "compute_metrics"),
    ("    publish (ModelPublisher.__call__)", "tracking.py", "__call__"),
    ("      save_scenario_model (pyfunc save)", "tracking.py", "save_scenario_model"),
    ("        cloudpickle.dump of the model", "cloudpickle.py", "dump"),
    ("      ModelPublisher._log (MLflow)", "tracking.py", "_log"),
    ("        MlflowClient.create_run", "tracking/client.py", "create_run"),
    ("        MlflowClient.log_batch", "tracking/client.py", "log_batch"),
    ("        log_artifacts (model upload)", "local_artifact_repo.py", "log_artifacts"),
    ("        MlflowClient.set_terminated", "tracking/client.py", "set_terminated"),
    ("  write_checkpoint", "rundir.py", "write_checkpoint"),
]

_DRIVER_COMPONENTS = [
    ("jobs.train", "jobs/train.py", "train"),
    ("  JobRun.start (check store, parent run, params)", "tracking/runs.py", "start"),
    ("  build master (SparkEngine.scenarios)", "spark/engine.py", "scenarios"),
    ("  statistics (aggregation job + toPandas)", "spark/engine.py", "statistics"),
    ("  _fingerprint", "jobs/train.py", "_fingerprint"),
    ("  _decide (checks, resume, changed-only)", "jobs/train.py", "_decide"),
    ("  pooled_evidence (the pooled slopes' first pass)", "jobs/pooling.py", "pooled_evidence"),
    ("    SparkScenarios.summarise", "spark/engine.py", "summarise"),
    ("    PooledEvidence.combine (driver)", "scenario/pooling.py", "combine"),
    ("  SparkScenarios.train", "spark/engine.py", "train"),
    ("    plan_partitions", "planning.py", "plan_partitions"),
    ("    distribute (bucket values + mapping frame)", "planning.py", "distribute"),
    ("      bucket_values (Spark's hash, in Python)", "planning.py", "bucket_values"),
    ("    DataFrame.toPandas (training and statistics jobs)", "sql/classic/dataframe.py", "toPandas"),
    ("  _current_rows (checkpoints of scenarios not trained now)", "jobs/train.py", "_current_rows"),
    ("    RunDirectory.read_checkpoints", "rundir.py", "read_checkpoints"),
    ("  promote (the model set)", "modelset.py", "promote"),
    ("  write_holdout (holdout table)", "jobs/outputs.py", "write_holdout"),
    ("  createDataFrame(results)", "session.py", "createDataFrame"),
    ("  write_table (results parquet)", "spark/engine.py", "write_table"),
    ("  ModelSet.write", "modelset.py", "write"),
    ("  publish_report (report.html)", "jobs/outputs.py", "publish_report"),
    ("  JobRun.log_results", "tracking/runs.py", "log_results"),
    ("  JobRun.finish", "tracking/runs.py", "finish"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", type=int, default=300, help="tiny scenarios profiled in-process")
    parser.add_argument("--driver-scenarios", type=int, default=2000, help="tiny scenarios for the driver profile")
    parser.add_argument("--skip-spark", action="store_true", help="only the in-process parts")
    parser.add_argument("--spy-scenarios", type=int, default=1000,
                        help="tiny scenarios for the py-spy profile of Spark's Python workers (0: skip)")
    parser.add_argument("--parts", default="imports,scenario,arrow,driver,workers",
                        help="comma-separated subset of imports,scenario,arrow,driver,workers")
    parser.add_argument("--out", help="JSON file for the figures")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data, outputs and py-spy files")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"machine": machine(), "load_before": load_average()}
    workdir = tempfile.mkdtemp(prefix="automl-profile-")
    print(f"load average {load_average()}")
    parts = set(args.parts.split(","))
    if args.skip_spark:
        parts -= {"driver", "workers"}
    if "imports" in parts:
        report["imports"] = import_costs()
    if "scenario" in parts:
        report["scenario"] = scenario_profile(workdir, args.scenarios)
    if "arrow" in parts:
        report["arrow"] = arrow_costs()
    if "driver" in parts:
        report["driver"] = driver_profile(workdir, args.driver_scenarios)
    if "workers" in parts and args.spy_scenarios:
        report["workers"] = worker_profile(workdir, args.spy_scenarios)
    report["load_after"] = load_average()
    print(f"load average {load_average()}")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2, default=str)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def import_costs() -> dict[str, float]:
    """Incremental import seconds, in the order a fresh Spark Python worker running the framework meets them."""
    modules = ["pandas", "pyarrow", "pyspark.sql", "automl.scenario.pipeline", "automl.spark.worker",
               "threadpoolctl", "sklearn.ensemble", "sklearn.linear_model", "lightgbm", "hyperopt",
               "featuretools", "mlflow", "mlflow.pyfunc", "automl.tracking"]
    code = ("import importlib, json, time, sys\nout = {}\nt0 = time.perf_counter()\n"
            f"for name in {modules!r}:\n    t = time.perf_counter(); importlib.import_module(name)\n"
            "    out[name] = round(time.perf_counter() - t, 3)\n"
            "out['total'] = round(time.perf_counter() - t0, 3)\nprint(json.dumps(out))")
    best: dict[str, float] = {}
    for _ in range(2):  # the second run has a warm page cache; keep the faster of the two per module
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                env={**os.environ, "MLFLOW_LOGGING_LEVEL": "ERROR"})
        figures = json.loads(result.stdout.strip().splitlines()[-1])
        best = {k: min(v, best.get(k, v)) for k, v in figures.items()}
    print("\nImports a fresh Python worker pays once (incremental seconds):")
    for name, seconds in best.items():
        print(f"  {name:<28}{seconds:7.2f}")
    return best


def scenario_profile(workdir: str, n: int) -> dict[str, Any]:
    """cProfile of the per-scenario body on ``n`` tiny scenarios (after a 20-scenario warm-up)."""
    from arms import _job  # the same ScenarioWork the baselines use: train, publish, checkpoint

    from mlflow.tracking import MlflowClient

    uri = "sqlite:///" + os.path.join(workdir, "mlflow.db")
    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)
    workload = write_workload(os.path.join(workdir, "tiny"), Sizes(n + 20, 20))
    config = make_config("overhead", data_path=workload.path, output_path=os.path.join(workdir, "seq"),
                         tracking_uri=uri, cores=1)
    _, work, job = _job(config, "profile", True)
    groups = [(k, g) for k, g in pd.read_parquet(workload.path).groupby(KEY)]
    for key, group in groups[:20]:
        work(key, group)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for key, group in groups[20:]:
        work(key, group)
    profiler.disable()
    wall = time.perf_counter() - started
    job.finish(succeeded=True)
    stats = pstats.Stats(profiler)
    rows = _components(stats, _COMPONENTS, n)
    print(f"\nPer-scenario body on {n} tiny scenarios (20 rows, linear, 1 eval), under cProfile "
          f"({wall / n * 1000:.1f} ms per scenario with profiling on; load {load_average()[0]:.2f}):")
    for label, ms in rows.items():
        print(f"  {label:<52}{ms:8.2f} ms")
    top = io.StringIO()
    pstats.Stats(profiler, stream=top).sort_stats("tottime").print_stats(25)
    print("\nTop functions by own time:")
    print("\n".join(top.getvalue().splitlines()[6:40]))
    # Without the profiler: the real cost of the same body, then of the pieces that matter.
    plain = _plain_timings(work, groups[20:], config)
    print("\nWithout cProfile (ms per scenario):")
    for label, ms in plain.items():
        print(f"  {label:<52}{ms:8.2f} ms")
    return {"profiled_ms": rows, "plain_ms": plain, "wall_ms_profiled": round(wall / n * 1000, 2)}


def _plain_timings(work: Any, groups: list, config: Any) -> dict[str, float]:
    from automl.jobs.scenario_task import ScenarioContext, train_one
    from automl.scenario.resources import limit_threads, peak_rss_mb, reset_peak_rss

    out: dict[str, float] = {}
    started = time.perf_counter()
    rows = [work(k, g) for k, g in groups]
    out["scenario body (train + publish + checkpoint)"] = (time.perf_counter() - started) / len(groups) * 1000
    frame = pd.DataFrame(rows)
    for step in ("split", "features", "select", "tune", "refit", "evaluate", "publish"):
        out[f"  seconds_{step} (the results' own stopwatch)"] = float(frame[f"seconds_{step}"].mean() * 1000)
    out["  checkpoint write"] = float(frame["checkpoint_seconds"].mean() * 1000)
    started = time.perf_counter()
    for k, g in groups:
        train_one(g, {KEY: int(k)}, ScenarioContext(config, threads=1))
    out["train_one without publishing"] = (time.perf_counter() - started) / len(groups) * 1000
    out["limit_threads(1) enter+exit"] = _time(lambda: _enter_exit(limit_threads(1)), 200)
    out["reset_peak_rss + peak_rss_mb"] = _time(lambda: (reset_peak_rss(), peak_rss_mb()), 500)
    return {k: round(v, 3) for k, v in out.items()}


def _enter_exit(context: Any) -> None:
    with context:
        pass


def arrow_costs() -> dict[str, float]:
    """What the pandas UDF converts per scenario: the group in (Arrow -> pandas), one result row out."""
    import numpy as np
    import pyarrow as pa

    group = pd.DataFrame({KEY: np.zeros(20, dtype="int64"), "row_id": np.arange(20), "_automl_bucket": 3,
                          **{f"x{i}": np.random.default_rng(i).normal(size=20) for i in range(1, 6)},
                          "channel": ["web"] * 20, "y": np.arange(20.0)})
    table = pa.Table.from_pandas(group, preserve_index=False)
    row = {f"c{i}": 1.0 for i in range(30)} | {f"s{i}": "x" * 20 for i in range(12)} | {"features": ["a", "b"]}
    result = pd.DataFrame([row])
    out = {"arrow_to_pandas_20_rows_ms": _time(lambda: table.to_pandas(), 300),
           "pandas_to_arrow_result_row_ms": _time(lambda: pa.Table.from_pandas(result, preserve_index=False), 300),
           "dataframe_of_one_row_ms": _time(lambda: pd.DataFrame([row]), 300)}
    print("\nArrow conversion per scenario (ms): " + ", ".join(f"{k}={v:.3f}" for k, v in out.items()))
    return out


def _time(action: Any, times: int) -> float:
    started = time.perf_counter()
    for _ in range(times):
        action()
    return round((time.perf_counter() - started) / times * 1000, 4)


def driver_profile(workdir: str, n: int) -> dict[str, Any]:
    """cProfile of ``jobs.train`` in the driver on ``n`` tiny scenarios (Spark workers are not profiled)."""
    from monitor import StageSampler

    from arms import run_framework
    from automl.config import SparkConfig
    from automl.spark.session import get_spark

    spark = get_spark(SparkConfig(master="local[2]", conf={"spark.ui.enabled": "false"}))
    spark.sparkContext.setLogLevel("ERROR")
    workload = write_workload(os.path.join(workdir, "driver"), Sizes(n, 20))
    uri = "sqlite:///" + os.path.join(workdir, "mlflow.db")
    warm = make_config("overhead", data_path=write_workload(os.path.join(workdir, "warm"), Sizes(20, 20)).path,
                       output_path=os.path.join(workdir, "warm-out"), tracking_uri=uri, cores=2)
    run_framework(warm, spark)  # start the Python workers and import everything in them first
    config = make_config("overhead", data_path=workload.path, output_path=os.path.join(workdir, "driver-out"),
                         tracking_uri=uri, cores=2)
    profiler = cProfile.Profile()
    with StageSampler(spark, "profile") as stages:
        profiler.enable()
        started = time.perf_counter()
        arm = run_framework(config, spark)
        wall = time.perf_counter() - started
        profiler.disable()
    rows = _components(pstats.Stats(profiler), _DRIVER_COMPONENTS, 1)
    per = {label: round(ms / n, 3) for label, ms in rows.items()}
    print(f"\nDriver side of jobs.train on {n} tiny scenarios: {wall:.1f}s wall "
          f"({wall / n * 1000:.2f} ms per scenario; load {load_average()[0]:.2f}):")
    for label, ms in rows.items():
        print(f"  {label:<58}{ms / 1000:8.2f} s {per[label]:8.3f} ms/scenario")
    print("  stages: " + ", ".join(f"{s['name']}:{s['tasks']}" for s in stages.stages()))
    seconds = arm.rows["seconds_total"]
    print(f"  scenarios in workers: mean seconds_total {seconds.mean() * 1000:.1f} ms, sum {seconds.sum():.1f}s "
          f"(/2 cores = {seconds.sum() / 2:.1f}s)")
    return {"wall_seconds": round(wall, 2), "components_ms_total": rows, "components_ms_per_scenario": per,
            "worker_seconds_total_sum": round(float(seconds.sum()), 2), "stages": stages.stages()}


# Stack-frame markers (qualified name, file suffix) for the py-spy breakdown of Spark's Python workers;
# py-spy names frames ``Qualified.name (relative/path.py:line)``.
_WORKER_MARKERS = [
    ("TrainPacks.__call__ (framework, per pack)", "TrainPacks.__call__", "automl/spark/worker.py"),
    ("  train_one", "train_one", "automl/jobs/scenario_task.py"),
    ("    limit_threads (threadpoolctl)", "limit_threads", "automl/scenario/resources.py"),
    ("    fit_scenario", "fit_scenario", "automl/scenario/pipeline.py"),
    ("    ModelPublisher.__call__ (save + MLflow)", "ModelPublisher.__call__", "automl/tracking/publish.py"),
    ("      save_scenario_model (pyfunc save)", "save_scenario_model", "automl/tracking/pyfunc.py"),
    ("      ModelPublisher._log (MLflow requests)", "ModelPublisher._log", "automl/tracking/publish.py"),
    ("  write_checkpoint", "write_checkpoint", "automl/rundir.py"),
    ("  blank_row + executor_id", ("blank_row", "executor_id"), "automl/"),
    ("pandas -> Arrow of the result rows", "PandasToArrowConversion.convert", ""),
    ("Arrow -> pandas of the groups", "ArrowArrayToPandasConversion.convert", ""),
    ("reading the pickled UDF (once per task)", "CloudPickleSerializer.loads", ""),
    ("imports (anywhere in the worker)", "_find_and_load", ""),
]


def _marks(frame: str, names: str | tuple[str, ...], suffix: str) -> bool:
    names = (names,) if isinstance(names, str) else names
    return any(frame.startswith(name + " (") for name in names) and (not suffix or f"{suffix}:" in frame)


def worker_profile(workdir: str, n: int, rate: int = 100) -> dict[str, Any]:
    """py-spy on every Spark Python worker while ``jobs.train`` runs ``n`` tiny scenarios.

    Only samples of busy threads are recorded (py-spy's default), so a marker's share is the share of the
    workers' CPU time spent below it. Needs ``py-spy`` (pip install py-spy) and ptrace permission.
    """
    import signal
    import threading

    import psutil

    from arms import run_framework
    from automl.config import SparkConfig
    from automl.spark.session import get_spark

    if shutil.which("py-spy") is None:
        print("\npy-spy is not installed: worker profile skipped (pip install py-spy)")
        return {}
    spark = get_spark(SparkConfig(master="local[2]", conf={"spark.ui.enabled": "false"}))
    spark.sparkContext.setLogLevel("ERROR")
    uri = "sqlite:///" + os.path.join(workdir, "mlflow.db")
    workload = write_workload(os.path.join(workdir, "spy"), Sizes(n, 20))
    config = make_config("overhead", data_path=workload.path, output_path=os.path.join(workdir, "spy-out"),
                         tracking_uri=uri, cores=2)
    recorders: dict[int, subprocess.Popen] = {}
    stop = threading.Event()

    def attach() -> None:  # workers are forked by pyspark.daemon when the job starts: attach as they appear
        me = psutil.Process()
        while not stop.wait(0.05):
            for child in me.children(recursive=True):
                try:
                    command = " ".join(child.cmdline())
                    parent = child.parent()
                except psutil.Error:
                    continue
                # A worker is a pyspark.daemon fork: its parent is the daemon itself.
                if ("pyspark.daemon" in command and parent is not None and "pyspark.daemon" in
                        " ".join(parent.cmdline()) and child.pid not in recorders):
                    out = os.path.join(workdir, f"spy-{child.pid}.txt")
                    recorders[child.pid] = subprocess.Popen(
                        ["py-spy", "record", "--pid", str(child.pid), "--rate", str(rate), "--format", "raw",
                         "--nonblocking", "-o", out], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    watcher = threading.Thread(target=attach, daemon=True)
    watcher.start()
    started = time.perf_counter()
    arm = run_framework(config, spark)
    wall = time.perf_counter() - started
    stop.set()
    watcher.join()
    for recorder in recorders.values():  # py-spy writes its file on SIGINT
        recorder.send_signal(signal.SIGINT)
    for recorder in recorders.values():
        recorder.wait(timeout=60)
    counts = {label: 0 for label, _, _ in _WORKER_MARKERS}
    total = 0
    for pid in recorders:
        path = os.path.join(workdir, f"spy-{pid}.txt")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                stack, _, number = line.rstrip("\n").rpartition(" ")
                if not number.isdigit():
                    continue
                samples = int(number)
                total += samples
                frames = stack.split(";")
                for label, names, suffix in _WORKER_MARKERS:
                    if any(_marks(f, names, suffix) for f in frames):
                        counts[label] += samples
    seconds = {label: round(c / rate, 2) for label, c in counts.items()}
    per_scenario = {label: round(c / rate / n * 1000, 2) for label, c in counts.items()}
    print(f"\nSpark Python workers under py-spy ({len(recorders)} workers, {n} tiny scenarios, {wall:.1f}s wall, "
          f"{total / rate:.1f} busy worker-seconds = {total / rate / n * 1000:.1f} ms per scenario; "
          f"load {load_average()[0]:.2f}):")
    for label in counts:
        print(f"  {label:<50}{seconds[label]:8.2f} s {per_scenario[label]:8.2f} ms/scenario "
              f"{100 * counts[label] / max(1, total):5.1f}%")
    print(f"  logging errors: {int((arm.rows['logging_error'].fillna('') != '').sum())}, "
          f"ok: {arm.n_ok}/{len(arm.rows)}")
    return {"wall_seconds": round(wall, 2), "busy_worker_seconds": round(total / rate, 2), "seconds": seconds,
            "ms_per_scenario": per_scenario, "workers": len(recorders)}


def _components(stats: pstats.Stats, wanted: list[tuple[str, str, str]], n: int) -> dict[str, float]:
    """Cumulative milliseconds per scenario of each wanted function.

    Same-named functions in the same file are nested (``cloudpickle.dump`` calls ``Pickler.dump``), so the
    largest cumulative time among the matches is taken, not their sum.
    """
    totals: dict[str, float] = {}
    for label, suffix, name in wanted:
        cumulative = 0.0
        for (filename, _, function), (_, _, _, ct, _) in stats.stats.items():  # type: ignore[attr-defined]
            if function == name and filename.endswith(suffix):
                cumulative = max(cumulative, ct)
        totals[label] = round(cumulative / n * 1000, 3)
    return totals


if __name__ == "__main__":
    sys.exit(main())
