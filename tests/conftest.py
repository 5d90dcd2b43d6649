"""Shared fixtures. The pandas frame factories are tiny and seeded, so unit tests stay fast and reproducible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def weekly_frame():
    """Factory for one store's weekly sales: ``units`` is learnable from ``promo`` and ``price``.

    Example: ``weekly_frame(40, seed=1)`` -> 40 rows of store, week, promo, price, region, units.
    """

    def make(n_weeks: int = 60, *, seed: int = 0, start: str = "2021-01-04") -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        promo = rng.integers(0, 2, n_weeks)
        price = rng.uniform(2.0, 4.0, n_weeks).round(2)
        units = 50 + 30 * promo - 5 * price + 3 * np.sin(np.arange(n_weeks) / 4) + rng.normal(0, 1, n_weeks)
        return pd.DataFrame({
            "store": 1,
            "week": pd.date_range(start, periods=n_weeks, freq="W-MON"),
            "promo": promo,
            "price": price,
            "region": rng.choice(["north", "south"], n_weeks),
            "units": units.round(2),
        })

    return make


@pytest.fixture
def classification_frame():
    """Factory for customers whose ``churned`` label ("yes"/"no") follows ``tenure`` and ``contract``.

    Example: ``classification_frame(80, seed=1)`` -> 80 rows of customer, tenure, charges, contract, churned.
    """

    def make(n_rows: int = 80, *, seed: int = 0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        tenure = rng.integers(1, 60, n_rows)
        contract = rng.choice(["monthly", "yearly"], n_rows)
        score = -0.12 * (tenure - 30) + np.where(contract == "monthly", 1.5, -1.5) + rng.normal(0, 0.5, n_rows)
        return pd.DataFrame({
            "segment": "a",
            "customer": np.arange(n_rows),
            "tenure": tenure,
            "charges": rng.uniform(20, 100, n_rows).round(1),
            "contract": contract,
            "churned": np.where(score > 0, "yes", "no"),
        })

    return make


@pytest.fixture(scope="session")
def spark():
    """One local[2] Spark session for every Spark test in the run (UI off, few shuffle partitions)."""
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("automl-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.python.worker.reuse", "true")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
