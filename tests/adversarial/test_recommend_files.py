"""Recommender files: whatever fit accepted survives save and load; edited files are refused
with a typed error (never a bare Python exception)."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_ml.recommend import Recommender

AS_OF = "2024-06-30"


def _tx(customers, products):
    return pd.DataFrame({"customer_id": customers, "timestamp": pd.Timestamp("2024-01-01"),
                         "amount": 1.0, "product_id": products})


@pytest.mark.parametrize("customers", [
    [1, "1", 2, "2"],                        # distinct in fit, equal as text
    list(range(1001)) + ["abc"],             # the first 1000 ids are ints, then a string
])
def test_mixed_type_customer_ids_survive_save_and_load(tmp_path, customers):
    products = (["A", "B", "C"] * len(customers))[:len(customers)]
    model = Recommender(method="item_knn").fit(_tx(customers, products), AS_OF)
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    asked = [customers[0], customers[1], customers[-1], "new"]
    pd.testing.assert_frame_equal(model.recommend(asked, k=2), back.recommend(asked, k=2))
    assert list(back.customer_ids_) == list(model.customer_ids_)
