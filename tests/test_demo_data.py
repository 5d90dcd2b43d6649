"""Synthetic demo data: determinism, schemas, coverage, and that it is learnable at all."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl.demo_data import main, write_all, write_churn, write_demand

KEYS = ["store_id", "item_id"]
CUSTOMER_COLUMNS = {
    "customer_id": "int64", "region": "object", "tenure_months": "int64", "contract": "object",
    "monthly_charges": "float64", "support_calls": "int64", "paperless": "int64",
}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> dict[str, dict[str, Path]]:
    return write_all(tmp_path_factory.mktemp("demo"), small=True)


def _read(paths: dict[str, Path]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in paths.items()}


def test_same_arguments_write_byte_identical_files(tmp_path):
    first, second = write_all(tmp_path / "a", small=True), write_all(tmp_path / "b", small=True)
    for use_case, files in first.items():
        for name, path in files.items():
            assert path.read_bytes() == second[use_case][name].read_bytes(), (use_case, name)
    other = write_all(tmp_path / "c", small=True, seed=1)
    assert other["demand"]["sales"].read_bytes() != first["demand"]["sales"].read_bytes()


def test_write_all_layout(small):
    assert set(small) == {"demand", "churn"}
    assert set(small["demand"]) == {"sales", "stores", "promotions", "future_sales"}
    assert set(small["churn"]) == {"customers", "usage", "customers_to_score"}
    for use_case, files in small.items():
        for name, path in files.items():
            assert path == path.parent.parent / use_case / f"{name}.parquet" and path.is_file()


def test_demand_schemas(small):
    d = _read(small["demand"])
    assert d["sales"].dtypes.astype(str).to_dict() == {
        "store_id": "int64", "item_id": "int64", "week": "datetime64[ns]", "price": "float64", "units": "float64"}
    assert d["future_sales"].dtypes.astype(str).to_dict() == {
        "store_id": "int64", "item_id": "int64", "week": "datetime64[ns]", "price": "float64"}
    assert d["stores"].dtypes.astype(str).to_dict() == {
        "store_id": "int64", "region": "object", "store_type": "object", "store_size_sqm": "float64"}
    assert d["promotions"].dtypes.astype(str).to_dict() == {
        "store_id": "int64", "item_id": "int64", "week": "datetime64[ns]", "on_promo": "int64",
        "discount_pct": "float64", "is_holiday": "int64"}
    assert set(d["stores"]["store_type"]) == {"small", "large"}
    assert d["stores"]["store_id"].is_unique and (d["stores"]["store_size_sqm"] > 0).all()
    sales = d["sales"]
    assert (sales["units"] >= 0).all() and sales["units"].notna().all() and (sales["price"] > 0).all()
    promos = d["promotions"]
    assert promos["on_promo"].isin([0, 1]).all() and promos["is_holiday"].isin([0, 1]).all()
    assert (promos.loc[promos["on_promo"] == 0, "discount_pct"] == 0).all()
    assert (promos.loc[promos["on_promo"] == 1, "discount_pct"] > 0).all()
    assert 0.08 < promos["on_promo"].mean() < 0.22 and promos["is_holiday"].any()


def test_one_row_per_store_item_week_and_future_follows_history(tmp_path):
    d = _read(write_demand(tmp_path, n_stores=2, n_items=3, n_weeks=30, horizon_weeks=5))
    sales, future, promos = d["sales"], d["future_sales"], d["promotions"]
    weeks = pd.date_range("2021-01-04", periods=35, freq="7D")
    assert len(sales) == 2 * 3 * 30 and not sales.duplicated([*KEYS, "week"]).any()
    assert len(future) == 2 * 3 * 5 and not future.duplicated([*KEYS, "week"]).any()
    assert (weeks.dayofweek == 0).all()
    for _, group in sales.groupby(KEYS):
        assert list(group["week"]) == list(weeks[:30])
    for _, group in future.groupby(KEYS):
        assert list(group["week"]) == list(weeks[30:])  # right after the history, no gap
    assert "units" not in future.columns
    assert len(promos) == 2 * 3 * 35 and not promos.duplicated([*KEYS, "week"]).any()
    assert set(promos["week"]) == set(weeks)
    assert set(map(tuple, promos[KEYS].drop_duplicates().to_numpy())) == set(
        map(tuple, sales[KEYS].drop_duplicates().to_numpy()))


def test_churn_schemas_and_ids(small):
    c = _read(small["churn"])
    customers, usage, to_score = c["customers"], c["usage"], c["customers_to_score"]
    assert customers.dtypes.astype(str).to_dict() == {**CUSTOMER_COLUMNS, "churned": "object"}
    assert to_score.dtypes.astype(str).to_dict() == CUSTOMER_COLUMNS
    assert usage.dtypes.astype(str).to_dict() == {
        "customer_id": "int64", "avg_call_minutes": "float64", "data_gb": "float64", "dropped_calls": "int64"}
    assert len(customers) == 3 * 200 and len(to_score) == 3 * 40
    assert to_score.groupby("region").size().eq(40).all()
    everyone = pd.concat([customers["customer_id"], to_score["customer_id"]])
    assert everyone.is_unique and usage["customer_id"].is_unique
    assert set(usage["customer_id"]) == set(everyone)
    assert set(customers["churned"]) == {"yes", "no"}
    assert set(customers["contract"]) == {"monthly", "one_year", "two_year"}
    assert set(customers["region"]) == set(to_score["region"]) == {"region_01", "region_02", "region_03"}
    assert customers["paperless"].isin([0, 1]).all() and (customers["tenure_months"] >= 1).all()
    rates = customers["churned"].eq("yes").groupby(customers["region"]).mean()
    assert rates.between(0.10, 0.45).all(), rates


def test_churn_rates_stay_in_range_at_default_size(tmp_path):
    customers = pd.read_parquet(write_churn(tmp_path, seed=3)["customers"])
    rates = customers["churned"].eq("yes").groupby(customers["region"]).mean()
    assert len(rates) == 6 and rates.between(0.10, 0.45).all(), rates


def _demand_wins(paths: dict[str, Path]) -> float:
    """Share of series where a log-linear model on known features beats "last value" on the last 8 weeks."""
    frame = pd.read_parquet(paths["sales"]).merge(pd.read_parquet(paths["promotions"]), on=[*KEYS, "week"])
    angle = 2 * np.pi * frame["week"].dt.dayofyear / 365.25
    frame = frame.assign(log_price=np.log(frame["price"]), sin=np.sin(angle), cos=np.cos(angle),
                         t=(frame["week"] - frame["week"].min()).dt.days // 7)
    features = ["log_price", "on_promo", "discount_pct", "is_holiday", "sin", "cos", "t"]
    wins = []
    for _, group in frame.groupby(KEYS):
        x = np.column_stack([np.ones(len(group)), group[features].to_numpy(dtype=float)])
        train, test = group.iloc[:-8], group.iloc[-8:]
        coef = np.linalg.lstsq(x[:-8], np.log1p(train["units"].to_numpy()), rcond=None)[0]
        rmse = np.sqrt(np.mean((np.expm1(x[-8:] @ coef) - test["units"]) ** 2))
        naive = np.sqrt(np.mean((train["units"].iloc[-1] - test["units"]) ** 2))
        wins.append(rmse < naive)
    return float(np.mean(wins))


def test_demand_is_learnable_beyond_last_value(small, tmp_path):
    assert _demand_wins(small["demand"]) >= 0.9
    assert _demand_wins(write_demand(tmp_path)) >= 0.9


def _churn_wins(paths: dict[str, Path]) -> float:
    """Share of regions where a logistic regression beats the class prior's log-loss on a holdout."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    frame = pd.read_parquet(paths["customers"]).merge(pd.read_parquet(paths["usage"]), on="customer_id")
    frame = pd.get_dummies(frame, columns=["contract"], dtype=float)
    features = [c for c in frame.columns if c not in ("customer_id", "region", "churned")]
    wins = []
    for _, group in frame.groupby("region"):
        x, y = group[features].to_numpy(), group["churned"].eq("yes").to_numpy()
        cut = len(group) * 7 // 10
        mean, std = x[:cut].mean(axis=0), x[:cut].std(axis=0) + 1e-9
        model = LogisticRegression(max_iter=1000).fit((x[:cut] - mean) / std, y[:cut])
        loss = log_loss(y[cut:], model.predict_proba((x[cut:] - mean) / std)[:, 1], labels=[False, True])
        prior = log_loss(y[cut:], np.full(len(y) - cut, y[:cut].mean()), labels=[False, True])
        wins.append(loss < prior)
    return float(np.mean(wins))


def test_churn_is_learnable_beyond_majority_class(small, tmp_path):
    assert _churn_wins(small["churn"]) >= 2 / 3
    assert _churn_wins(write_churn(tmp_path)) >= 5 / 6


def test_cli_writes_and_lists_every_file(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--small", "--seed", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 7
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.parquet")) == sorted(
        f"{use_case}/{name}.parquet" for use_case, names in
        {"demand": ["sales", "stores", "promotions", "future_sales"],
         "churn": ["customers", "usage", "customers_to_score"]}.items() for name in names)
