"""Recommender files: whatever fit accepted survives save and load; edited files are refused
with a typed error (never a bare Python exception)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import crm_ml as cm
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


@pytest.mark.parametrize("params", [
    [], "item_knn", {"method": "item_knn", "batch_size": "x"},
    {"method": "item_knn", "half_life_days": "abc"}, {"method": "item_knn", "k_neighbors": -1}])
def test_edited_parameters_are_refused_at_load(tmp_path, params):
    model = Recommender(method="item_knn").fit(_tx(["a", "a", "b"], ["A", "B", "A"]), AS_OF)
    model.save(tmp_path / "m")
    spec_path = tmp_path / "m" / "recommender.json"
    spec = json.loads(spec_path.read_text())
    spec_path.write_text(json.dumps({**spec, "params": params}))
    with pytest.raises(cm.ModelFilesError, match="params"):
        Recommender.load(tmp_path / "m")
