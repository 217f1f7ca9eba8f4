"""features.build: hand-made values, no leakage, attributes, descriptions, summary agreement."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.errors import DataValidationError
from crm_ml.features import FEATURE_DESCRIPTIONS, build
from crm_ml.features.snapshot import describe_feature


def _tx(rows):
    df = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "product_id",
                                     "channel"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


@pytest.fixture()
def hand_made():
    return _tx([
        ("a", "2024-01-01 10:00", 10.0, "p1", "web"),
        ("a", "2024-01-31 09:00", 20.0, "p2", "web"),
        ("a", "2024-03-01 12:00", 30.0, "p1", "store"),
        ("a", "2024-03-05 12:00", -5.0, "p1", "store"),  # a return
        ("b", "2024-02-20 08:00", 50.0, "p3", "web"),
        ("b", "2024-03-31 23:59", 25.0, "p3", "web"),      # on the as_of day: included
        ("c", "2024-04-01 00:00", 99.0, "p9", "web"),      # after as_of: no row
    ])


def test_hand_made_values(hand_made):
    X = build(hand_made, "2024-03-31", windows=(30, 60))
    assert list(X.index) == ["a", "b"]
    a, b = X.loc["a"], X.loc["b"]
    assert a["recency_days"] == 30 and a["tenure_days"] == 90
    assert a["n_orders"] == 3 and a["n_purchase_days"] == 3
    assert a["total_spend"] == pytest.approx(55.0)  # net of the return
    assert a["n_returns"] == 1 and a["return_share"] == pytest.approx(5 / 60)
    assert a["mean_gap_days"] == pytest.approx(30.0) and a["max_gap_days"] == 30
    assert a["gap_ratio"] == pytest.approx(1.0)
    # windows: last 30 days = Mar 2..Mar 31 -> none for a; 60 days covers Jan 31? no (Feb 1..)
    assert a["orders_30d"] == 0 and a["orders_60d"] == 1 and a["spend_60d"] == 30
    assert a["orders_change_30d"] == -1  # Mar 1 falls in the 30 days before
    assert a["n_products"] == 2 and a["n_channels"] == 2
    assert b["recency_days"] == 0 and b["orders_30d"] == 1 and b["spend_30d"] == 25
    assert np.isnan(b["std_gap_days"])  # one gap only


def test_no_leakage_after_as_of(small_dataset):
    ds = small_dataset
    as_of = ds.as_of - pd.Timedelta(days=120)
    base = build(ds.transactions, as_of, ds.interactions, ds.customers)
    some = base.index[:5]
    extra_tx = pd.DataFrame({"customer_id": some, "amount": 500.0, "order_id": "late",
                             "timestamp": as_of + pd.Timedelta(days=1, hours=1),
                             "product_id": "zzz", "channel": "new"})
    extra_it = pd.DataFrame({"customer_id": some, "kind": "complaint", "satisfaction": 1.0,
                             "timestamp": as_of + pd.Timedelta(days=2)})
    tx2 = pd.concat([ds.transactions, extra_tx], ignore_index=True)
    it2 = pd.concat([ds.interactions, extra_it], ignore_index=True)
    pd.testing.assert_frame_equal(base, build(tx2, as_of, it2, ds.customers))


def test_tz_aware_timestamps_give_the_same_features_labels_and_summary(small_dataset):
    # naive timestamps are UTC by contract; the same instants with a UTC zone must agree
    ds = small_dataset
    as_of = ds.as_of - pd.Timedelta(days=120)
    tx, it = ds.transactions, ds.interactions
    txz = tx.assign(timestamp=tx["timestamp"].dt.tz_localize("UTC").dt.tz_convert("Asia/Tokyo"))
    itz = it.assign(timestamp=it["timestamp"].dt.tz_localize("UTC"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        X = build(txz, as_of, itz, ds.customers)
        y = cm.churn.make_labels(txz, as_of, horizon_days=90)
        summary = cm.features.customer_summary(txz, as_of)
    pd.testing.assert_frame_equal(X, build(tx, as_of, it, ds.customers))
    pd.testing.assert_series_equal(y, cm.churn.make_labels(tx, as_of, horizon_days=90))
    pd.testing.assert_frame_equal(summary, cm.features.customer_summary(tx, as_of))


def test_as_of_before_any_purchase_gives_empty_features_and_a_clear_training_error(
        small_dataset):
    ds = small_dataset
    full = build(ds.transactions, ds.as_of, ds.interactions, ds.customers)
    X = build(ds.transactions, "2000-01-01", ds.interactions, ds.customers)
    assert len(X) == 0 and list(X.columns) == list(full.columns)
    assert len(build(ds.transactions.iloc[:0], ds.as_of)) == 0
    with pytest.warns(UserWarning, match="no customer has a purchase"):
        y = cm.churn.make_labels(ds.transactions, "2000-01-01")
    with pytest.raises(DataValidationError, match="no customers to train on"):
        cm.churn.ChurnModel().fit(X, y)


def test_numeric_ids_against_text_ids_are_an_error_not_empty_features(small_dataset):
    ds = small_dataset
    tx = ds.transactions.assign(customer_id=ds.transactions["customer_id"].str[1:].astype(int))
    with pytest.raises(DataValidationError, match="interactions: customer_id values are text"):
        build(tx, ds.as_of, interactions=ds.interactions)
    with pytest.raises(DataValidationError, match="customers: customer_id values are text"):
        build(tx, ds.as_of, customers=ds.customers)
    # the same numeric ids in every table are fine
    it = ds.interactions.assign(customer_id=ds.interactions["customer_id"].str[1:].astype(int))
    X = build(tx, ds.as_of, interactions=it)
    assert X["tickets_365d"].sum() == build(ds.transactions, ds.as_of,
                                            interactions=ds.interactions)["tickets_365d"].sum()


def test_customer_attributes_pass_through(hand_made):
    customers = pd.DataFrame({"customer_id": ["a", "b", "z"], "region": ["N", None, "S"],
                              "seats": [3, 5, 1],
                              "signup_date": pd.to_datetime(["2023-12-31", "2024-06-01",
                                                             "2020-01-01"])})
    X = build(hand_made, "2024-03-31", customers=customers)
    assert isinstance(X["region"].dtype, pd.CategoricalDtype)
    assert X.loc["a", "days_since_signup"] == 91
    assert np.isnan(X.loc["b", "days_since_signup"])  # signup after as_of is unknown then
    assert X.loc["b", "seats"] == 5 and "z" not in X.index


def test_customer_columns_named_like_features_are_a_clear_error(hand_made):
    customers = pd.DataFrame({"customer_id": ["a", "b"], "total_spend": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match=r"\['total_spend'\] have the names"):
        build(hand_made, "2024-03-31", customers=customers)


def test_interaction_features(hand_made):
    it = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
                       "timestamp": pd.to_datetime(["2024-03-10", "2024-03-20", "2024-05-01",
                                                    "2023-01-01"]),
                       "kind": [" Ticket", "complaint ", "complaint", "ticket"],  # as typed
                       "satisfaction": [4.0, 2.0, 1.0, np.nan],
                       "resolution_hours": [10.0, 30.0, 5.0, np.nan]})
    X = build(hand_made, "2024-03-31", interactions=it, windows=(30,))
    assert X.loc["a", "tickets_30d"] == 1 and X.loc["a", "complaints_30d"] == 1
    assert X.loc["a", "mean_satisfaction"] == 3.0 and X.loc["a", "last_satisfaction"] == 2.0
    assert X.loc["a", "mean_resolution_hours"] == 20.0
    assert X.loc["a", "days_since_last_interaction"] == 11
    assert np.isnan(X.loc["b", "mean_satisfaction"])


def test_every_feature_is_described(small_dataset):
    ds = small_dataset
    X = build(ds.transactions, ds.as_of, ds.interactions, ds.customers)
    built = [c for c in X.columns if c not in ds.customers.columns]
    assert set(built) <= set(FEATURE_DESCRIPTIONS)
    assert describe_feature("orders_change_45d").startswith("orders in the last 45 days")


def test_agrees_with_customer_summary(small_dataset):
    ds = small_dataset
    X = build(ds.transactions, ds.as_of)
    s = cm.features.customer_summary(ds.transactions, ds.as_of)
    assert X.index.equals(s.index.sort_values())
    s = s.reindex(X.index)
    for mine, theirs in [("recency_days", "recency_days"), ("tenure_days", "tenure_days"),
                         ("n_purchase_days", "n_days"), ("n_orders", "n_orders"),
                         ("total_spend", "total_spend")]:
        np.testing.assert_allclose(X[mine], s[theirs].astype(float), err_msg=mine)


def test_bad_input_is_named():
    df = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": [1.0]})
    with pytest.raises(DataValidationError, match="timestamp"):
        build(df, "2024-02-01")
    with pytest.raises(DataValidationError, match="amount"):
        build(df.drop(columns="amount"), "2024-02-01")
