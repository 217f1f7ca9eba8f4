"""Products in the built-in data: the order split is exact, and the structure is real.

The structure tests compare each signal with a shuffled-products control (product ids
permuted across purchase lines), which keeps every count and popularity but breaks the link
between customers, orders and products: the signal must be far above the control.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_ml.datasets import _products, make_crm_dataset
from crm_ml.datasets._products import (
    CATEGORIES,
    customer_tastes,
    make_catalogue,
    order_lines,
    product_rng,
)


@pytest.fixture(scope="module")
def ds():
    return make_crm_dataset(n_customers=2000, seed=11)


@pytest.fixture(scope="module")
def purchases(ds):
    tx = ds.transactions
    return tx[tx["amount"] > 0].reset_index(drop=True)


@pytest.fixture(scope="module")
def shuffled(purchases):
    rng = np.random.default_rng(0)
    return purchases.assign(product_id=rng.permutation(purchases["product_id"].to_numpy()))


def _orders(rng, n_orders=5000, n_customers=300):
    customer = rng.integers(0, n_customers, n_orders)
    day = rng.random(n_orders) * 1000
    cents = rng.integers(0, 50_000, n_orders)
    cents[:40] = np.arange(40) % 4  # totals of 0..3 cents: fewer cents than lines
    quantity = 1 + rng.poisson(1.0, n_orders)
    return customer, day, cents, quantity


def test_order_lines_keep_every_total_to_the_cent_and_give_every_order_a_line():
    rng = np.random.default_rng(1)
    customer, day, cents, quantity = _orders(rng)
    prng = product_rng(3)
    cat = make_catalogue(prng, 60)
    tastes = customer_tastes(prng, rng.choice(["retail", "tech", "unknown"], 300))
    lines = order_lines(prng, cat, tastes, customer, day, cents, quantity)

    n = len(customer)
    assert np.all(np.diff(lines.order) >= 0)  # grouped by order
    per_order = np.bincount(lines.order, minlength=n)
    assert per_order.min() >= 1 and per_order.max() <= 3
    np.testing.assert_array_equal(np.bincount(lines.order, weights=lines.cents, minlength=n),
                                  cents)
    assert lines.cents.dtype.kind == "i"
    # a line holds at least a cent whenever the order has one per line; a zero order has one
    assert (lines.cents[cents[lines.order] > 0] >= 1).all()
    assert (per_order[cents == 0] == 1).all() and (per_order[cents == 1] == 1).all()
    assert (lines.quantity >= 1).all()
    # the first line keeps the order's quantity
    first = np.r_[True, lines.order[1:] != lines.order[:-1]]
    np.testing.assert_array_equal(lines.quantity[first], quantity)
    # a product appears once per order
    frame = pd.DataFrame({"order": lines.order, "product": lines.product})
    assert not frame.duplicated().any()
    assert lines.product.min() >= 0 and lines.product.max() < 60
    # about P_MULTI of the orders have more than one line
    assert (per_order > 1).mean() == pytest.approx(_products.P_MULTI, abs=0.04)


def test_order_lines_handle_no_orders_and_one_order():
    prng = product_rng(0)
    cat = make_catalogue(prng)
    tastes = customer_tastes(prng, np.array(["retail"]))
    empty = order_lines(prng, cat, tastes, np.array([], dtype=int), np.array([]),
                        np.array([], dtype=int), np.array([], dtype=int))
    assert len(empty.order) == 0
    one = order_lines(prng, cat, tastes, np.array([0]), np.array([5.0]), np.array([1999]),
                      np.array([2]))
    assert one.cents.sum() == 1999 and set(one.order) == {0}


def test_catalogue_truth(ds):
    products = ds.products
    assert list(products.columns) == ["product_id", "category", "base_price", "complements"]
    assert list(products["product_id"]) == [f"P{i:03d}" for i in range(200)]
    assert set(products["category"]) == set(CATEGORIES)
    comp = products["complements"].str.split(",")
    assert comp.map(len).between(1, 2).all()
    ids = set(products["product_id"])
    assert all(set(c) <= ids for c in comp)
    assert not any(p in c for p, c in zip(products["product_id"], comp, strict=True))
    assert (products["base_price"] > 0).all()
    # every product the data names is in the catalogue
    assert set(ds.transactions["product_id"]) <= ids


def test_customer_tastes_truth(ds):
    tastes = ds.meta["category_tastes"]
    assert tastes.index.equals(ds.truth.index)
    np.testing.assert_allclose(tastes.sum(axis=1), 1.0)
    assert (ds.truth["favourite_category"] == tastes.idxmax(axis=1)).all()
    # concentrated: most customers' top three categories hold most of their taste
    top3 = np.sort(tastes.to_numpy(), axis=1)[:, -3:].sum(axis=1)
    assert np.median(top3) > 0.8


def test_lines_of_an_order_share_its_customer_time_channel_and_region(purchases):
    per_order = purchases.groupby("order_id")[["customer_id", "timestamp", "channel",
                                               "region"]].nunique()
    assert (per_order == 1).all().all()
    lines = purchases.groupby("order_id").size()
    assert lines.max() <= 3 and (lines > 1).mean() > 0.3
    assert not purchases.duplicated(["order_id", "product_id"]).any()
    assert (purchases["quantity"] >= 1).all()


def test_returns_name_a_product_of_the_order_they_return(ds, purchases):
    returns = ds.transactions[ds.transactions["amount"] < 0]
    assert len(returns) > 0
    bought = set(zip(purchases["order_id"], purchases["product_id"], strict=True))
    assert all(pair in bought for pair in zip(returns["order_id"], returns["product_id"],
                                                          strict=True))
    assert not returns.duplicated("order_id").any()  # still one row per return


def test_products_move_nothing_else(monkeypatch):
    """Every order as one line (no extra lines) gives the same customers, interactions, truth
    and order totals: the product stream is separate and the split keeps totals exact. (The
    campaigns, a later stage with a stream of its own, copy earlier orders line by line and
    are tested in tests/test_campaigns_data.py.)"""
    full = make_crm_dataset(n_customers=400, seed=4, campaigns=False)
    monkeypatch.setattr(_products, "P_MULTI", 0.0)
    single = make_crm_dataset(n_customers=400, seed=4, campaigns=False)
    assert single.transactions.loc[single.transactions["amount"] > 0, "order_id"].is_unique
    pd.testing.assert_frame_equal(full.customers, single.customers)
    pd.testing.assert_frame_equal(full.interactions, single.interactions)
    pd.testing.assert_frame_equal(full.truth, single.truth)

    def totals(tx):
        cents = np.rint(tx["amount"] * 100).astype(np.int64)
        return cents.groupby([tx["order_id"], tx["amount"] > 0]).sum()

    pd.testing.assert_series_equal(totals(full.transactions), totals(single.transactions))
    assert len(full.transactions) > 1.3 * len(single.transactions)


def _favourite_share(lines, ds):
    category = lines["product_id"].map(ds.products.set_index("product_id")["category"])
    return float((category == lines["customer_id"].map(ds.truth["favourite_category"])).mean())


def test_purchases_concentrate_on_the_favourite_category(ds, purchases, shuffled):
    real = _favourite_share(purchases, ds)
    control = _favourite_share(shuffled, ds)
    assert real > 0.35  # ten categories: chance is about 0.1
    assert control < 0.15
    assert real > 3 * control


def _complement_lift(lines, products):
    """Pooled lift of the true complement pairs: baskets holding both over the number
    expected if products were independent of each other."""
    codes, items = pd.factorize(lines["product_id"])
    orders, _ = pd.factorize(lines["order_id"])
    X = pd.crosstab(orders, codes).clip(upper=1).to_numpy()
    n = len(X)
    pos = {p: i for i, p in enumerate(items)}
    observed = expected = 0.0
    for p, comp in zip(products["product_id"], products["complements"], strict=True):
        for q in comp.split(","):
            if p in pos and q in pos:
                a, b = X[:, pos[p]], X[:, pos[q]]
                observed += float(a @ b)
                expected += a.sum() * b.sum() / n
    return observed / expected


def test_complements_are_bought_together(ds, purchases, shuffled):
    real = _complement_lift(purchases, ds.products)
    control = _complement_lift(shuffled, ds.products)
    assert real > 5
    # under the control it is below 1: most orders hold one line, so any pair is rarer than
    # independent items would make it
    assert control < 1.5
    assert real > 5 * control


def _next_order_complement_share(lines, products):
    """Share of a customer's orders holding a complement of the previous order's products."""
    comp = products.set_index("product_id")["complements"].str.split(",")
    baskets = (lines.sort_values(["customer_id", "timestamp"])
               .groupby(["customer_id", "order_id"], sort=False)["product_id"].agg(set))
    hits = total = 0
    previous_customer, previous = None, None
    for (customer, _), basket in baskets.items():
        if customer == previous_customer:
            wanted = set().union(*(comp[p] for p in previous))
            hits += bool(basket & wanted)
            total += 1
        previous_customer, previous = customer, basket
    return hits / total


def test_complements_follow_as_later_purchases(ds, purchases, shuffled):
    real = _next_order_complement_share(purchases, ds.products)
    control = _next_order_complement_share(shuffled, ds.products)
    assert real > 2 * control
