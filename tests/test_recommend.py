"""Recommender: the output contract, what is never recommended, no leakage after as_of,
co-purchase structure found, reasons, save/load, and the ranking metrics by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.recommend import Recommender
from crm_ml.recommend.evaluation import (
    coverage,
    holdout_last,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
)

AS_OF = pd.Timestamp("2024-06-30")
METHODS = ["popular", "item_knn", "als"]


def taste_data(n_customers: int = 240, n_groups: int = 6, per_group: int = 5, seed: int = 0,
               shuffle: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers each like one group of products (plus some noise purchases).

    Product ``P{g}{i}`` belongs to group ``g``; each customer buys 3 products of their group
    and 1 random product over 2024-01..2024-12. ``shuffle`` permutes the product labels of
    every line at random (a control with no co-purchase structure).
    """
    rng = np.random.default_rng(seed)
    products = [f"P{g}{i}" for g in range(n_groups) for i in range(per_group)]
    rows = []
    for c in range(n_customers):
        g = rng.integers(n_groups)
        own = list(rng.choice(per_group, size=3, replace=False))
        picks = [f"P{g}{i}" for i in own] + [products[rng.integers(len(products))]]
        days = np.sort(rng.integers(0, 365, size=len(picks)))
        for p, d in zip(picks, days, strict=True):
            rows.append((f"C{c:04d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)),
                         10.0, p))
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount", "product_id"])
    if shuffle:
        tx["product_id"] = rng.permutation(tx["product_id"].to_numpy())
    customers = pd.DataFrame({"customer_id": [f"C{c:04d}" for c in range(n_customers)],
                              "region": np.where(np.arange(n_customers) % 2, "North", "South")})
    return tx, customers


@pytest.fixture(scope="module")
def data():
    return taste_data()


@pytest.fixture(scope="module")
def fitted(data):
    tx, customers = data
    return {m: Recommender(method=m, factors=8, iterations=5, segment_column="region").fit(
        tx, AS_OF, customers=customers) for m in METHODS}


# ---------------------------------------------------------------- the contract
@pytest.mark.parametrize("method", METHODS)
def test_output_columns_ranks_and_customer_order(fitted, data, method):
    model = fitted[method]
    asked = ["C0005", "C0001", "C0003"]
    recs = model.recommend(asked, k=4)
    assert list(recs.columns) == ["customer_id", "rank", "product_id", "score", "reason"]
    assert list(pd.unique(recs["customer_id"])) == asked
    for _, block in recs.groupby("customer_id", sort=False):
        assert block["rank"].tolist() == [1, 2, 3, 4]
        assert block["product_id"].is_unique
        assert block["score"].is_monotonic_decreasing or method == "als" or \
            block["reason"].str.startswith("popular").any()
    assert recs["reason"].str.len().gt(0).all()
    assert model.method_ == method
    assert set(recs["product_id"]) <= set(model.products_)


@pytest.mark.parametrize("method", METHODS)
def test_products_bought_are_excluded_unless_asked(fitted, data, method):
    tx, _ = data
    model = fitted[method]
    owned = tx[tx.timestamp <= AS_OF].groupby("customer_id")["product_id"].agg(set)
    recs = model.recommend(list(owned.index[:40]), k=10)
    clash = recs.apply(lambda r: r["product_id"] in owned[r["customer_id"]], axis=1)
    assert not clash.any()
    kept = model.recommend(list(owned.index[:40]), k=30, exclude_purchased=False)
    assert kept.groupby("customer_id").size().eq(30).all()  # the whole catalogue


def test_products_only_bought_after_as_of_are_never_recommended(data):
    tx, _ = data
    late = pd.DataFrame({"customer_id": ["C0001"] * 3, "timestamp": [AS_OF + pd.Timedelta(
        days=5)] * 3, "amount": 5.0, "product_id": ["NEW1", "NEW2", "NEW1"]})
    model = Recommender(method="item_knn").fit(pd.concat([tx, late]), AS_OF)
    assert "NEW1" not in model.products_
    recs = model.recommend(k=50, exclude_purchased=False)
    assert not recs["product_id"].isin(["NEW1", "NEW2"]).any()
    served = model.recommend_for(pd.DataFrame({"customer_id": ["x", "x"],
                                               "product_id": ["NEW1", "P00"]}), k=50)
    assert not served["product_id"].isin(["NEW1", "NEW2", "P00"]).any()


def test_unknown_customers_get_popular_in_segment_products(fitted, data):
    _, customers = data
    model = fitted["item_knn"]
    recs = model.recommend(["nobody"], k=3)
    top = model.popular_.sort_values(ascending=False, kind="stable").index[:3].tolist()
    assert recs["product_id"].tolist() == top
    assert (recs["reason"] == "popular right now").all()
    seg = model.recommend_for(pd.DataFrame({"customer_id": ["new"], "product_id": [None]}),
                              k=3, segments={"new": "North"})
    north = model.segment_popular_.loc["North"].sort_values(ascending=False, kind="stable")
    assert seg["product_id"].tolist() == north.index[:3].tolist()
    assert (seg["reason"] == "popular in your segment (region North)").all()


def test_small_segments_fall_back_to_overall_popularity(data):
    tx, customers = data
    tiny = customers.assign(region=["Tiny"] + ["Big"] * (len(customers) - 1))
    model = Recommender(method="popular", segment_column="region").fit(tx, AS_OF, tiny)
    assert list(model.segment_popular_.index) == ["Big"]
    first = tiny["customer_id"].iloc[0]
    assert model.recommend([first], k=2)["reason"].eq("popular right now").all()


# ---------------------------------------------------------------- time
@pytest.mark.parametrize("method", ["item_knn", "als", "auto"])
def test_nothing_after_as_of_is_read(data, method):
    tx, customers = data
    params = {"method": method, "factors": 8, "iterations": 5, "segment_column": "region",
              "backtest_days": 60}
    reference = Recommender(**params).fit(tx, AS_OF, customers).recommend(k=5)
    after = tx["timestamp"] > AS_OF + pd.Timedelta(days=1)  # strictly after the as_of day
    changed = tx.copy()
    changed.loc[after, "product_id"] = "P00"
    extra = changed[after].assign(customer_id="ZZZ")
    changed = pd.concat([changed, extra], ignore_index=True)
    other = Recommender(**params).fit(changed, AS_OF, customers).recommend(k=5)
    pd.testing.assert_frame_equal(reference, other)


def test_recency_weights_put_recent_products_first_for_popular():
    tx = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
                       "timestamp": pd.to_datetime(["2023-01-01", "2023-01-01", "2024-06-01",
                                                    "2024-01-01"]),
                       "product_id": ["old", "old", "new", "mid"]})
    recent = Recommender(method="popular", half_life_days=30).fit(tx, AS_OF)
    assert recent.recommend(["z"], k=3)["product_id"].tolist() == ["new", "mid", "old"]
    flat = Recommender(method="popular", half_life_days=None).fit(tx, AS_OF)
    assert flat.recommend(["z"], k=3)["product_id"].tolist() == ["old", "mid", "new"]


# ---------------------------------------------------------------- quality
def test_item_knn_finds_the_taste_groups_and_a_shuffled_control_does_not(data):
    tx, _ = data
    ev = Recommender(method="item_knn").fit(tx, AS_OF).evaluate(tx, horizon_days=184, k=3)
    assert ev["n_customers"] > 50
    assert ev["recall_at_k"] > 1.5 * ev["baseline_recall_at_k"]
    shuffled, _ = taste_data(shuffle=True)
    control = Recommender(method="item_knn").fit(shuffled, AS_OF).evaluate(
        shuffled, horizon_days=184, k=3)
    assert control["recall_at_k"] < 1.2 * control["baseline_recall_at_k"]


def test_reason_names_the_owned_product_and_its_date():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "b", "c", "c", "d"],
                       "timestamp": pd.to_datetime(["2024-03-02", "2024-03-05", "2024-01-01",
                                                    "2024-01-02", "2024-01-01", "2024-01-03",
                                                    "2024-02-01"]),
                       "product_id": ["P017", "X", "P017", "P018", "P017", "P018", "Y"]})
    model = Recommender(method="item_knn", shrinkage=0.0).fit(tx, AS_OF)
    recs = model.recommend(["a"], k=1)
    assert recs["product_id"].tolist() == ["P018"]
    assert recs["reason"].iloc[0] == "often bought with P017, which you bought on 2024-03-02"


def test_auto_backtest_table_and_choice(data):
    tx, customers = data
    model = Recommender(method="auto", factors=8, iterations=5, backtest_days=90).fit(
        tx, AS_OF, customers)
    table = model.backtest_
    assert table["method"].tolist() == ["popular", "item_knn", "als"]
    assert {"recall_at_k", "precision_at_k", "ndcg_at_k", "map_at_k", "coverage",
            "n_customers", "chosen"} <= set(table.columns)
    assert table["chosen"].sum() == 1
    best = table.loc[table["chosen"]].iloc[0]
    assert best["method"] == model.method_
    assert best["recall_at_k"] == table["recall_at_k"].max()
    # ties go to the simpler method: the first with the best recall
    assert table.index[table["recall_at_k"] == best["recall_at_k"]][0] == best.name


def test_evaluate_keys_and_baseline(fitted, data):
    tx, _ = data
    ev = fitted["item_knn"].evaluate(tx, horizon_days=120, k=5)
    keys = {"recall_at_k", "precision_at_k", "ndcg_at_k", "map_at_k", "coverage",
            "n_customers", "baseline_recall_at_k", "baseline_precision_at_k",
            "baseline_ndcg_at_k", "baseline_map_at_k", "baseline_coverage", "k", "method"}
    assert set(ev) == keys
    assert ev["k"] == 5 and ev["method"] == "item_knn"
    pop = fitted["popular"].evaluate(tx, horizon_days=120, k=5)
    assert pop["recall_at_k"] == pytest.approx(pop["baseline_recall_at_k"])
    assert 0 <= ev["coverage"] <= 1
    assert fitted["item_knn"].score(tx) == pytest.approx(
        fitted["item_knn"].evaluate(tx, horizon_days=90, k=10)["recall_at_k"])


# ---------------------------------------------------------------- files
@pytest.mark.parametrize("method", METHODS)
def test_save_load_round_trip_gives_identical_recommendations(fitted, tmp_path, method):
    model = fitted[method]
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    pd.testing.assert_frame_equal(model.recommend(k=5), back.recommend(k=5))
    assert back.get_params() == model.get_params()
    assert back.method_ == model.method_ and back.as_of_ == model.as_of_


def test_saved_without_histories_holds_no_customer_id(fitted, data, tmp_path):
    tx, customers = data
    model = fitted["item_knn"]
    model.save(tmp_path / "m", include_histories=False)
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "m").iterdir())
    import zipfile

    with zipfile.ZipFile(tmp_path / "m" / "arrays.npz") as z:
        blobs += b"".join(z.read(n) for n in z.namelist())
    for cid in tx["customer_id"].unique()[:50]:
        assert cid.encode() not in blobs
        assert cid.encode("utf-32-le") not in blobs  # numpy's text arrays
    back = Recommender.load(tmp_path / "m")
    with pytest.raises(cm.ModelFilesError, match="recommend_for"):
        back.recommend(k=3)
    history = tx[tx["timestamp"] <= AS_OF][["customer_id", "product_id", "timestamp"]]
    # segments are customer data too: without them the fallback is overall popularity
    pd.testing.assert_frame_equal(back.recommend_for(history, k=4, segments=customers),
                                  model.recommend_for(history, k=4))


def test_recommend_for_the_fit_histories_equals_recommend(fitted, data):
    tx, _ = data
    model = fitted["item_knn"]
    history = tx[tx["timestamp"] <= AS_OF][["customer_id", "product_id", "timestamp"]]
    via_history = model.recommend_for(history, k=5)
    via_ids = model.recommend(list(pd.unique(history["customer_id"])), k=5)
    pd.testing.assert_frame_equal(via_history, via_ids)


def test_load_refuses_a_tampered_or_foreign_folder(fitted, tmp_path):
    import json

    fitted["popular"].save(tmp_path / "m")
    spec = json.loads((tmp_path / "m" / "recommender.json").read_text())
    # arrays changed after saving
    arrays = tmp_path / "m" / "arrays.npz"
    np.savez(arrays, popular=np.zeros(3))
    with pytest.raises(cm.ModelFilesError, match="SHA-256"):
        Recommender.load(tmp_path / "m")
    # an object array (needs pickle) whose hash was also forged
    import hashlib
    import io

    buf = io.BytesIO()
    np.savez(buf, popular=np.array([{"x": 1}], dtype=object))
    arrays.write_bytes(buf.getvalue())
    spec["arrays_sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (tmp_path / "m" / "recommender.json").write_text(json.dumps(spec))
    with pytest.raises(cm.UntrustedModelError):
        Recommender.load(tmp_path / "m")
    # another format
    spec["format"] = "something.else/1"
    (tmp_path / "m" / "recommender.json").write_text(json.dumps(spec))
    with pytest.raises(cm.UntrustedModelError, match="format"):
        Recommender.load(tmp_path / "m")
    with pytest.raises(cm.ModelFilesError):
        Recommender.load(tmp_path / "missing")


# ---------------------------------------------------------------- metrics by hand
def test_metrics_against_hand_computed_values():
    rec = [["a", "b", "c"], ["x", "y", "z"], ["p", "q", "r"]]
    truth = [{"a", "c", "d", "e"}, {"z"}, set()]  # the third customer does not count
    # customer 1: hits at ranks 1 and 3 of k=3, |truth|=4 -> min(k, |truth|) = 3
    # customer 2: hit at rank 3, |truth| = 1
    assert recall_at_k(rec, truth, 3) == pytest.approx((2 / 3 + 1 / 1) / 2)
    assert precision_at_k(rec, truth, 3) == pytest.approx((2 / 3 + 1 / 3) / 2)
    dcg1 = 1 + 1 / math.log2(4)
    idcg1 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    ndcg2 = (1 / math.log2(4)) / 1.0
    assert ndcg_at_k(rec, truth, 3) == pytest.approx((dcg1 / idcg1 + ndcg2) / 2)
    ap1 = (1 / 1 + 2 / 3) / 3
    ap2 = (1 / 3) / 1
    assert map_at_k(rec, truth, 3) == pytest.approx((ap1 + ap2) / 2)
    assert coverage(rec[:2], ["a", "b", "c", "d", "x", "y", "z", "w"]) == pytest.approx(6 / 8)
    both = ranking_metrics(dict(enumerate(rec)), dict(enumerate(truth)), 3,
                           catalogue=list("abcdexyzpqr"))
    assert both["n_customers"] == 2
    assert both["recall_at_k"] == pytest.approx(recall_at_k(rec, truth, 3))
    assert both["coverage"] == pytest.approx(6 / 11)  # only customers with a truth count
    assert math.isnan(recall_at_k([["a"]], [set()], 3))
    with pytest.raises(cm.DataValidationError, match="k"):
        recall_at_k(rec, truth, 0)


def test_holdout_last_takes_each_customers_last_fifth():
    tx = pd.DataFrame({
        "customer_id": ["a"] * 10 + ["b"] * 4 + ["c"] * 5,
        "timestamp": pd.to_datetime(list(pd.date_range("2024-01-10", periods=10)[::-1])
                                    + ["2024-01-01"] * 4 + list(pd.date_range("2024-02-01",
                                                                               periods=5))),
        "product_id": [f"p{i}" for i in range(19)]})
    train, test = holdout_last(tx, 0.2)
    assert len(train) + len(test) == len(tx)
    assert sorted(test.loc[test.customer_id == "a", "product_id"]) == ["p0", "p1"]  # latest
    assert (test.customer_id == "b").sum() == 0  # 4 lines: floor(0.8) = 0 held out
    assert test.loc[test.customer_id == "c", "product_id"].tolist() == ["p18"]
    with pytest.raises(cm.DataValidationError, match="fraction"):
        holdout_last(tx, 1.5)


def test_built_in_data_co_purchase_structure_is_found_and_a_shuffle_is_not():
    ds = cm.datasets.make_crm_dataset(n_customers=1500, seed=1)
    tx = ds.transactions
    as_of = ds.as_of - pd.Timedelta(days=90)
    ev = Recommender(method="item_knn").fit(tx, as_of).evaluate(tx, horizon_days=90)
    assert ev["n_customers"] > 300
    assert ev["recall_at_k"] > 1.5 * ev["baseline_recall_at_k"]
    rng = np.random.default_rng(0)
    shuffled = tx.assign(product_id=rng.permutation(tx["product_id"].to_numpy()))
    control = Recommender(method="item_knn").fit(shuffled, as_of).evaluate(
        shuffled, horizon_days=90)
    assert control["recall_at_k"] < 1.15 * control["baseline_recall_at_k"]


def test_top_k_is_exact_with_ties_and_excluded_entries():
    from crm_ml.recommend._topk import top_k

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, p, k = int(rng.integers(1, 20)), int(rng.integers(1, 30)), int(rng.integers(1, 35))
        key = rng.integers(0, 4, size=(n, p)).astype(np.float32)  # many ties
        key[rng.random((n, p)) < 0.3] = -np.inf                   # excluded products
        rows, cols, ranks = top_k(key, k)
        for i in range(n):
            finite = [(-key[i, j], j) for j in range(p) if np.isfinite(key[i, j])]
            expected = [j for _, j in sorted(finite)[:k]]
            assert cols[rows == i].tolist() == expected
            assert ranks[rows == i].tolist() == list(range(1, len(expected) + 1))


def test_customers_without_purchases_get_their_segments_popular_products(data, tmp_path):
    tx, customers = data
    newcomer = pd.DataFrame({"customer_id": ["NEW"], "region": ["North"]})
    model = Recommender(method="item_knn", segment_column="region").fit(
        tx, AS_OF, customers=pd.concat([customers, newcomer], ignore_index=True))
    recs = model.recommend(["NEW"], k=3)
    north = model.segment_popular_.loc["North"].sort_values(ascending=False, kind="stable")
    assert recs["product_id"].tolist() == north.index[:3].tolist()
    assert (recs["reason"] == "popular in your segment (region North)").all()
    model.save(tmp_path / "m")
    pd.testing.assert_frame_equal(Recommender.load(tmp_path / "m").recommend(["NEW"], k=3),
                                  recs)


def test_evaluate_at_another_date_leaves_the_model_unchanged(fitted, data):
    tx, _ = data
    model = fitted["item_knn"]
    before = model.recommend(k=3)
    ev = model.evaluate(tx, as_of="2024-04-30", horizon_days=60)
    assert ev["method"] == "item_knn" and ev["n_customers"] > 0
    pd.testing.assert_frame_equal(before, model.recommend(k=3))
    assert model.as_of_ == AS_OF


@pytest.mark.parametrize("method", METHODS)
def test_batching_does_not_change_the_recommendations(fitted, method):
    model = fitted[method]
    small = Recommender(**{**model.get_params(), "batch_size": 7})
    small.__dict__.update({k: v for k, v in vars(model).items() if k.endswith("_")})
    pd.testing.assert_frame_equal(small.recommend(k=4), model.recommend(k=4))
