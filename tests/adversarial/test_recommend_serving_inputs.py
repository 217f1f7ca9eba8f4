"""Hostile ``k`` and histories on the serving path of the Recommender (pyfunc, serve, score)."""

from __future__ import annotations

import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.recommend import Recommender
from crm_ml.recommend.pyfunc import check_k, recommend_rows


@pytest.fixture(scope="module")
def model():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": 1.0,
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
                       "product_id": ["P1", "P2", "P1"]})
    return Recommender(method="item_knn").fit(tx, "2024-06-30")


@pytest.mark.parametrize("k", [float("inf"), float("-inf"), float("nan"), True, 0, -2,
                               2.5, "x", None])
def test_hostile_k_is_a_typed_error_naming_k(model, k):
    with pytest.raises(cm.DataValidationError, match="k") as err:
        check_k(k)
    assert err.value.column == "k"
    with pytest.raises(cm.DataValidationError, match="k"):
        recommend_rows(model, pd.DataFrame({"customer_id": ["x"], "product_id": ["P1"]}), k=k)


def test_huge_whole_k_gives_the_whole_catalogue(model):
    nobody = pd.DataFrame({"customer_id": ["x"], "product_id": [None]})
    out = recommend_rows(model, nobody, k=10**9)
    assert sorted(out["product_id"]) == ["P1", "P2"]
    assert out.equals(recommend_rows(model, nobody, k=1e300))
    assert check_k(3.0) == 3 and check_k("4") == 4
