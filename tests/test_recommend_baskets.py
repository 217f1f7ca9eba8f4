"""Purchase lines and baskets: what counts as a purchase, a basket and a product."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.recommend.baskets import basket_matrix, customer_product_matrix, purchase_lines


def _tx(**extra):
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-02-01 00:00",
                                     "2024-01-05 00:00", "2024-03-01 00:00", "2024-01-07 00:00"]),
        "amount": [10.0, 5.0, -10.0, 3.0, 4.0, 2.0],
        "product_id": ["P1", "P2", "P1", "P1", "P1", None],
    })
    return tx.assign(**extra)


def test_missing_product_column_names_the_column():
    with pytest.raises(DataValidationError, match="product_id") as err:
        purchase_lines(_tx().drop(columns="product_id"))
    assert err.value.column == "product_id"


def test_returns_and_empty_products_are_not_purchases_and_as_of_cuts_history():
    lines = purchase_lines(_tx(), as_of="2024-01-31")
    assert list(lines["product_id"]) == ["P1", "P2", "P1"]  # no return, no None, nothing later


def test_customer_day_baskets_without_order_ids_and_products_count_once():
    m = basket_matrix(_tx(product_id=["P1", "P1", "P2", "P1", "P1", "P3"]), basket="order")
    # a's two lines on 2024-01-01 are one basket holding P1 once; the return is no purchase
    assert m.matrix.shape == (4, 2) and m.matrix.sum() == 4 and m.matrix.max() == 1


def test_order_ids_split_one_day_into_baskets():
    m = basket_matrix(_tx(order_id=[1, 2, 3, 4, 5, 6]), basket="order")
    assert m.matrix.shape[0] == 4  # a:1, a:2, b:4, b:5 (c has no product)


def test_recency_weights_halve_every_half_life():
    tx = _tx()
    m = customer_product_matrix(tx, as_of="2024-03-01", half_life_days=30)
    b = m.rows.get_loc("b")
    p1 = m.products.get_loc("P1")
    # b bought P1 at the start of 2024-01-05 and of 2024-03-01: 57 and 1 days before the
    # end of the as_of day
    expected = 0.5 ** (57 / 30) + 0.5 ** (1 / 30)
    assert m.matrix[b, p1] == pytest.approx(expected, rel=1e-5)
