"""The shared single-pass customer summary (crm_ml.features.customer_summary)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _frames import transactions
from lifetimes.utils import summary_data_from_transaction_data

import crm_ml as cm
from crm_ml import DataValidationError
from crm_ml.features import customer_summary


@pytest.fixture()
def hand():
    return transactions([
        ("a", "2024-01-01 10:00", 10.0),
        ("a", "2024-01-01 15:00", 5.0),    # same day, second order
        ("a", "2024-01-11 09:00", 20.0),
        ("a", "2024-01-31 23:59", 30.0),   # last day of history
        ("a", "2024-02-01 00:00", 999.0),  # after as_of: ignored
        ("b", "2024-01-21 12:00", 40.0),
        ("b", "2024-01-25 12:00", -15.0),  # a return
        ("c", "2024-01-05 12:00", -8.0),   # only a return: no row
        ("d", "2024-02-05 12:00", 50.0),   # only after as_of: no row
    ])


def test_exact_values_on_a_hand_made_example(hand):
    s = customer_summary(hand, "2024-01-31")
    assert sorted(s.index) == ["a", "b"]
    a, b = s.loc["a"], s.loc["b"]
    assert a["first_purchase"] == pd.Timestamp("2024-01-01 10:00")
    assert a["last_purchase"] == pd.Timestamp("2024-01-31 23:59")
    assert (a["n_orders"], a["n_days"]) == (4, 3)
    assert a["total_spend"] == 65.0
    assert (a["recency_days"], a["tenure_days"]) == (0, 30)
    assert (a["frequency"], a["recency"], a["T"]) == (2.0, 30.0, 30.0)
    assert a["monetary_value"] == pytest.approx(25.0)  # (20 + 30) / 2, first day excluded
    assert (b["n_orders"], b["frequency"], b["monetary_value"]) == (1, 0.0, 0.0)
    assert b["total_spend"] == 25.0 and b["return_spend"] == 15.0
    assert (b["recency_days"], b["tenure_days"]) == (10, 10)


def test_time_units_and_order_basis(hand):
    w = customer_summary(hand, "2024-01-31", time_unit="W")
    assert w.loc["a", "T"] == pytest.approx(30 / 7)
    m = customer_summary(hand, "2024-01-31", time_unit="M")
    assert m.loc["a", "recency"] == pytest.approx(30 / 30.4375)
    o = customer_summary(hand, "2024-01-31", frequency_basis="orders")
    assert o.loc["a", "frequency"] == 3.0
    assert o.loc["a", "monetary_value"] == pytest.approx((5 + 20 + 30) / 3)


def test_as_of_excludes_later_transactions(small_dataset):
    tx = small_dataset.transactions
    as_of = pd.Timestamp("2024-03-31")
    full = customer_summary(tx, as_of)
    cut = customer_summary(tx[tx["timestamp"] < "2024-04-01"], as_of)
    pd.testing.assert_frame_equal(full.sort_index(), cut.sort_index())
    assert (full["last_purchase"] < pd.Timestamp("2024-04-01")).all()


@pytest.mark.parametrize(("unit", "mult"), [("D", 1), ("W", 7)])
def test_equals_lifetimes_summary(small_dataset, unit, mult):
    tx = small_dataset.transactions
    tx = tx[tx["amount"] > 0]  # lifetimes counts returns as purchases; crm_ml does not
    as_of = "2024-06-30"
    ours = customer_summary(tx, as_of, time_unit=unit)
    ref = summary_data_from_transaction_data(tx, "customer_id", "timestamp", "amount",
                                             observation_period_end=as_of, freq="D",
                                             freq_multiplier=mult)
    assert set(ours.index) == set(ref.index)
    ours = ours.loc[ref.index]
    for col in ["frequency", "recency", "T", "monetary_value"]:
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=1e-9,
                                   atol=1e-9, err_msg=col)


def test_categorical_ids_and_order_ids(small_dataset):
    tx = small_dataset.transactions
    plain = customer_summary(tx, small_dataset.as_of)
    cat = customer_summary(tx.assign(customer_id=tx["customer_id"].astype("category")),
                           small_dataset.as_of)
    pd.testing.assert_frame_equal(plain.sort_index(), cat.sort_index())
    buys = tx[tx["amount"] > 0]
    expected = buys.groupby("customer_id")["order_id"].nunique()
    assert (plain["n_orders"].loc[expected.index] == expected).all()


@pytest.mark.parametrize("ids", [["o1", "o2", "o3", None, None, "o6", "o7"],
                                 [1.0, 2.0, 3.0, np.nan, np.nan, 6.0, 7.0]],
                         ids=["strings", "floats"])
def test_missing_order_ids_stay_with_their_customer(ids):
    # B's two rows without an order id are B's orders (one per timestamp), never A's
    tx = transactions([("A", "2024-01-01", 1.0), ("A", "2024-01-05", 2.0),
                       ("A", "2024-01-09", 3.0), ("B", "2024-01-02", 4.0),
                       ("B", "2024-01-03", 5.0), ("B", "2024-01-04", 6.0),
                       ("C", "2024-01-06", 7.0)]).assign(order_id=ids)
    s = customer_summary(tx, "2024-02-01", frequency_basis="orders")
    assert s["n_orders"].to_dict() == {"A": 3, "B": 3, "C": 1}
    assert s.loc["A", "monetary_value"] == pytest.approx(2.5)
    X = cm.features.build(tx, "2024-02-01")
    assert X["n_orders"].to_dict() == {"A": 3, "B": 3, "C": 1}


def test_bad_input_raises():
    with pytest.raises(DataValidationError, match="amount"):
        customer_summary(pd.DataFrame({"customer_id": ["a"], "timestamp": [pd.Timestamp(0)]}),
                         "2024-01-01")
    tx = transactions([("a", "2024-01-01", 1.0)])
    with pytest.raises(DataValidationError, match="time_unit"):
        customer_summary(tx, "2024-01-01", time_unit="Q")
    with pytest.raises(DataValidationError, match="customer_id"):
        customer_summary(tx.assign(customer_id=[None]), "2024-01-01")


def test_empty_history_gives_empty_frame():
    tx = transactions([("a", "2024-05-01", 1.0)])
    s = customer_summary(tx, "2024-01-01")
    assert s.empty and "frequency" in s.columns


def test_grouped_string_ids_give_the_same_summary_as_shuffled():
    # > 100k rows grouped by customer take the run-length factorisation path
    rng = np.random.default_rng(0)
    n, nc = 150_000, 10_000
    ids = np.array([f"C{i:05d}" for i in range(nc)], dtype=object)
    tx = pd.DataFrame({
        "customer_id": ids[rng.integers(0, nc, n)],
        "timestamp": pd.Timestamp("2023-01-01")
        + pd.to_timedelta(rng.integers(0, 400 * 86400, n), unit="s"),
        "amount": rng.gamma(2.0, 20.0, n).round(2),
    })
    grouped = tx.sort_values(["customer_id", "timestamp"]).reset_index(drop=True)
    grouped.loc[3, "customer_id"] = grouped["customer_id"].iloc[-1]  # id seen in two runs
    shuffled = grouped.sample(frac=1.0, random_state=0)
    a = customer_summary(grouped, "2023-12-31").sort_index()
    b = customer_summary(shuffled, "2023-12-31").sort_index()
    pd.testing.assert_frame_equal(a, b)
