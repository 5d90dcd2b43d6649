"""Per-scenario publishing cost, in ms, for ``mlflow.scenario_runs`` per_scenario and none.

One tiny fitted scenario is published under N different keys (publishing does not depend on the fit), into
a parent run of a local SQLite store under a temporary directory, or of ``--tracking-uri`` (a server)::

    python tests/tracking/publish_cost.py --scenarios 200 [--tracking-uri http://127.0.0.1:5000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]  # tracking_helpers, process_helpers
from tracking_helpers import write_config, write_scenarios

from automl.config import parse_config
from automl.scenario.pipeline import fit_scenario
from automl.tracking import JobRun, ModelPublisher


def measure(mode: str, scenarios: int, folder: Path, tracking_uri: str) -> list[float]:
    """Milliseconds of each scenario's publishing (save, plus the child run with ``per_scenario``)."""
    data = write_scenarios(folder / "data.parquet", 1)
    document = yaml.safe_load(write_config(folder / f"{mode}.yaml", data=folder / "data.parquet",
                                           output=folder / mode, tracking_uri=tracking_uri).read_text())
    document["mlflow"]["scenario_runs"] = mode
    config = parse_config(document)
    fit = fit_scenario(data, {"region": "north", "sku": 0}, config)
    job = JobRun(config, "train")
    run_id = job.start()
    publisher = ModelPublisher(job.uri, job.experiment_id, run_id, str(folder / mode / "models"), config)
    costs = []
    for sku in range(scenarios):
        started = time.perf_counter()
        published = publisher({"region": "north", "sku": sku}, fit)
        costs.append((time.perf_counter() - started) * 1000)
        if published.logging_error:
            raise RuntimeError(published.logging_error)
    job.finish(True)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=200)
    parser.add_argument("--tracking-uri", default="", help="default: a SQLite store in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="publish-cost-") as folder:
        for mode in ("per_scenario", "none"):
            costs = measure(mode, args.scenarios, Path(folder), args.tracking_uri)
            print(f"{mode:>12}: {statistics.mean(costs):7.2f} ms mean, {statistics.median(costs):7.2f} ms median, "
                  f"p90 {sorted(costs)[int(0.9 * len(costs))]:7.2f} ms over {len(costs)} scenarios "
                  f"({args.tracking_uri or 'local SQLite store'})")


if __name__ == "__main__":
    main()
