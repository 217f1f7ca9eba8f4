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


MIXED = ["2024-01-01T00:00:00+05:00", "2024-01-02", "2024-01-02T00:00:00-08:00"]


def test_mixed_time_zones_in_a_history_are_read_as_utc(model):
    frame = pd.DataFrame({"customer_id": ["x", "y", "z"], "product_id": ["P1", "P1", "P1"],
                          "timestamp": MIXED})
    out = recommend_rows(model, frame, k=1)
    # every date is valid: each customer is told when they bought P1, in UTC
    assert out["reason"].tolist() == [
        "often bought with P1, which you bought on 2023-12-31",
        "often bought with P1, which you bought on 2024-01-02",
        "often bought with P1, which you bought on 2024-01-02"]


def test_serve_reads_mixed_time_zones_and_names_bad_dates(model, monkeypatch):
    import crm_ml.serve as serve

    monkeypatch.setattr(serve, "get_model", lambda name, alias: None)
    monkeypatch.setattr(serve, "_python_model",
                        lambda _: type("W", (), {"model": model})())
    out = serve.recommend_products("x", [("P1", MIXED[0]), ("P2", MIXED[1])], k=5,
                                   exclude_purchased=False)
    assert set(out["product_id"]) == {"P1", "P2"}
    with pytest.raises(cm.DataValidationError, match="timestamp") as err:
        serve.recommend_products("x", [("P1", MIXED[0]), ("P2", "not a date")], k=5)
    assert err.value.rows == [1]
