"""The built-in data: reproducible, consistent with its ground truth, with real signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_ml.datasets import load_cdnow, make_crm_dataset


@pytest.fixture(scope="module")
def ds():
    return make_crm_dataset(n_customers=4000, seed=3)


def test_same_seed_same_data_and_other_seed_differs():
    a = make_crm_dataset(n_customers=300, seed=7)
    b = make_crm_dataset(n_customers=300, seed=7)
    c = make_crm_dataset(n_customers=300, seed=8)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.interactions, b.interactions)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not a.transactions["amount"].equals(c.transactions["amount"])


def test_canonical_columns_and_dtypes(ds):
    tx = ds.transactions
    assert list(tx.columns[:3]) == ["customer_id", "timestamp", "amount"]
    assert tx["timestamp"].dtype == "datetime64[ns]"
    assert tx["amount"].dtype == "float64"
    assert tx["customer_id"].map(type).eq(str).all()
    assert set(ds.interactions["kind"]) == {"ticket", "complaint", "marketing"}
    sat = ds.interactions.loc[ds.interactions["kind"] == "ticket", "satisfaction"]
    assert sat.between(1, 5).all() and sat.notna().all()
    assert (ds.interactions["resolution_hours"].dropna() >= 0).all()


def test_about_ten_orders_per_customer_and_everyone_buys(ds):
    purchases = ds.transactions[ds.transactions["amount"] > 0]
    per_customer = purchases["order_id"].nunique() / len(ds.customers)
    assert 7 <= per_customer <= 15
    assert 1.3 <= len(purchases) / purchases["order_id"].nunique() <= 1.8  # lines per order
    assert set(ds.transactions["customer_id"]) == set(ds.customers["customer_id"])
    assert ds.truth.index.equals(pd.Index(ds.customers["customer_id"], name="customer_id"))


def test_history_ends_at_as_of_and_nobody_buys_after_dropout(ds):
    tx = ds.transactions
    assert tx["timestamp"].max() < ds.as_of + pd.Timedelta(days=1)
    assert tx["timestamp"].min() >= pd.Timestamp("2022-01-01")
    purchases = tx[tx["amount"] > 0]
    last = purchases.groupby("customer_id")["timestamp"].max()
    dropout = ds.truth["dropout_date"].reindex(last.index)
    dropped = dropout.notna()
    assert (last[dropped] < dropout[dropped]).all()
    first = purchases.groupby("customer_id")["timestamp"].min().dt.normalize()
    signup = ds.customers.set_index("customer_id")["signup_date"].reindex(first.index)
    assert (first == signup).all()


def test_groups_differ_in_rate_and_spend(ds):
    purchases = ds.transactions[ds.transactions["amount"] > 0]
    spend = purchases.groupby("customer_id")["amount"].mean()
    by_group = spend.groupby(ds.truth["group"]).median()
    assert by_group["frequent_high_spend"] > 5 * by_group["frequent_low_spend"]
    assert by_group["rare_high_spend"] > 5 * by_group["rare_low_spend"]
    rate = ds.truth.groupby("group")["purchase_rate"].mean()
    assert rate["frequent_low_spend"] > 4 * rate["rare_low_spend"]


def test_bad_service_raises_dropout(ds):
    truth = ds.truth
    poor = truth["service_quality"] < truth["service_quality"].quantile(0.25)
    good = truth["service_quality"] > truth["service_quality"].quantile(0.75)
    assert truth.loc[poor, "dropout_date"].notna().mean() > truth.loc[good,
                                                                       "dropout_date"].notna().mean()


def test_sales_are_seasonal_with_a_december_peak(ds):
    monthly = ds.transactions.set_index("timestamp")["amount"].resample("MS").sum()
    for year in (2023, 2024):
        assert monthly[f"{year}-12"].iloc[0] > monthly[f"{year}-07"].iloc[0]


def test_returns_are_present_and_negative(ds):
    share = (ds.transactions["amount"] < 0).mean()
    assert 0.005 < share < 0.05


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_customers"):
        make_crm_dataset(n_customers=0)
    with pytest.raises(ValueError, match="after start"):
        make_crm_dataset(n_customers=10, start="2024-01-01", end="2023-01-01")


def test_cdnow_sample_is_the_published_cohort():
    tx = load_cdnow()
    assert tx["customer_id"].nunique() == 2357
    assert len(tx) == 6919
    assert tx["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert tx["timestamp"].max() <= pd.Timestamp("1998-06-30")
    first = tx.groupby("customer_id")["timestamp"].min()
    assert (first < pd.Timestamp("1997-04-01")).all()
    assert np.isfinite(tx["amount"]).all()


def test_cdnow_master_holds_every_sample_customer():
    master = load_cdnow("master")
    assert master["customer_id"].nunique() == 23570
    assert list(master.columns) == ["customer_id", "timestamp", "amount", "quantity"]
    assert master["timestamp"].between("1997-01-01", "1998-06-30").all()
    sample = load_cdnow("sample")
    # the sample is a 1-in-10 draw of the master's customers, same ids and purchases
    assert set(sample["customer_id"]) <= set(master["customer_id"])
    pick = master[master["customer_id"].isin(set(sample["customer_id"]))]
    assert len(pick) == len(sample)
    assert pick["amount"].sum() == pytest.approx(sample["amount"].sum())
