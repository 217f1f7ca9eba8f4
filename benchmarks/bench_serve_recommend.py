"""One-customer latency of ``crm_ml.serve.recommend_products`` on a ~5,000-product catalogue.

Generates a purchase history with category tastes (``--customers`` customers, ``--products``
products in 50 categories, each customer buying mostly in two favourite categories), fits
``Recommender(method=--method)``, logs and registers it as a pyfunc in a throw-away MLflow
store (the way ``crm-ml train`` does: no customer histories in the model), loads it through
``crm_ml.serve`` once, then times ``--repeats`` calls for one customer each (five recent
products with dates, a segment), customers taken in turn. Prints p50 and p95 in ms (target
p50 <= 10 ms) and, interleaved call by call, the bare ``Recommender.recommend_for`` of the
loaded model on the same input (a ready-made frame): the difference is the serving layer.

Usage: python benchmarks/bench_serve_recommend.py [--customers 20000] [--products 5000]
       [--method item_knn] [--repeats 500]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_PROGRESS", "0")


def make_history(n_customers: int, n_products: int, lines_per_customer: int = 12,
                 seed: int = 0) -> pd.DataFrame:
    """Purchase lines with category tastes over two years (one row per line)."""
    rng = np.random.default_rng(seed)
    n_cat = 50
    category = np.arange(n_products) % n_cat
    by_cat = [np.flatnonzero(category == c) for c in range(n_cat)]
    counts = rng.poisson(lines_per_customer, n_customers) + 1
    cust = np.repeat(np.arange(n_customers), counts)
    favourite = rng.integers(0, n_cat, (n_customers, 2))
    pick_fav = rng.random(len(cust)) < 0.8
    cat = np.where(pick_fav, favourite[cust, rng.integers(0, 2, len(cust))],
                   rng.integers(0, n_cat, len(cust)))
    # within a category a few products sell most (Zipf)
    rank = np.minimum(rng.zipf(1.5, len(cust)) - 1, len(by_cat[0]) - 1)
    product = np.array([by_cat[c][r % len(by_cat[c])] for c, r in zip(cat, rank, strict=True)])
    start = pd.Timestamp("2023-01-01")
    days = rng.integers(0, 730, len(cust))
    return pd.DataFrame({"customer_id": [f"C{i:06d}" for i in cust],
                         "timestamp": start + pd.to_timedelta(days, unit="D"),
                         "amount": rng.gamma(2.0, 30.0, len(cust)).round(2),
                         "product_id": [f"P{p:05d}" for p in product],
                         "region": np.array(["North", "South", "East", "West"])[
                             rng.integers(0, 4, len(cust))]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--method", default="item_knn")
    parser.add_argument("--repeats", type=int, default=500)
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bench_rec_")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
    os.chdir(tmp)
    from crm_ml.recommend import Recommender, log_model
    from crm_ml.serve import get_model, recommend_products

    tx = make_history(args.customers, args.products)
    as_of = pd.Timestamp("2024-12-31")
    t = time.perf_counter()
    model = Recommender(method=args.method).fit(tx, as_of)
    fit_s = time.perf_counter() - t
    name = "bench-crm-recommend"
    logged = log_model(model, registered_name=name)
    # load once, as a backend does at start-up; the bare calls use this loaded model too
    loaded = get_model(name, logged.registered_version).unwrap_python_model().model

    last = tx.sort_values("timestamp").groupby("customer_id").tail(5)
    histories = {c: list(zip(g["product_id"], g["timestamp"].dt.strftime("%Y-%m-%d"),
                             strict=True))
                 for c, g in last.groupby("customer_id")}
    customers = list(histories)[: args.repeats]
    for c in customers[:20]:  # warm-up
        recommend_products(c, histories[c], k=10, segment="North",
                           name=name, alias=logged.registered_version)
    served, bare = [], []
    for c in customers:
        t = time.perf_counter()
        out = recommend_products(c, histories[c], k=10, segment="North", name=name,
                                 alias=logged.registered_version)
        served.append(time.perf_counter() - t)
        frame = pd.DataFrame({"customer_id": c,
                              "product_id": [p for p, _ in histories[c]],
                              "timestamp": pd.to_datetime([d for _, d in histories[c]])})
        t = time.perf_counter()
        loaded.recommend_for(frame, k=10, segments=pd.Series({c: "North"}))
        bare.append(time.perf_counter() - t)
    assert len(out) == 10, out
    served_ms, bare_ms = np.array(served) * 1e3, np.array(bare) * 1e3
    print(f"catalogue {model.products_.size:,} products, {args.customers:,} customers, "
          f"{len(tx):,} lines; method {model.method_}; fit {fit_s:.1f} s")
    print(f"recommend_products, one customer (model loaded): p50 "
          f"{np.percentile(served_ms, 50):.2f} ms, p95 {np.percentile(served_ms, 95):.2f} ms "
          f"over {len(served_ms)} calls (target p50 <= 10 ms)")
    print(f"bare Recommender.recommend_for (loaded model, same input as a frame): p50 "
          f"{np.percentile(bare_ms, 50):.2f} ms, p95 {np.percentile(bare_ms, 95):.2f} ms")


if __name__ == "__main__":
    main()
