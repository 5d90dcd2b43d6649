"""How big and how fast is the HTML run report at scale? Build it, weigh it, open it in headless Chromium.

Issue 12 asks for <= 20 MB and <= 3 s to open at 10,000 scenarios. This builds a training report from
synthetic run outputs (``tests/report/report_synthetic.py``: 10,000 scenarios, 12 holdout rows each, 3%
failed or skipped), writes it, and opens it ``--repeats`` times in a fresh headless Chromium ("cold": new
browser process, nothing cached) and once more in the same browser ("warm": like reopening a report).
Per load it reports the page's own marks (ms since navigation): ``content`` (numbers, tables and search
usable), ``plotly`` (plotly.js started) and ``drawn`` (aggregate plots drawn), plus the renderer's CPU
seconds, which a busy machine inflates less than wall time. The load average is printed with the figures.

    python benchmarks/report_scale.py                      # 10,000 scenarios, 3 cold loads, JSON line
    python benchmarks/report_scale.py --screenshot docs/report.png   # the README's picture (20 scenarios)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPO), str(_REPO / "tests" / "report")]

from report_browser import Browser, find_or_install_chromium  # noqa: E402
from report_synthetic import train_inputs  # noqa: E402

from automl.report import build_train_report, write_report  # noqa: E402

KEYS = ["store_id", "item_id"]


def build(path: Path, scenarios: int, holdout_rows: int) -> dict[str, Any]:
    """Write the report of a synthetic run; seconds to build and bytes written."""
    failed = skipped = max(scenarios * 3 // 200, 1)
    results, holdout, manifest = train_inputs(scenarios, holdout_rows=holdout_rows, n_failed=failed,
                                              n_skipped=skipped)
    started = time.perf_counter()
    html = build_train_report(results, holdout, manifest, scenario_keys=KEYS, task="regression",
                              time_column="week")
    write_report(html, path)
    return {"scenarios": scenarios, "holdout_rows": holdout_rows * (scenarios - failed - skipped),
            "build_seconds": round(time.perf_counter() - started, 2), "bytes": path.stat().st_size,
            "megabytes": round(path.stat().st_size / 2**20, 2)}


def renderer_cpu(page: Browser) -> float:
    """CPU seconds used so far by all renderer processes of this browser."""
    info = page.send("SystemInfo.getProcessInfo", session=False)["processInfo"]
    return sum(p["cpuTime"] for p in info if p.get("type") == "renderer")


def load(page: Browser, path: Path) -> dict[str, float]:
    """One navigation: the page's timing marks (ms) and the renderer CPU seconds it took."""
    before = renderer_cpu(page)
    page.open(path, timeout=120)
    marks = page.evaluate("window.reportTimings")
    problems = page.problems()
    if problems:
        raise SystemExit(f"the report logged errors: {problems}")
    return {**{k: round(v) for k, v in marks.items()}, "renderer_cpu_s": round(renderer_cpu(page) - before, 2)}


def measure(chromium: str, path: Path, repeats: int) -> dict[str, Any]:
    cold, warm = [], None
    for _ in range(repeats):
        with Browser(chromium) as page:
            cold.append(load(page, path))
            if warm is None:
                warm = load(page, path)
    drawn = [c["drawn"] for c in cold]
    return {"cold": cold, "warm": warm, "cold_drawn_median_ms": statistics.median(drawn),
            "cold_content_median_ms": statistics.median(c["content"] for c in cold)}


def screenshot(chromium: str, out: Path) -> Path:
    """A 20-scenario weekly report (demand-demo shaped) with one scenario opened, as a full-page PNG."""
    results, holdout, manifest = train_inputs(20)
    with tempfile.TemporaryDirectory() as folder:
        path = write_report(build_train_report(results, holdout, manifest, scenario_keys=KEYS, task="regression",
                                               time_column="week"), Path(folder) / "report.html")
        with Browser(chromium, width=1280, height=900) as page:
            page.open(path)
            page.type_into("#search", "store_id=1 item_id=3")
            page.evaluate("new Promise(function (done) { setTimeout(done, 1000); })")  # let the detail draw
            if page.problems():
                raise SystemExit(f"the report logged errors: {page.problems()}")
            out.parent.mkdir(parents=True, exist_ok=True)
            return page.screenshot(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=10_000)
    parser.add_argument("--holdout-rows", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=3, help="cold loads, each in a fresh browser")
    parser.add_argument("--keep", type=Path, help="write the report here instead of a temporary folder")
    parser.add_argument("--screenshot", type=Path, help="only write the README screenshot to this path")
    args = parser.parse_args(argv)
    chromium = find_or_install_chromium()
    if args.screenshot:
        print(json.dumps({"screenshot": str(screenshot(chromium, args.screenshot))}))
        return
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "report.html"
        figures: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
        figures.update(build(path, args.scenarios, args.holdout_rows))
        figures.update(measure(chromium, path, args.repeats))
        figures["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
