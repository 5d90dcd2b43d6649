"""What a job did, and whether that counts as success: counts, status, reasons, and the human summary.

A run only succeeds when it produced something usable: a training run with no ``ok`` (or ``unchanged``)
scenario, or a prediction run that scored no row, fails whatever the thresholds say.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from automl.config import Config
from automl.scenario.baselines import NaiveModel
from automl.scenario.keys import scenario_label
from automl.scenario.metrics import METRICS

__all__ = ["JobSummary", "Outcome", "default_replacements", "human_summary", "predict_outcome", "relative_to_baseline",
           "top_reasons", "train_outcome"]

# What a time-indexed series ships unless a model beats it on every validation fold and on the holdout.
_DEFAULT_FORECAST = NaiveModel("damped").name


@dataclass
class JobSummary:
    """What a job did; ``to_json()`` is the machine-readable last line of every job."""

    kind: str
    run_id: str
    status: str
    counts: dict[str, int]
    outputs: dict[str, str]
    wall_seconds: float
    details: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


@dataclass(frozen=True)
class Outcome:
    """A job's verdict: ``status`` is succeeded or failed; ``message`` says why it failed."""

    status: str
    message: str
    details: dict[str, Any]


def top_reasons(rows: pd.DataFrame, *, limit: int = 3) -> list[tuple[str, int]]:
    """The most common reasons scenarios were skipped or failed, with counts.

    Reasons differing only in numbers (``12 rows`` / ``9 rows``) count as one, shown by their first example.
    """
    bad = rows[rows["status"].isin(["failed", "skipped"])]
    if bad.empty:
        return []
    messages = bad["error"].fillna("").astype(str).str.split("\n").str[0].str.slice(0, 240)
    shapes = messages.map(lambda m: re.sub(r"\d+(\.\d+)?", "N", m))
    grouped = pd.DataFrame({"shape": shapes, "message": messages}).groupby("shape", sort=False)
    counted = grouped.agg(example=("message", "first"), count=("message", "size"))
    counted = counted.sort_values("count", ascending=False, kind="stable").head(limit)
    return [(str(r.example), int(r.count)) for r in counted.itertuples()]


def train_outcome(results: pd.DataFrame, config: Config) -> Outcome:
    """Succeeded, or failed with the reason: no usable scenario, too many failures, too few beating the
    naive baseline (``execution.min_beats_baseline_fraction``)."""
    total = max(1, len(results))
    status_counts = results["status"].value_counts()
    ok = int(status_counts.get("ok", 0))
    usable = ok + int(status_counts.get("unchanged", 0))
    failed_fraction = int(status_counts.get("failed", 0)) / total
    trained = results[results["status"] == "ok"]
    beats = float(_flags(trained["beats_baseline"]).mean()) if len(trained) else 0.0
    reasons = top_reasons(results)
    details = {"failed_fraction": round(failed_fraction, 4), "beats_baseline_fraction": round(beats, 4),
               "top_reasons": [{"reason": r, "scenarios": n} for r, n in reasons],
               "default_replacements": default_replacements(trained, config)}
    minimum = config.execution.min_beats_baseline_fraction
    if usable == 0:
        message = "no scenario trained: " + "; ".join(f"{n} x {r}" for r, n in reasons)
    elif failed_fraction > config.execution.max_failed_fraction:
        message = (f"{failed_fraction:.0%} of scenarios failed, above execution.max_failed_fraction "
                   f"{config.execution.max_failed_fraction:.0%}")
    elif minimum is not None and ok and beats < minimum:
        message = (f"only {beats:.0%} of trained scenarios beat their naive baseline, below "
                   f"execution.min_beats_baseline_fraction {minimum:.0%}")
    else:
        return Outcome("succeeded", "", details)
    return Outcome("failed", message, details)


def predict_outcome(tally: pd.DataFrame, rows_in: int, config: Config) -> Outcome:
    """Succeeded when rows were scored and few enough scenarios had errors; every input row must have an
    output row (a prediction, or a null prediction with its reason)."""
    rows_out = int(tally["rows_out"].sum()) if len(tally) else 0
    rows_failed = int(tally["rows_failed"].sum()) if len(tally) else 0
    bad_scenarios = int((tally["rows_failed"] > 0).sum()) if len(tally) else 0
    failed_fraction = bad_scenarios / max(1, len(tally))
    details = {"rows_in": rows_in, "rows_out": rows_out, "rows_scored": rows_out - rows_failed,
               "rows_failed": rows_failed, "failed_fraction": round(failed_fraction, 4)}
    if rows_out != rows_in:
        message = f"{rows_in} input rows but {rows_out} prediction rows: rows were lost (a bug; please report it)"
    elif rows_out - rows_failed == 0:
        message = "no row was scored: every scenario's rows carry an error (see the predictions' error column)"
    elif failed_fraction > config.execution.max_failed_fraction:
        message = (f"{failed_fraction:.0%} of scenarios had rows without a prediction, above "
                   f"execution.max_failed_fraction {config.execution.max_failed_fraction:.0%}")
    else:
        return Outcome("succeeded", "", details)
    return Outcome("failed", message, details)


def relative_to_baseline(score: float, baseline: float, metric: str) -> float:
    """How the model compares with its naive baseline, > 1 worse: the loss ratio for error metrics, the
    ratio of shortfalls from a perfect 1 for scores like roc_auc or r2."""
    if score is None or baseline is None or math.isnan(score) or math.isnan(baseline):
        return math.nan
    if METRICS[metric].greater_is_better:
        score, baseline = 1.0 - score, 1.0 - baseline
    if baseline <= 0:
        return 1.0 if score <= 0 else math.inf
    return score / baseline


def human_summary(results: pd.DataFrame, config: Config, *, limit: int = 5) -> list[str]:
    """Lines for the terminal at the end of a training run: counts, the share beating the baseline, how many
    were not tuned, how often a replacement of the default forecast held on the holdout (time-indexed), the worst
    scenarios against their baseline, the slowest ones, the commonest reasons for failure."""
    counts = results["status"].value_counts()
    lines = ["scenarios: " + ", ".join(f"{status} {int(n)}" for status, n in counts.items())]
    trained = results[results["status"] == "ok"].copy()
    keys = config.scenario_keys
    if len(trained):
        beats = float(_flags(trained["beats_baseline"]).mean())
        lines.append(f"beat their naive baseline: {beats:.0%} of {len(trained)} trained")
        untuned = int((trained["n_evals"] == 0).sum()) if config.models.families else 0
        if untuned:  # why a job of short series ships last values everywhere, without reading every row
            lines.append(f"not tuned, a naive forecast shipped: {untuned} (a constant target, or validation folds "
                         f"under split.min_validation_rows = {config.split.min_validation_rows} rows in all)")
        replacements = default_replacements(trained, config)
        if replacements:
            replaced, rejected = replacements["replaced"], replacements["rejected_on_holdout"]
            lines.append(f"replaced the default forecast ({_DEFAULT_FORECAST}): {replaced} series; {rejected} more "
                         f"beat it on validation and lost to it on the holdout ({replaced / (replaced + rejected):.0%} "
                         f"held)")
        primary = config.primary_metric
        trained["relative"] = [relative_to_baseline(s, b, primary)
                               for s, b in zip(trained["score"], trained["baseline_score"])]
        worst = trained.sort_values("relative", ascending=False, kind="stable").head(limit)
        lines.append(f"worst against the baseline ({primary}, model / baseline):")
        lines += [f"  {_label(r, keys)}: {r['score']:.4g} vs {r['baseline_score']:.4g} ({r['relative']:.2f}x)"
                  for r in worst.to_dict("records")]
        slowest = trained.sort_values("seconds_total", ascending=False, kind="stable").head(limit)
        lines.append("slowest:")
        lines += [f"  {_label(r, keys)}: {r['seconds_total']:.1f}s" for r in slowest.to_dict("records")]
    for reason, n in top_reasons(results):
        lines.append(f"{n} scenario(s): {reason}")
    return lines


def default_replacements(trained: pd.DataFrame, config: Config) -> dict[str, int] | None:
    """With a time column and ``tuning.confirm_on_holdout``: among the trained (``ok``) series validated against the
    default forecast (on their leaderboard; too short a series ships the last value untried), how many shipped
    something else (``replaced``) and how many more beat it on validation and lost to it on the holdout
    (``rejected_on_holdout``); None when neither happened. Where replacements hold in only about half the series
    that chose one, validation picks them little better than chance, and on later periods they beat the default
    about as often as not (gapminder, txhousing: docs/benchmarks.md)."""
    if config.time_column is None or not config.tuning.confirm_on_holdout or trained.empty:
        return None
    validated = trained[trained["leaderboard"].map(lambda text: isinstance(text, str) and bool(text)
                                                   and _DEFAULT_FORECAST in json.loads(text))]
    replaced = int((validated["best_family"] != _DEFAULT_FORECAST).sum())
    rejected = int(validated["rejected_on_holdout"].fillna("").astype(str).ne("").sum())
    return {"replaced": replaced, "rejected_on_holdout": rejected} if replaced + rejected else None


def _flags(values: pd.Series) -> pd.Series:
    """A boolean column read back with nulls (JSON checkpoints, object dtype) as plain booleans, null False."""
    return values.astype("boolean").fillna(False).astype(bool)


def _label(row: dict[str, Any], keys: list[str]) -> str:
    return scenario_label({k: row[k] for k in keys})
