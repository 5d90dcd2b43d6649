"""``automl``: argument parsing and presentation only; every command makes one library call.

Commands: validate, train, predict, debug, scenarios, runs, models, report, register, demo-data.
Exit codes: 0 success; 1 the job ran but its outcome is not a success (no usable scenario, too many
failures, too few beating the baseline); 2 bad config, data or arguments (one clear message); 3 an
unexpected crash. ``train`` and ``predict`` print one JSON object as the last line of stdout, also on
failure, for schedulers and CI. Spark's own output goes to ``<output.path>/logs/`` (``-v``: also stderr).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any, Sequence

from automl import __version__
from automl.errors import AutoMLError

__all__ = ["main", "parse_scenario"]

log = logging.getLogger("automl")

EXIT_OK, EXIT_JOB_FAILED, EXIT_BAD_INPUT, EXIT_CRASH = 0, 1, 2, 3
_NEEDS_SPARK = ("train", "predict", "debug", "scenarios", "register")


def parse_scenario(text: str) -> dict[str, str]:
    """``store_id=1,item_id=7`` -> ``{"store_id": "1", "item_id": "7"}`` (``<null>`` selects a null key)."""
    selection = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"--scenario {text!r}: expected key=value[,key=value]")
        selection[name.strip()] = value.strip()
    if not selection:
        raise argparse.ArgumentTypeError("--scenario needs key=value[,key=value]")
    return selection


def _parser() -> argparse.ArgumentParser:
    # -v is accepted before and after the subcommand; SUPPRESS keeps a subcommand's default from
    # overwriting a -v given before it.
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                           help="debug logging, and Spark's own output on stderr")
    parser = argparse.ArgumentParser(prog="automl", parents=[verbosity],
                                     description="Spark-native AutoML: one tuned model per scenario.")
    parser.add_argument("--version", action="version", version=f"automl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, *, config: bool = True) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=[verbosity])
        if config:
            sub.add_argument("--config", required=True, help="use-case YAML file")
            sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                             help="override a config field, e.g. --set tuning.max_evals=5 (repeatable)")
        return sub

    validate = command("validate", "check a config file (and with --data, its data's schema) and exit")
    validate.add_argument("--data", action="store_true",
                          help="also read every stream's schema and check columns and expressions (no training)")
    for name, text in (("train", "train every scenario"), ("predict", "predict with the champion models")):
        sub = command(name, text)
        sub.add_argument("--remote", help="Spark Connect URL (sc://host:port) instead of spark.master")
        sub.add_argument("--scenario", dest="scenarios", action="append", type=parse_scenario, default=[],
                         metavar="K=V[,K=V]", help="restrict to this scenario (repeatable; <null> = a null key)")
        sub.add_argument("--where", help="restrict to scenarios matching a Spark SQL filter on the keys")
    train = commands.choices["train"]
    train.add_argument("--resume", metavar="RUN_ID", help="finish a run: train only scenarios without an ok row")
    train.add_argument("--changed-only", action="store_true",
                       help="train only new scenarios and those whose data or modelling settings changed")
    commands.choices["predict"].add_argument("--run-id", help="use this training run's models (default: the "
                                                              "model set, every scenario's champion)")
    debug = command("debug", "fit one scenario in this process (breakpoint() works)")
    debug.add_argument("--scenario", required=True, type=parse_scenario, metavar="K=V[,K=V]")
    debug.add_argument("--pdb", action="store_true", help="open a post-mortem debugger on failure")
    command("scenarios", "list scenario keys with their row counts").add_argument("--limit", type=int, default=50)
    command("runs", "list the runs of a use case, newest first").add_argument("--limit", type=int, default=20)
    command("models", "list every scenario's champion model").add_argument("--limit", type=int, default=50)
    report = command("report", "build a run's report.html again")
    report.add_argument("--run-id", help="the run (default: the newest)")
    register = command("register", "log every champion as one MLflow model and register it")
    register.add_argument("--name", help="registered model name (default: mlflow.registered_model)")
    register.add_argument("--alias", help="alias to set (default: mlflow.registered_alias)")
    register.add_argument("--remote", help="Spark Connect URL (sc://host:port) instead of spark.master")
    demo = command("demo-data", "write the example use cases' data", config=False)
    demo.add_argument("--out", default="data", help="directory to write into (default: data)")
    demo.add_argument("--small", action="store_true", help="test-sized data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``automl`` command and of ``jobs/*.py``."""
    args = _parser().parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    _configure_logging(args.verbose)
    if args.command == "demo-data":
        from automl.demo_data import main as write_demo

        return write_demo(["--out", args.out, *(["--small"] if args.small else [])])
    started = time.time()
    secrets: frozenset[str] = frozenset()
    try:
        from automl.config import load_config, secret_values

        config = load_config(args.config, args.overrides)
        secrets = secret_values(config)
        return _run(config, args)
    except AutoMLError as exc:
        message = _redact(str(exc), secrets)
        print(f"error: {message}", file=sys.stderr)
        _final_line(args, {"status": "error", "error": message, "wall_seconds": round(time.time() - started, 2)})
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CRASH
    except Exception as exc:
        known = _known_failure(exc, args)
        if known is not None:
            message = _redact(str(known), secrets)
            print(f"error: {message}", file=sys.stderr)
            _final_line(args, {"status": "error", "error": message, "wall_seconds": round(time.time() - started, 2)})
            return EXIT_BAD_INPUT
        first_line = (str(exc).strip().splitlines() or [""])[0][:500]
        message = _redact(f"{type(exc).__name__}: {first_line}", secrets)
        print(f"unexpected failure: {message}{_log_hint()}", file=sys.stderr)
        log.debug("traceback", exc_info=True)
        _final_line(args, {"status": "crashed", "error": message, "wall_seconds": round(time.time() - started, 2)})
        return EXIT_CRASH


def _run(config: Any, args: argparse.Namespace) -> int:
    from automl import jobs

    if args.command == "validate":
        if args.data:
            from automl.data.check import check_data

            check_data(_engine(config, args).spark, config)
        print(f"{args.config}: valid ({config.task}, scenarios by {config.scenario_keys}, "
              f"{len(config.data.streams)} streams, families {config.models.families})"
              + ("; data columns and expressions checked" if args.data else ""))
        return EXIT_OK
    if args.command == "runs":
        return _print_runs(config, args.limit)
    if args.command == "models":
        return _print_models(config, args.limit)
    if args.command == "report":
        from automl.jobs.outputs import rebuild_report

        print(rebuild_report(config, args.run_id))
        return EXIT_OK
    engine = _engine(config, args)
    if args.command == "debug":
        return _debug(config, args, engine)
    if args.command == "scenarios":
        print(jobs.list_scenarios(config, engine=engine, limit=args.limit).to_string(index=False))
        return EXIT_OK
    if args.command == "register":
        from automl.jobs.register import register

        print(json.dumps(register(config, engine=engine, name=args.name, alias=args.alias), sort_keys=True))
        return EXIT_OK
    selection = jobs.Selection(args.scenarios, args.where)
    if args.command == "train":
        summary = jobs.train(config, engine=engine, selection=selection, resume=args.resume,
                             changed_only=args.changed_only)
    else:
        summary = jobs.predict(config, engine=engine, selection=selection, run_id=args.run_id)
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    print(f"{summary.kind} run {summary.run_id} {summary.status} in {summary.wall_seconds:.1f}s: {counts}",
          file=sys.stderr)
    if summary.message:
        print(f"  {summary.message}", file=sys.stderr)
    for name, path in summary.outputs.items():
        if path:
            print(f"  {name}: {path}", file=sys.stderr)
    print(summary.to_json())
    return EXIT_OK if summary.succeeded else EXIT_JOB_FAILED


def _engine(config: Any, args: argparse.Namespace) -> Any:
    from automl.spark.engine import SparkEngine
    from automl.tracking import check_tracking, tracking_uri

    uri = tracking_uri(config)
    if args.command in ("train", "predict") and uri.startswith(("http://", "https://")):
        check_tracking(uri)  # a dead server is reported in seconds, before Spark starts; the job checks again
    return SparkEngine.start(config, remote=getattr(args, "remote", None),
                             log_dir=os.path.join(config.output_path, "logs"), verbose=args.verbose)


def _debug(config: Any, args: argparse.Namespace, engine: Any) -> int:
    from automl import jobs

    try:
        fit = jobs.debug(config, args.scenario, engine=engine)
    except AutoMLError:
        raise
    except Exception:
        if not args.pdb:
            raise
        import pdb
        import traceback

        traceback.print_exc()
        pdb.post_mortem(sys.exc_info()[2])
        return EXIT_CRASH
    model = fit.model
    print(f"scenario {', '.join(f'{k}={v}' for k, v in model.keys.items())}: {fit.n_rows} rows "
          f"({fit.n_train} train, {fit.n_test} holdout), seed {fit.seed}")
    print("step timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in fit.seconds.items()))
    print(f"selected features ({len(model.features)}): {', '.join(model.features)}")
    print(f"best model: {model.family} {json.dumps(model.params, default=str)}")
    print("validation leaderboard: " + ", ".join(f"{k} {v:.4g}" for k, v in fit.leaderboard.items()))
    print("holdout metrics: " + ", ".join(f"{k} {v:.4g} (baseline {fit.baseline[k]:.4g})"
                                          for k, v in fit.metrics.items()))
    if fit.rejected:
        print(f"rejected on the holdout: {fit.rejected}; the default forecast shipped")
    return EXIT_OK


def _print_runs(config: Any, limit: int) -> int:
    from datetime import datetime, timezone

    from automl.rundir import list_runs

    runs = list_runs(config.output_path)[:limit]
    if not runs:
        print(f"no runs under {os.path.abspath(config.output_path)}", file=sys.stderr)
        return EXIT_OK
    for run in runs:
        when = datetime.fromtimestamp(float(run.get("started_at") or 0), timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        counts = ", ".join(f"{k} {v}" for k, v in (run.get("counts") or {}).items())
        print(f"{run['run_id']}  {run.get('kind', '?'):7}  {run.get('status', '?'):9}  {when} UTC  {counts}")
    return EXIT_OK


def _print_models(config: Any, limit: int) -> int:
    from automl.modelset import ModelSet

    model_set = ModelSet.read(config.output_path)
    champions, untrained = model_set.champions, model_set.untrained
    shown = champions[[*config.scenario_keys, "run_id", "trained_at", "best_family", "primary_metric", "score",
                       "baseline_score", "beats_baseline"]]
    print(shown.head(limit).to_string(index=False))
    if len(champions) > limit:
        print(f"... {len(champions) - limit} more (--limit)", file=sys.stderr)
    if len(untrained):  # trained, never given a champion: predict gives their rows this reason
        columns = [c for c in (*config.scenario_keys, "run_id", "status", "error") if c in untrained.columns]
        print(f"\n{len(untrained)} scenarios without a champion (their latest training):")
        ordered = untrained.sort_values([c for c in config.scenario_keys if c in untrained.columns])
        print(ordered[columns].head(limit).to_string(index=False, max_colwidth=120))
        if len(untrained) > limit:
            print(f"... {len(untrained) - limit} more (--limit)", file=sys.stderr)
    return EXIT_OK


def _known_failure(exc: Exception, args: argparse.Namespace) -> AutoMLError | None:
    """A Spark error caused by the data or the config (ANSI cast, division by zero), as a located error."""
    try:
        from automl.config import load_config
        from automl.data.master import explain_failure
    except ImportError:
        return None
    try:
        return explain_failure(exc, load_config(args.config, args.overrides))
    except Exception:
        return None


def _log_hint() -> str:
    try:
        from automl.spark.logs import current_log_file
    except ImportError:
        return ""
    path = current_log_file()
    return f" (Spark's log: {path})" if path else ""


def _redact(text: str, secrets: frozenset[str]) -> str:
    from automl.config import redact

    return redact(text, secrets)


def _final_line(args: argparse.Namespace, payload: dict) -> None:
    if getattr(args, "command", "") in ("train", "predict"):
        print(json.dumps({"kind": args.command, **payload}, sort_keys=True))


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "mlflow", "featuretools", "woodwork", "hyperopt", "alembic", "urllib3", "optuna"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Library warnings (pandas deprecations, lightgbm hints) are for developers: -v shows them.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbose else logging.ERROR)
    if not verbose:  # pyspark logs a JSON Java stack for every failed query: the CLI prints one clear line
        for context in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
            logging.getLogger(context).setLevel(logging.CRITICAL)


if __name__ == "__main__":
    raise SystemExit(main())
