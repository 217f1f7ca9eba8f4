"""Association rules: the numbers of mlxtend, the complements of the built-in data, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from mlxtend.frequent_patterns import association_rules as mlx_rules
from mlxtend.frequent_patterns import fpgrowth

from crm_ml.datasets import make_crm_dataset
from crm_ml.errors import DataValidationError
from crm_ml.recommend import association_rules
from crm_ml.recommend.rules import RULE_COLUMNS, _min_count


def _baskets(n_baskets=3000, n_products=40, seed=0):
    """Baskets (sets of product ids) with planted pairs, many single-item baskets."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_products + 1)
    pop /= pop.sum()
    partner = rng.permutation(n_products)
    baskets = []
    for _ in range(n_baskets):
        size = rng.choice([1, 1, 2, 3, 4])
        items = set(rng.choice(n_products, size=size, p=pop))
        if rng.random() < 0.3:
            items.add(partner[next(iter(items))])
        baskets.append({f"P{i:02d}" for i in items})
    return baskets


def _tx(baskets, seed=0):
    """Transactions holding the baskets as orders, with duplicate lines and returns that
    must change nothing."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, items in enumerate(baskets):
        customer = f"C{k % 700:04d}"
        ts = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=k)
        for item in sorted(items):
            rows.append((customer, ts, 10.0, k, item))
            if rng.random() < 0.05:
                rows.append((customer, ts, 3.0, k, item))  # the same product twice
        if rng.random() < 0.05:
            rows.append((customer, ts + pd.Timedelta(days=3), -10.0, k, "P39"))  # a return
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "order_id",
                                       "product_id"])


def _reference(baskets, min_support, min_confidence, min_lift):
    items = sorted(set().union(*baskets))
    onehot = pd.DataFrame([[i in b for i in items] for b in baskets], columns=items)
    frequent = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = mlx_rules(frequent, num_itemsets=len(onehot), metric="confidence",
                      min_threshold=min_confidence)
    rules = rules[(rules["antecedents"].map(len) == 1) & (rules["consequents"].map(len) == 1)
                  & (rules["lift"] >= min_lift)]
    return pd.DataFrame({
        "antecedent": rules["antecedents"].map(lambda s: next(iter(s))),
        "consequent": rules["consequents"].map(lambda s: next(iter(s))),
        "support": rules["support"], "confidence": rules["confidence"], "lift": rules["lift"],
        "leverage": rules["leverage"], "conviction": rules["conviction"],
    }).set_index(["antecedent", "consequent"]).sort_index()


@pytest.mark.parametrize("min_support, min_confidence, min_lift",
                         [(0.005, 0.1, 1.0), (0.002, 0.05, 0.0), (0.01, 0.2, 1.5)])
def test_every_number_is_mlxtends(min_support, min_confidence, min_lift):
    baskets = _baskets()
    n = len(baskets)
    assert math.ceil(min_support * n) == _min_count(min_support, n)  # the same threshold
    got = association_rules(_tx(baskets), min_support=min_support,
                            min_confidence=min_confidence, min_lift=min_lift)
    ref = _reference(baskets, min_support, min_confidence, min_lift)
    assert len(ref) > 5
    assert list(got.columns) == RULE_COLUMNS
    indexed = got.set_index(["antecedent", "consequent"]).sort_index()
    assert indexed.index.equals(ref.index)
    for column in ("support", "confidence", "lift", "leverage", "conviction"):
        np.testing.assert_allclose(indexed[column], ref[column], rtol=1e-9, err_msg=column)
    np.testing.assert_array_equal(indexed["n_baskets"], np.rint(ref["support"] * n))
    assert got.attrs["n_baskets"] == n
    # sorted by lift, then confidence
    key = list(zip(-got["lift"], -got["confidence"], strict=True))
    assert key == sorted(key)


def test_hand_computed_rule_and_infinite_conviction():
    # 4 baskets: {A, B}, {A, B}, {B}, {C}: A -> B always holds
    tx = pd.DataFrame({
        "customer_id": ["x", "x", "y", "y", "z", "w"],
        "timestamp": pd.to_datetime(["2024-01-01"] * 6),
        "order_id": [1, 1, 2, 2, 3, 4],
        "product_id": ["A", "B", "A", "B", "B", "C"],
    })
    rules = association_rules(tx, min_support=0.25, min_confidence=0.1, min_lift=0.0)
    a_b = rules.set_index(["antecedent", "consequent"]).loc[("A", "B")]
    assert a_b["support"] == 0.5 and a_b["confidence"] == 1.0
    assert a_b["lift"] == pytest.approx(1 / 0.75)
    assert a_b["leverage"] == pytest.approx(0.5 - 0.5 * 0.75)
    assert a_b["conviction"] == np.inf and a_b["n_baskets"] == 2
    b_a = rules.set_index(["antecedent", "consequent"]).loc[("B", "A")]
    assert b_a["confidence"] == pytest.approx(2 / 3)
    assert b_a["conviction"] == pytest.approx((1 - 0.5) / (1 - 2 / 3))


def _complement_pairs(products):
    pairs = set()
    for p, comp in zip(products["product_id"], products["complements"], strict=True):
        for q in comp.split(","):
            pairs |= {(p, q), (q, p)}
    return pairs


@pytest.fixture(scope="module")
def ds():
    return make_crm_dataset(n_customers=2000, seed=2)


def test_rules_find_the_true_complements(ds):
    rules = association_rules(ds.transactions, min_support=0.001, min_confidence=0.05)
    truth = _complement_pairs(ds.products)
    top = rules.head(40)
    assert len(top) == 40
    is_true = [pair in truth for pair in zip(top["antecedent"], top["consequent"],
                                             strict=True)]
    assert np.mean(is_true) >= 0.9
    assert (top["lift"] > 3).all()


def test_shuffled_products_give_no_rules(ds):
    tx = ds.transactions
    shuffled = tx.assign(product_id=np.random.default_rng(0).permutation(
        tx["product_id"].to_numpy()))
    # a low support, so that the control has pairs to look at at all, but not so low that
    # pairs seen in a handful of baskets reach a high lift by chance (at 0.0003, 7 baskets,
    # 3-6 % of shuffled pairs did, depending on the permutation)
    real = association_rules(tx, min_support=0.0006, min_confidence=0.01, min_lift=0.0)
    control = association_rules(shuffled, min_support=0.0006, min_confidence=0.01,
                                min_lift=0.0)
    assert len(control) > 30
    assert (control["lift"] > 1.5).mean() < 0.05
    assert (real["lift"] > 1.5).sum() > 10 * max((control["lift"] > 1.5).sum(), 1)


def test_nothing_after_as_of_is_read(ds):
    as_of = pd.Timestamp("2024-06-30")
    tx = ds.transactions
    rules = association_rules(tx, min_support=0.001, as_of=as_of)
    past = tx[tx["timestamp"] < as_of + pd.Timedelta(days=1)]
    pd.testing.assert_frame_equal(rules, association_rules(past, min_support=0.001))
    # rewriting every later row changes nothing
    later = tx["timestamp"] >= as_of + pd.Timedelta(days=1)
    scrambled = tx.assign(product_id=tx["product_id"].where(~later, "P000"))
    pd.testing.assert_frame_equal(rules, association_rules(scrambled, min_support=0.001,
                                                           as_of=as_of))


def _small(**extra):
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c", "c"],
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-02 00:00",
                                     "2024-01-01 00:00", "2024-01-01 00:00", "2024-01-03 00:00",
                                     "2024-01-03 00:00"]),
        "amount": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "product_id": ["A", "B", "C", "A", "B", "A", "C"],
    })
    return tx.assign(**extra)


def test_basket_kinds():
    # without order ids an order is the customer-day: {A,B}, {C}, {A,B}, {A,C}
    by_day = association_rules(_small(), min_support=0.01, min_confidence=0.01, min_lift=0.0)
    assert by_day.attrs["n_baskets"] == 4
    ab = by_day.set_index(["antecedent", "consequent"]).loc[("A", "B")]
    assert ab["n_baskets"] == 2 and ab["confidence"] == pytest.approx(2 / 3)
    # order ids split a's day in two: {A}, {B}, {C}, {A,B}, {A,C}
    by_order = association_rules(_small(order_id=[1, 2, 3, 4, 4, 5, 5]), min_support=0.01,
                                 min_confidence=0.01, min_lift=0.0)
    assert by_order.attrs["n_baskets"] == 5
    assert by_order.set_index(["antecedent", "consequent"]).loc[("A", "B"), "n_baskets"] == 1
    # lines without an order id fall back to the customer-day: a's first two lines are one
    gaps = association_rules(_small(order_id=[None, None, 3, 4, 4, 5, 5]), min_support=0.01,
                             min_confidence=0.01, min_lift=0.0)
    assert gaps.attrs["n_baskets"] == 4
    assert gaps.set_index(["antecedent", "consequent"]).loc[("A", "B"), "n_baskets"] == 2
    forced = association_rules(_small(order_id=[1, 2, 3, 4, 4, 5, 5]), basket="customer_day",
                               min_support=0.01, min_confidence=0.01, min_lift=0.0)
    pd.testing.assert_frame_equal(forced, by_day, check_like=False, check_exact=True,
                                  check_flags=False)
    # the whole history: a {A,B,C}, b {A,B}, c {A,C}
    by_customer = association_rules(_small(), basket="customer", min_support=0.01,
                                     min_confidence=0.01, min_lift=0.0)
    assert by_customer.attrs["n_baskets"] == 3
    bc = by_customer.set_index(["antecedent", "consequent"]).loc[("B", "C")]
    assert bc["n_baskets"] == 1 and bc["confidence"] == pytest.approx(0.5)


def test_missing_product_column_is_a_typed_error_naming_it():
    with pytest.raises(DataValidationError, match="product_id") as err:
        association_rules(_small().drop(columns="product_id"))
    assert err.value.column == "product_id"


def _assert_empty(rules):
    assert rules.empty and list(rules.columns) == RULE_COLUMNS
    assert rules["n_baskets"].dtype == np.int64 and rules["lift"].dtype == float


def test_degenerate_input_gives_an_empty_frame():
    single = _small(order_id=range(7))  # every basket holds one product
    _assert_empty(association_rules(single, min_support=0.01, min_confidence=0.01))
    # thresholds nothing passes
    _assert_empty(association_rules(_small(), min_support=1.0, min_confidence=1.0))
    _assert_empty(association_rules(_small(), min_support=0.01, min_lift=100.0))
    # only returns, or no rows at all
    _assert_empty(association_rules(_small(amount=-1.0)))
    _assert_empty(association_rules(_small().iloc[:0]))
    # a product bought once takes part like any other
    once = pd.concat([_small(), _small().iloc[[0]].assign(product_id="Z", customer_id="d")])
    rules = association_rules(once, min_support=0.01, min_confidence=0.01, min_lift=0.0)
    assert rules.attrs["n_products"] == 4 and "Z" not in set(rules["antecedent"])


def test_missing_product_ids_are_ignored_and_counted():
    tx = _small(product_id=["A", "B", None, "A", "B", "A", np.nan])
    tx.loc[len(tx)] = ["c", pd.Timestamp("2024-01-05"), -1.0, None]  # a return: not counted
    rules = association_rules(tx, min_support=0.01, min_confidence=0.01, min_lift=0.0)
    assert rules.attrs["n_missing_product"] == 2
    assert rules.attrs["n_baskets"] == 3  # {A,B}, {A,B}, {A}
    assert set(zip(rules["antecedent"], rules["consequent"], strict=True)) == {("A", "B"),
                                                                              ("B", "A")}


def test_max_rules_keeps_the_strongest(ds):
    rules = association_rules(ds.transactions, min_support=0.001)
    top = association_rules(ds.transactions, min_support=0.001, max_rules=5)
    pd.testing.assert_frame_equal(top, rules.head(5))


@pytest.mark.parametrize("kwargs", [
    {"min_support": 0}, {"min_support": 1.5}, {"min_support": -0.1},
    {"min_support": float("nan")}, {"min_support": "often"},
    {"min_confidence": 0}, {"min_confidence": 1.01}, {"min_lift": -1},
    {"min_lift": float("inf")}, {"max_rules": 0}, {"max_rules": 2.5}, {"basket": "week"},
])
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        association_rules(_small(), **kwargs)
