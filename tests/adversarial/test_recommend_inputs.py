"""Hostile input to the Recommender: tiny, odd or broken data gives results or typed errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.recommend import Recommender

AS_OF = "2024-06-30"
METHODS = ["popular", "item_knn", "als", "auto"]


def _tx(customers, products, days=None):
    n = len(customers)
    days = days if days is not None else list(range(n))
    return pd.DataFrame({"customer_id": customers,
                         "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, "D"),
                         "amount": 1.0, "product_id": products})


def _fit(method, tx, **kw):
    return Recommender(method=method, factors=4, iterations=2, **kw).fit(tx, AS_OF)


@pytest.mark.parametrize("method", METHODS)
def test_two_customers_and_k_larger_than_the_catalogue(method):
    tx = _tx(["a", "a", "b"], ["P1", "P2", "P3"])
    model = _fit(method, tx)
    recs = model.recommend(k=50)
    # a owns P1, P2 -> only P3 is left; b owns P3 -> P1, P2
    assert recs.groupby("customer_id").size().to_dict() == {"a": 1, "b": 2}
    assert recs.loc[recs.customer_id == "a", "product_id"].tolist() == ["P3"]
    assert sorted(recs.loc[recs.customer_id == "b", "product_id"]) == ["P1", "P2"]
    everything = model.recommend(k=50, exclude_purchased=False)
    assert everything.groupby("customer_id").size().eq(3).all()
    assert everything.groupby("customer_id")["rank"].apply(list).map(
        lambda r: r == [1, 2, 3]).all()


@pytest.mark.parametrize("method", METHODS)
def test_one_product_customers_and_single_purchase_products(method):
    tx = _tx(["a", "b", "c", "d", "d"], ["P1", "P1", "P2", "P3", "P1"])
    model = _fit(method, tx)
    recs = model.recommend(k=3)
    assert set(recs["customer_id"]) == {"a", "b", "c", "d"}
    assert not recs["score"].isna().any()
    assert recs["reason"].map(len).gt(0).all()


def test_one_product_in_the_whole_catalogue():
    tx = _tx(["a", "b"], ["P1", "P1"])
    model = _fit("item_knn", tx)
    assert model.recommend(k=5).empty  # everyone owns the only product
    assert list(model.recommend(k=5).columns) == ["customer_id", "rank", "product_id",
                                                  "score", "reason"]
    assert model.recommend(["new"], k=5)["product_id"].tolist() == ["P1"]


def test_nan_products_duplicates_and_returns_are_handled():
    tx = _tx(["a", "a", "a", "b", "b", "c"], ["P1", None, "P1", "P2", np.nan, "P1"])
    dup = pd.concat([tx, tx], ignore_index=True)  # every line twice
    ret = pd.concat([tx, _tx(["c"], ["P9"]).assign(amount=-5.0)], ignore_index=True)
    ref = _fit("item_knn", tx).recommend(k=3)
    assert "P9" not in _fit("item_knn", ret).products_  # a return is not a purchase
    recs = _fit("item_knn", dup).recommend(k=3)
    assert recs["product_id"].tolist() == ref["product_id"].tolist()
    assert recs["customer_id"].tolist() == ref["customer_id"].tolist()


def test_missing_product_column_and_no_purchase_up_to_as_of_are_typed_errors():
    tx = _tx(["a", "b"], ["P1", "P2"])
    with pytest.raises(cm.DataValidationError, match="product_id") as err:
        Recommender().fit(tx.drop(columns="product_id"), AS_OF)
    assert err.value.column == "product_id"
    with pytest.raises(cm.DataValidationError, match="product_id"):
        Recommender().fit(tx.assign(product_id=None), AS_OF)
    with pytest.raises(cm.DataValidationError, match="2023-01-01"):
        Recommender().fit(tx, "2023-01-01")  # nothing on or before as_of
    with pytest.raises(cm.DataValidationError, match="as_of"):
        Recommender().fit(tx, "not a date")


@pytest.mark.parametrize("params, name", [
    ({"method": "magic"}, "method"), ({"k_neighbors": 0}, "k_neighbors"),
    ({"half_life_days": -3}, "half_life_days"), ({"factors": 2.5}, "factors"),
    ({"alpha": float("nan")}, "alpha"), ({"batch_size": 0}, "batch_size")])
def test_bad_parameters_name_themselves(params, name):
    with pytest.raises(cm.DataValidationError, match=name):
        Recommender(**params).fit(_tx(["a"], ["P1"]), AS_OF)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_bad_k_is_a_typed_error(k):
    model = _fit("popular", _tx(["a", "b"], ["P1", "P2"]))
    with pytest.raises(cm.DataValidationError, match="k"):
        model.recommend(k=k)


def test_unfitted_model_raises_not_fitted():
    with pytest.raises(cm.NotFittedError):
        Recommender().recommend()
    with pytest.raises(cm.NotFittedError):
        Recommender().recommend_for(pd.DataFrame({"customer_id": [], "product_id": []}))


def test_recommend_for_odd_histories():
    model = _fit("item_knn", _tx(["a", "a", "b", "b", "c"], ["P1", "P2", "P1", "P3", "P2"]))
    with pytest.raises(cm.DataValidationError, match="product_id"):
        model.recommend_for(pd.DataFrame({"customer_id": ["a"]}))
    with pytest.raises(cm.DataValidationError, match="history"):
        model.recommend_for([("a", "P1")])
    empty = model.recommend_for(pd.DataFrame({"customer_id": [], "product_id": []}))
    assert empty.empty and list(empty.columns) == ["customer_id", "rank", "product_id",
                                                   "score", "reason"]
    odd = pd.DataFrame({"customer_id": ["x", "x", None, "y", "y"],
                        "product_id": ["P1", "unknown", "P2", None, "P1"],
                        "timestamp": ["2024-02-01", "bad date", None, None, None]})
    recs = model.recommend_for(odd, k=2)
    assert list(pd.unique(recs["customer_id"])) == ["x", "y"]
    assert not recs["product_id"].isin(["P1", "unknown"]).any()
    # no date known for y's P1: the reason says so without a date
    reasons = recs.loc[recs.customer_id == "y", "reason"]
    assert reasons.str.startswith("often bought with P1, which you bought").all()
    assert not reasons.str.contains(" on ").any()


def test_integer_customer_ids_survive_save_and_load(tmp_path):
    tx = _tx([1, 1, 2, 3], ["P1", "P2", "P1", "P2"])
    model = _fit("item_knn", tx)
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    pd.testing.assert_frame_equal(model.recommend([1, 2, 99], k=2),
                                  back.recommend([1, 2, 99], k=2))


def test_segment_column_missing_from_customers_is_named():
    tx = _tx(["a", "b"], ["P1", "P2"])
    with pytest.raises(cm.DataValidationError, match="tier"):
        Recommender(segment_column="tier").fit(tx, AS_OF, customers=pd.DataFrame(
            {"customer_id": ["a"], "region": ["N"]}))


def test_timezone_aware_timestamps_and_as_of_cut():
    tx = _tx(["a", "b", "b"], ["P1", "P1", "P2"])
    tx["timestamp"] = tx["timestamp"].dt.tz_localize("Europe/Berlin")
    model = _fit("item_knn", tx)
    assert list(model.products_) == ["P1", "P2"]
    assert model.recommend(["a"], k=1)["product_id"].tolist() == ["P2"]


def test_auto_on_data_too_short_to_backtest_says_why():
    model = Recommender(method="auto", backtest_days=400).fit(
        _tx(["a", "b"], ["P1", "P2"]), AS_OF)
    assert model.backtest_ is None
    assert model.method_ == "item_knn" and "nothing to backtest" in model.selection_["reason"]


def test_evaluate_with_as_of_before_every_purchase_is_a_typed_error():
    tx = _tx(["a", "a", "b"], ["P1", "P2", "P1"])
    model = _fit("item_knn", tx)
    with pytest.raises(cm.DataValidationError, match="2023-01-01") as err:
        model.evaluate(tx, as_of="2023-01-01")
    assert err.value.column == "product_id"


def test_top_products_plot_draws_hostile_product_ids_literally():
    import io

    import matplotlib.pyplot as plt

    from crm_ml.recommend.report import plot_top_products

    long_id = "x" * 10_000
    model = _fit("popular", _tx(["a", "a", "b"], ["$\\frac{$", "SKU $5$ off", long_id]))
    fig = plot_top_products(model)
    fig.savefig(io.BytesIO(), format="png")  # math text would fail to parse here
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    plt.close(fig)
    assert "\\$\\frac{\\$" in labels and "SKU \\$5\\$ off" in labels
    assert max(map(len, labels)) <= 40


def test_customers_with_two_segments_are_refused_naming_the_rows():
    tx = _tx(["a", "b", "c"], ["P1", "P2", "P1"])
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "a", "b"],
                              "region": ["N", "S", "N", "S", "S"]})
    with pytest.raises(cm.DataValidationError, match="region") as err:
        Recommender(method="popular", segment_column="region",
                    min_segment_customers=1).fit(tx, AS_OF, customers=customers)
    assert err.value.column == "customer_id" and list(err.value.rows) == [0, 3]
    # the same segment twice is only a repeated row
    same = customers.drop(index=3)
    model = Recommender(method="popular", segment_column="region",
                        min_segment_customers=1).fit(tx, AS_OF, customers=same)
    assert model.customer_segments_["a"] == "N"


@pytest.mark.parametrize("value", [-1, float("nan"), 2.5, "5", None])
def test_bad_min_segment_customers_is_named(value):
    with pytest.raises(cm.DataValidationError, match="min_segment_customers"):
        Recommender(min_segment_customers=value).fit(_tx(["a"], ["P1"]), AS_OF)
