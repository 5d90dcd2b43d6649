"""Deterministic synthetic data for the two example use cases (demand, churn).

The README demo (``make demo``) and the integration tests need data that is
small enough to train many models on a laptop, yet structured enough that a
per-scenario model clearly beats a naive baseline. Everything is drawn from
``numpy.random.default_rng(seed)`` so the same arguments always produce
byte-identical parquet files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_demand", "write_churn", "write_all", "main"]

DEMAND_START = "2021-01-04"  # a Monday
HOLIDAY_ISO_WEEKS = (14, 27, 47, 51, 52)  # Easter-ish, early July, Thanksgiving, Christmas
STORE_REGIONS = ("north", "south", "east", "west")
CONTRACTS = ("monthly", "one_year", "two_year")


def _write(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as parquet without the index so bytes depend on data only."""
    df.to_parquet(path, index=False, engine="pyarrow")
    return path


def write_demand(
    out_dir: str | Path,
    *,
    n_stores: int = 4,
    n_items: int = 5,
    n_weeks: int = 156,
    horizon_weeks: int = 8,
    seed: int = 0,
) -> dict[str, Path]:
    """Write weekly store x item sales with promotions, holidays and stores.

    Units are multiplicative in base level, store size, yearly seasonality,
    trend, promo lift, holiday bump, price elasticity and ~8% noise. Promos
    are drawn at random (not periodic) so "last value" forecasts poorly while
    the known promo/holiday/calendar features make the target learnable.

    Returns:
        Mapping ``sales``/``stores``/``promotions``/``future_sales`` -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_total = n_weeks + horizon_weeks
    shape = (n_stores, n_items, n_total)
    weeks = pd.date_range(DEMAND_START, periods=n_total, freq="W-MON")

    store_ids = np.arange(1, n_stores + 1, dtype=np.int64)
    store_type = np.where(np.arange(n_stores) % 2 == 0, "large", "small")
    size = np.where(store_type == "large", rng.uniform(2500, 6000, n_stores), rng.uniform(600, 1500, n_stores))
    size = size.round(0)
    stores = pd.DataFrame({
        "store_id": store_ids,
        "region": [STORE_REGIONS[i % len(STORE_REGIONS)] for i in range(n_stores)],
        "store_type": store_type,
        "store_size_sqm": size.astype(np.float64),
    })

    base = np.clip(rng.lognormal(np.log(70.0), 0.6, (n_stores, n_items)), 20, 200)
    size_effect = (size / 2000.0) ** 0.25
    phase = rng.uniform(0, 2 * np.pi, n_items)
    amplitude = rng.uniform(0.2, 0.45, n_items)
    slope = rng.uniform(-0.0008, 0.002, (n_stores, n_items))
    holiday_lift = rng.uniform(0.25, 0.6, n_items)
    elasticity = rng.uniform(1.0, 2.0, n_items)
    ref_price = rng.uniform(2.0, 15.0, n_items).round(2)

    on_promo = rng.random(shape) < 0.15
    discount = np.where(on_promo, rng.choice([10.0, 15.0, 20.0, 25.0, 30.0, 40.0], shape), 0.0)
    # Weekly shelf-price moves (~6%), planned ahead: known for the future, unlike "last value".
    regular = ref_price[None, :, None] * np.exp(rng.normal(0.0, 0.06, shape))
    price = (regular * (1.0 - discount / 100.0)).round(2)
    noise = np.exp(rng.normal(0.0, 0.08, shape))

    t = np.arange(n_total, dtype=np.float64)
    angle = 2 * np.pi * weeks.dayofyear.to_numpy() / 365.25
    season = 1.0 + amplitude[:, None] * np.sin(angle[None, :] + phase[:, None])
    is_holiday = np.isin(weeks.isocalendar().week.to_numpy(), HOLIDAY_ISO_WEEKS)
    units = (
        base[:, :, None]
        * size_effect[:, None, None]
        * season[None, :, :]
        * (1.0 + slope[:, :, None] * t)
        * (1.0 + on_promo * (0.3 + 0.5 * (discount - 10.0) / 30.0))
        * (1.0 + holiday_lift[None, :, None] * is_holiday[None, None, :])
        * (regular / ref_price[None, :, None]) ** (-elasticity[None, :, None])
        * noise
    )
    units = np.maximum(units, 0.0).round(0)

    s_idx, i_idx, w_idx = (a.ravel() for a in np.meshgrid(
        np.arange(n_stores), np.arange(n_items), np.arange(n_total), indexing="ij"
    ))
    keys = pd.DataFrame({
        "store_id": store_ids[s_idx],
        "item_id": (i_idx + 1).astype(np.int64),
        "week": weeks[w_idx].astype("datetime64[ns]"),
    })
    full = keys.assign(price=price.ravel(), units=units.ravel())
    promotions = keys.assign(
        on_promo=on_promo.ravel().astype(np.int64),
        discount_pct=discount.ravel(),
        is_holiday=is_holiday[w_idx].astype(np.int64),
    )
    history = w_idx < n_weeks
    sales = full[history].reset_index(drop=True)
    future = full[~history].drop(columns="units").reset_index(drop=True)

    return {
        "sales": _write(sales, out / "sales.parquet"),
        "stores": _write(stores, out / "stores.parquet"),
        "promotions": _write(promotions, out / "promotions.parquet"),
        "future_sales": _write(future, out / "future_sales.parquet"),
    }


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _calibrate_intercept(z: np.ndarray, target: float) -> float:
    """Bisect the intercept so the mean churn probability equals ``target``."""
    lo, hi = -20.0, 20.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if _sigmoid(z + mid).mean() < target else (lo, mid)
    return (lo + hi) / 2.0


def write_churn(
    out_dir: str | Path,
    *,
    n_regions: int = 6,
    customers_per_region: int = 300,
    n_to_score: int = 40,
    seed: int = 0,
) -> dict[str, Path]:
    """Write telecom-style customers, usage and new customers to score.

    Churn follows a logistic model whose coefficients differ per region (and
    whose intercept is calibrated to a 18-32% regional churn rate), so models
    trained per region beat a single global one and the majority class.

    Returns:
        Mapping ``customers``/``usage``/``customers_to_score`` -> path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # Global effects on standardised features; regions rescale each one.
    beta = np.array([-1.8, -1.3, -2.8, 1.3, 0.8, 0.5, 0.7, -0.5])
    frames: list[pd.DataFrame] = []
    next_id = 10_001
    for r in range(n_regions):
        n = customers_per_region + n_to_score
        tenure = np.clip(rng.exponential(22.0, n) + 1, 1, 72).astype(np.int64)
        p_two = 0.05 + 0.40 * tenure / 72
        p_one = np.full(n, 0.25)
        u = rng.random(n)
        contract = np.where(u < p_two, 2, np.where(u < p_two + p_one, 1, 0))
        charges = np.clip(rng.normal(70.0, 25.0, n), 18.0, 120.0).round(2)
        calls = rng.poisson(rng.uniform(1.0, 2.5), n).astype(np.int64)
        paperless = (rng.random(n) < 0.6).astype(np.int64)
        minutes = rng.gamma(2.0, 60.0, n).round(1)
        data_gb = rng.gamma(2.0, 4.0, n).round(2)
        dropped = rng.poisson(rng.uniform(0.5, 3.0), n).astype(np.int64)

        x = np.column_stack([
            (tenure - 24.0) / 20.0, contract == 1, contract == 2, (charges - 70.0) / 25.0,
            calls - 1.5, paperless, dropped - 1.5, (data_gb - 8.0) / 6.0,
        ]).astype(np.float64)
        coef = beta * rng.uniform(0.4, 1.8, beta.size)
        z = x @ coef
        train = np.arange(n) < customers_per_region
        z = z + _calibrate_intercept(z[train], rng.uniform(0.18, 0.32))
        churned = rng.random(n) < _sigmoid(z)

        frames.append(pd.DataFrame({
            "customer_id": np.arange(next_id, next_id + n, dtype=np.int64),
            "region": f"region_{r + 1:02d}",
            "tenure_months": tenure,
            "contract": np.array(CONTRACTS)[contract],
            "monthly_charges": charges,
            "support_calls": calls,
            "paperless": paperless,
            "churned": np.where(churned, "yes", "no"),
            "avg_call_minutes": minutes,
            "data_gb": data_gb,
            "dropped_calls": dropped,
            "_train": train,
        }))
        next_id += n

    df = pd.concat(frames, ignore_index=True)
    usage_cols = ["customer_id", "avg_call_minutes", "data_gb", "dropped_calls"]
    customer_cols = [c for c in df.columns if c not in usage_cols[1:] and c != "_train"]
    customers = df.loc[df["_train"], customer_cols].reset_index(drop=True)
    to_score = df.loc[~df["_train"], customer_cols].drop(columns="churned").reset_index(drop=True)
    usage = df[usage_cols].reset_index(drop=True)

    return {
        "customers": _write(customers, out / "customers.parquet"),
        "usage": _write(usage, out / "usage.parquet"),
        "customers_to_score": _write(to_score, out / "customers_to_score.parquet"),
    }


def write_all(out_dir: str | Path, *, small: bool = False, seed: int = 0) -> dict[str, dict[str, Path]]:
    """Write both use cases under ``out_dir/demand`` and ``out_dir/churn``.

    ``small=True`` shrinks the data so integration tests run in seconds.
    """
    out = Path(out_dir)
    demand_kw = dict(n_stores=2, n_items=3, n_weeks=120) if small else {}
    churn_kw = dict(n_regions=3, customers_per_region=200) if small else {}
    return {
        "demand": write_demand(out / "demand", seed=seed, **demand_kw),
        "churn": write_churn(out / "churn", seed=seed, **churn_kw),
    }


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: ``python -m automl.demo_data --out DIR [--small] [--seed N]``."""
    parser = argparse.ArgumentParser(description="Write the synthetic demo datasets as parquet.")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--small", action="store_true", help="tiny sizes for fast tests")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    args = parser.parse_args(argv)
    for use_case, files in write_all(args.out, small=args.small, seed=args.seed).items():
        for name, path in files.items():
            print(f"{use_case}/{name}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
