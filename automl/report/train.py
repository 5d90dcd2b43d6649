"""The training report: run summary, aggregate plots, worst/slowest/failed scenarios, per-scenario detail.

Everything here is pandas in, JSON-ready dicts out; :mod:`automl.report.page` turns the payload into HTML.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from automl.errors import DataError
from automl.report.encode import (CodeBook, key_text, parse_json_cell, round_float, round_floats, run_meta,
                                  text_or_none)
from automl.report.figures import bar_figure, histogram_figure, steps_figure
from automl.report.holdout import encode_holdout
from automl.report.page import render_page
from automl.scenario.metrics import METRICS

__all__ = ["build_train_report", "train_payload"]

logger = logging.getLogger(__name__)

_TOP = 20              # rows in the worst / slowest tables
_MAX_PROBLEMS = 500    # failed/skipped scenarios listed by name; the rest are reachable by search
_MAX_REASONS = 50      # distinct failure reasons listed
_IMPORTANCES = 20


def build_train_report(results: pd.DataFrame, holdout: pd.DataFrame | None, manifest: dict[str, Any], *,
                       scenario_keys: list[str], task: str, time_column: str | None,
                       positive_class: Any = None) -> str:
    """The whole self-contained HTML report of a training run.

    Args:
        results: the results table, one row per scenario (an empty frame for a run that wrote none).
        holdout: holdout rows of every scenario (``scenario_id``, time or sample ids, ``actual``,
            ``prediction``, ``baseline``, ``probability`` for classification), or None.
        manifest: the run manifest (use_case, run_id, status, counts, wall_seconds, ...).
        scenario_keys: the config's scenario key columns.
        task: ``regression`` or ``classification``.
        time_column: the config's time column, if any.
        positive_class: the config's positive class; by default the last label in sorted order, as training.

    Example:
        ``write_report(build_train_report(results, holdout, manifest, scenario_keys=["store"],
        task="regression", time_column="week"), run_dir / "report.html")``
    """
    payload = train_payload(results, holdout, manifest, scenario_keys=scenario_keys, task=task,
                            time_column=time_column, positive_class=positive_class)
    return render_page(payload)


def train_payload(results: pd.DataFrame, holdout: pd.DataFrame | None, manifest: dict[str, Any], *,
                  scenario_keys: list[str], task: str, time_column: str | None,
                  positive_class: Any = None) -> dict[str, Any]:
    """The data the page embeds (see :func:`build_train_report`); separate so tests can read it directly."""
    frame = _normalise(results, scenario_keys)
    metric = _primary_metric(frame)
    greater = METRICS[metric].greater_is_better if metric in METRICS else False
    score = _floats(frame["score"])
    baseline = _floats(frame["baseline_score"])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (score - baseline) / np.abs(baseline) * (1.0 if greater else -1.0)
    relative[~np.isfinite(relative)] = np.nan
    status = frame["status"].fillna("unknown").astype(str).to_numpy()
    ok = status == "ok"

    families, features = CodeBook(), CodeBook()
    ids = pd.Index(frame["scenario_id"].astype(str))
    if not ids.is_unique:
        raise DataError(f"results: scenario_id must be unique per scenario; repeated: "
                        f"{sorted(set(ids[ids.duplicated()]))[:5]}")
    samples, notes = encode_holdout(holdout, ids, task=task, time_column=time_column,
                                    positive_class=positive_class)
    step_columns = [c for c in frame.columns if c.startswith("seconds_") and c != "seconds_total"]
    scenarios = {
        "id": ids.tolist(),
        "keys": [[key_text(v) for v in frame[k]] for k in scenario_keys],
        "status": status.tolist(),
        "error": [text_or_none(v) for v in frame["error"]],
        "error_type": [text_or_none(v, 200) for v in frame["error_type"]],
        "score": round_floats(score, 5),
        "baseline": round_floats(baseline, 5),
        "relative": round_floats(relative, 4),
        "beats": [None if pd.isna(v) else bool(v) for v in frame["beats_baseline"]],
        "metrics": {c[len("metric_"):]: round_floats(frame[c], 5)
                    for c in frame.columns if c.startswith("metric_")},
        "family": [None if text_or_none(v) is None else families.code(v) for v in frame["best_family"]],
        "params": [parse_json_cell(v) for v in frame["best_params"]],
        "leaderboard": [_leaderboard(v, families, greater) for v in frame["leaderboard"]],
        "rejected": [text_or_none(v, 300) or None for v in frame["rejected_on_holdout"]],
        "importances": [_importances(v, features) for v in frame["importances"]],
        "selected": [_feature_codes(v, features) for v in frame["selected_features"]],
        "n_rows": [None if pd.isna(v) else int(v) for v in frame["n_rows"]],
        "seconds": round_floats(frame["seconds_total"], 4),
        "memory": round_floats(frame["peak_memory_mb"], 4),
        "holdout_start": samples.pop("start"),
        "holdout_length": samples.pop("length"),
    }
    seconds = {c[len("seconds_"):]: _floats(frame[c]) for c in step_columns}
    return {
        "kind": "train",
        "meta": run_meta(manifest),
        "task": task,
        "scenario_keys": list(scenario_keys),
        "time_column": time_column,
        "primary_metric": metric,
        "greater_is_better": greater,
        "cards": _cards(status, ok, frame, relative, samples),
        "figures": {
            "relative": histogram_figure(relative[ok] * 100, title=f"{metric or 'score'} relative to the baseline",
                                         x_title="% better than the baseline (clipped at ±100)",
                                         clip=(-100.0, 100.0), signed=True, bins=40),
            "families": _family_figure(frame["best_family"][ok]),
            "steps": steps_figure({s: v[ok] for s, v in seconds.items()}),
            "memory": histogram_figure(_floats(frame["peak_memory_mb"]), title="Peak memory per scenario",
                                       x_title="MB"),
        },
        "tables": _tables(status, relative, _floats(frame["seconds_total"]), frame, seconds),
        "families": families.names,
        "features": features.names,
        "scenarios": scenarios,
        "holdout": samples,
        "notes": notes,
    }


def _normalise(results: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """The results with every column the report reads (missing ones null): a crashed run has none."""
    frame = pd.DataFrame() if results is None else results.reset_index(drop=True)
    if len(frame) and (missing := [k for k in keys if k not in frame.columns]):
        raise DataError(f"results: scenario key column(s) {missing} missing; columns are {list(frame.columns)}")
    frame = frame.copy()
    for column in [*keys, "status", "error", "error_type", "primary_metric", "score", "baseline_score",
                   "beats_baseline", "best_family", "best_params", "leaderboard", "rejected_on_holdout", "importances",
                   "selected_features", "n_rows", "seconds_total", "peak_memory_mb"]:
        if column not in frame.columns:
            frame[column] = None
    if "scenario_id" not in frame.columns:
        frame["scenario_id"] = frame[keys].astype(str).agg("|".join, axis=1) if len(frame) else []
    return frame


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _primary_metric(frame: pd.DataFrame) -> str | None:
    names = [str(v) for v in frame["primary_metric"] if text_or_none(v)]
    return Counter(names).most_common(1)[0][0] if names else None


def _cards(status: np.ndarray, ok: np.ndarray, frame: pd.DataFrame, relative: np.ndarray,
           samples: dict[str, Any]) -> list[list[Any]]:
    """Headline figures: [label, value] pairs the page shows as cards."""
    beats = frame["beats_baseline"][ok].dropna().astype(bool)
    counts = Counter(status.tolist())
    cards: list[list[Any]] = [["scenarios", len(status)]]
    cards += [[name, counts.get(name, 0)] for name in ("ok", "failed", "skipped", "unchanged")
              if name != "unchanged" or counts.get(name)]
    cards += [[name, n] for name, n in counts.items() if name not in ("ok", "failed", "skipped", "unchanged")]
    cards.append(["beat the baseline", f"{beats.mean():.0%} of {len(beats)}" if len(beats) else "–"])
    finite = relative[ok & np.isfinite(relative)]
    cards.append(["median vs baseline", f"{np.median(finite):+.1%}" if finite.size else "–"])
    total = np.nansum(_floats(frame["seconds_total"])) if len(frame) else 0.0
    cards.append(["scenario seconds (sum)", round_float(total)])
    memory = _floats(frame["peak_memory_mb"])
    cards.append(["peak memory (max)", f"{np.nanmax(memory):.0f} MB" if np.isfinite(memory).any() else "–"])
    cards.append(["holdout rows", len(samples.get("actual", []))])
    return cards


def _family_figure(families: pd.Series) -> dict[str, Any] | None:
    counts = Counter(str(v) for v in families if text_or_none(v))
    labels = [name for name, _ in counts.most_common()]
    return bar_figure(labels, [counts[name] for name in labels], title="Best family per scenario",
                      x_title="family", y_title="scenarios")


def _leaderboard(value: Any, families: CodeBook, greater: bool) -> list[list[Any]] | None:
    """``[[family code, validation score], ...]``, best first; None when absent or unreadable."""
    parsed = parse_json_cell(value)
    if not isinstance(parsed, dict):
        return None
    rows = [[families.code(name), round_float(score, 5)] for name, score in parsed.items()]
    return sorted(rows, key=lambda r: (r[1] is None, -(r[1] or 0) if greater else (r[1] or 0)))


def _importances(value: Any, features: CodeBook) -> list[list[Any]] | None:
    """``[[feature codes], [importances]]``, largest first, at most 20; None when absent."""
    parsed = parse_json_cell(value)
    if not isinstance(parsed, dict) or not parsed:
        return None
    pairs = [(name, round_float(v)) for name, v in parsed.items()]
    pairs = sorted(pairs, key=lambda p: -(p[1] or 0.0))[:_IMPORTANCES]
    return [[features.code(name) for name, _ in pairs], [v for _, v in pairs]]


def _feature_codes(value: Any, features: CodeBook) -> list[int] | None:
    """Codes of the selected features; None for a null cell (parquet gives lists back as numpy arrays)."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        return None
    return [features.code(name) for name in value]


def _tables(status: np.ndarray, relative: np.ndarray, seconds: np.ndarray, frame: pd.DataFrame,
            steps: dict[str, np.ndarray]) -> dict[str, Any]:
    """Worst and slowest scenarios, failure reasons: scenario indices the page resolves to keys."""
    ok = np.flatnonzero((status == "ok") & np.isfinite(relative))
    worst = ok[np.argsort(relative[ok], kind="stable")][:_TOP]
    timed = np.flatnonzero(np.isfinite(seconds))
    slowest = timed[np.argsort(-seconds[timed], kind="stable")][:_TOP]
    problems = np.flatnonzero(np.isin(status, ["failed", "skipped"]))
    reasons: dict[tuple[str, str, str], list[int]] = {}
    for i in problems.tolist():
        first_line = (text_or_none(frame["error"].iat[i], 300) or "(no reason recorded)").splitlines()[0]
        key = (status[i], text_or_none(frame["error_type"].iat[i], 200) or "", first_line)
        reasons.setdefault(key, []).append(i)
    grouped = sorted(reasons.items(), key=lambda item: -len(item[1]))[:_MAX_REASONS]
    return {
        "worst": worst.tolist(),
        "slowest": slowest.tolist(),
        "steps": list(steps),
        "slowest_steps": [[round_float(steps[s][i], 4) for s in steps] for i in slowest.tolist()],
        "reasons": [{"status": s, "type": t, "reason": r, "count": len(ix), "examples": ix[:5]}
                    for (s, t, r), ix in grouped],
        "problems": problems[:_MAX_PROBLEMS].tolist(),
        "n_problems": int(problems.size),
    }
