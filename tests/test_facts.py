"""One source for customer facts (crm_ml.features.facts), issue #17."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from facts_golden import SEEDS, digest, outputs

from crm_ml.features import build, customer_summary, facts
from crm_ml.forecast import sales_series
from crm_ml.rfm import rfm_table


def transactions(rows, columns=("customer_id", "timestamp", "amount")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns)).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], format="ISO8601"))


GOLDEN = json.loads((Path(__file__).parent / "data" / "facts_golden.json").read_text())


@pytest.mark.parametrize("seed", SEEDS)
def test_outputs_are_those_recorded_before_the_rewrite(seed):
    got = {name: digest(v) for name, v in outputs(seed).items()}
    expected = {k.split("/", 1)[1]: v for k, v in GOLDEN.items() if k.startswith(f"{seed}/")}
    assert set(got) == set(expected)
    changed = sorted(name for name in got if got[name] != expected[name])
    assert not changed, f"outputs changed: {changed}"


@pytest.fixture()
def orders():
    """Customer a: two orders on one day, one of two rows; b: one order; c: a return."""
    return transactions([
        ("a", "2024-01-02 10:00", 10.0, "o1"),
        ("a", "2024-01-02 10:00", 5.0, "o1"),
        ("a", "2024-01-02 15:00", 7.0, "o2"),
        ("a", "2024-01-20 09:00", 3.0, "o3"),
        ("b", "2024-01-03 12:00", 40.0, "o4"),
        ("c", "2024-01-05 12:00", -8.0, "o5"),
    ], columns=("customer_id", "timestamp", "amount", "order_id"))


def _three(tx):
    """Orders per customer as the three consumers count them."""
    s = customer_summary(tx, "2024-01-31")["n_orders"].astype(float)
    b = build(tx, "2024-01-31")["n_orders"]
    y = sales_series(tx, "M", value="orders", as_of="2024-01-31")
    return s, b, y


def test_the_three_consumers_agree(orders):
    s, b, y = _three(orders)
    assert s.to_dict() == b.to_dict() == {"a": 3.0, "b": 1.0}
    assert y.tolist() == [4.0]
    assert rfm_table(orders, "2024-01-31")["frequency"].to_dict() == {"a": 3, "b": 1}


def test_a_changed_order_rule_reaches_all_three(orders, monkeypatch):
    """The order-key rule lives in crm_ml.features.facts only: change it there (here: one
    order per customer) and customer_summary, build, rfm_table and sales_series follow."""
    monkeypatch.setattr(facts, "order_codes", lambda order_id, ts: np.zeros(len(ts), np.int64))
    s, b, y = _three(orders)
    assert s.to_dict() == b.to_dict() == {"a": 1.0, "b": 1.0}
    assert y.tolist() == [2.0]
    assert rfm_table(orders, "2024-01-31")["frequency"].to_dict() == {"a": 1, "b": 1}


def test_orders_belong_to_one_customer(orders):
    """An order id reused by another customer is another order (it used to merge in
    sales_series only)."""
    tx = orders.copy()
    tx.loc[tx["customer_id"] == "b", "order_id"] = "o1"
    s, b, y = _three(tx)
    assert s.to_dict() == b.to_dict() == {"a": 3.0, "b": 1.0}
    assert y.tolist() == [4.0]


def test_missing_order_id_is_the_order_at_that_timestamp(orders):
    tx = orders.copy()
    tx["order_id"] = tx["order_id"].astype(object)
    tx.loc[2, "order_id"] = None  # a's 15:00 purchase
    tx.loc[1, "order_id"] = None  # a's second row at 10:00: its own timestamp order
    s, b, y = _three(tx)
    assert s.to_dict() == b.to_dict() == {"a": 4.0, "b": 1.0}
    assert y.tolist() == [5.0]


def test_huge_integer_order_ids_do_not_overflow_the_keys():
    """Order ids spread over the whole int64 range: keys are renumbered densely instead of
    overflowing (build used to pack them unchecked)."""
    tx = transactions([
        ("a", "2024-01-02", 1.0, 0),
        ("a", "2024-01-03", 1.0, 2**62),
        ("b", "2024-01-03", 1.0, 2**62),
        ("b", "2024-01-04", 1.0, 2**62),
    ], columns=("customer_id", "timestamp", "amount", "order_id"))
    s, b, y = _three(tx)
    assert s.to_dict() == b.to_dict() == {"a": 2.0, "b": 1.0}
    assert y.tolist() == [3.0]


def test_order_keys_without_order_id_are_customer_timestamps():
    ts = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 10:00:00.001",
                         "2024-01-01 10:00"], format="ISO8601").to_numpy().view(np.int64)
    codes = np.array([0, 0, 0, 1])
    keys, width = facts.order_keys(codes, 2, ts)
    assert keys[0] == keys[1] != keys[2]
    assert keys[3] != keys[0]
    assert (keys // width).tolist() == codes.tolist()


def test_purchase_facts_counts():
    tx = transactions([
        ("a", "2024-01-01 10:00", 10.0),
        ("a", "2024-01-01 11:00", 0.0),    # zero: neither purchase nor return
        ("a", "2024-01-03 10:00", -4.0),   # return
        ("a", "2024-01-05 10:00", 6.0),
        ("a", "2024-02-05 10:00", 6.0),    # after as_of
        ("b", "2024-01-05 10:00", -1.0),   # returns only
    ])
    ts = tx["timestamp"].to_numpy().view(np.int64)
    f = facts.purchase_facts(tx["customer_id"], ts, tx["amount"].to_numpy(),
                             pd.Timestamp("2024-01-31"))
    assert f.ids.tolist() == ["a", "b"] and f.keep.tolist() == [True, False]
    assert (f.n_orders[0], f.n_days[0], f.gross[0], f.returns[0]) == (2, 2, 16.0, -4.0)
    assert f.n_returns.tolist() == [1, 1]
    assert pd.Timestamp(f.first_ts[0]) == pd.Timestamp("2024-01-01 10:00")
    assert pd.Timestamp(f.last_ts[0]) == pd.Timestamp("2024-01-05 10:00")
    uc, ud = f.sorted_days()
    assert uc.tolist() == [0, 0]
    assert (pd.to_datetime(ud, unit="D").strftime("%m-%d")).tolist() == ["01-01", "01-05"]
