"""``automl validate | train | predict | debug | scenarios | demo-data``: argument parsing and presentation only.

Exit codes: 0 success; 1 the job ran but too many scenarios failed (``execution.max_failed_fraction``);
2 bad config, data or arguments (one clear message); 3 an unexpected crash. ``train`` and ``predict`` print
one JSON object as the last line of stdout, also on failure, for schedulers and CI.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Sequence

from automl.config import redact
from automl.errors import AutoMLError

__all__ = ["main", "parse_scenario"]

log = logging.getLogger("automl")

EXIT_OK, EXIT_JOB_FAILED, EXIT_BAD_INPUT, EXIT_CRASH = 0, 1, 2, 3


def parse_scenario(text: str) -> dict[str, str]:
    """``store_id=1,item_id=7`` -> ``{"store_id": "1", "item_id": "7"}``."""
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
    parser = argparse.ArgumentParser(prog="automl", description="Spark-native AutoML: one tuned model per scenario.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--config", required=True, help="use-case YAML file")
        sub.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                         help="override a config field, e.g. --set tuning.max_evals=5 (repeatable)")
        return sub

    command("validate", "check a config file and exit")
    for name, text in (("train", "train every scenario"), ("predict", "predict with trained models")):
        sub = command(name, text)
        sub.add_argument("--remote", help="Spark Connect URL (sc://host:port) instead of spark.master")
        sub.add_argument("--scenario", dest="scenarios", action="append", type=parse_scenario, default=[],
                         metavar="K=V[,K=V]", help="restrict to this scenario (repeatable)")
        sub.add_argument("--where", help="restrict to scenarios matching a Spark SQL filter on the keys")
    commands.choices["train"].add_argument("--resume", metavar="RUN_ID",
                                           help="finish a run: train only scenarios without an ok row")
    commands.choices["predict"].add_argument("--run-id", help="training run to use (default: latest successful)")
    debug = command("debug", "fit one scenario in this process (breakpoint() works)")
    debug.add_argument("--scenario", required=True, type=parse_scenario, metavar="K=V[,K=V]")
    debug.add_argument("--pdb", action="store_true", help="open a post-mortem debugger on failure")
    scenarios = command("scenarios", "list scenario keys with their row counts")
    scenarios.add_argument("--limit", type=int, default=50)
    demo = commands.add_parser("demo-data", help="write the example use cases' data")
    demo.add_argument("--out", default="data", help="directory to write into (default: data)")
    demo.add_argument("--small", action="store_true", help="test-sized data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``automl`` command and of ``jobs/*.py``."""
    args = _parser().parse_args(argv)
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
        if args.command == "validate":
            print(f"{args.config}: valid ({config.task}, scenarios by {config.scenario_keys}, "
                  f"{len(config.data.streams)} streams, families {config.models.families})")
            return EXIT_OK
        if args.command == "debug":
            return _debug(config, args)
        if args.command == "scenarios":
            from automl.api import list_scenarios

            print(list_scenarios(config, limit=args.limit).to_string(index=False))
            return EXIT_OK
        return _job(config, args)
    except AutoMLError as exc:
        message = redact(str(exc), secrets)
        print(f"error: {message}", file=sys.stderr)
        _final_line(args, {"status": "error", "error": message, "wall_seconds": round(time.time() - started, 2)})
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_CRASH
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}", secrets)
        print(f"unexpected failure: {message}", file=sys.stderr)
        log.debug("traceback", exc_info=True)
        _final_line(args, {"status": "crashed", "error": message, "wall_seconds": round(time.time() - started, 2)})
        return EXIT_CRASH


def _job(config, args: argparse.Namespace) -> int:
    from automl import api
    from automl.spark.session import get_spark
    from automl.tracking import check_tracking, tracking_uri

    uri = tracking_uri(config)
    if uri.startswith(("http://", "https://")):
        check_tracking(uri)  # a dead server is reported in seconds, before Spark starts; the job checks again
    spark = get_spark(config.spark, remote=args.remote)
    scenarios = args.scenarios or None
    where = args.where
    if args.command == "train":
        summary = api.train(config, spark=spark, resume=args.resume, scenarios=scenarios, where=where)
    else:
        summary = api.predict(config, spark=spark, run_id=args.run_id, scenarios=scenarios, where=where)
    counts = ", ".join(f"{k} {v}" for k, v in summary.counts.items())
    print(f"{summary.kind} run {summary.run_id} {summary.status} in {summary.wall_seconds:.1f}s: {counts}",
          file=sys.stderr)
    for name, path in summary.outputs.items():
        print(f"  {name}: {path}", file=sys.stderr)
    print(summary.to_json())
    return EXIT_OK if summary.succeeded else EXIT_JOB_FAILED


def _debug(config, args: argparse.Namespace) -> int:
    from automl import api

    try:
        fit = api.debug(config, args.scenario)
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
    return EXIT_OK


def _final_line(args: argparse.Namespace, payload: dict) -> None:
    if getattr(args, "command", "") in ("train", "predict"):
        print(json.dumps({"kind": args.command, **payload}, sort_keys=True))


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "mlflow", "featuretools", "woodwork", "hyperopt", "alembic", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    raise SystemExit(main())
