"""Scale of crm_ml.features.build: 1M customers / 10M transactions (target <= 60 s).

Peer: the usual pandas groupby/agg of a subset of the same features (recency, tenure, orders,
spend, per-window orders and spend), timed in the same run; the ratio is printed.

Usage: python benchmarks/bench_features.py [--customers 1000000] [--transactions 10000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd


def make_transactions(n_customers: int, n_tx: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:08d}" for i in range(n_customers)], dtype=object)
    cust = rng.integers(0, n_customers, n_tx)
    start = np.datetime64("2021-01-01T00:00:00", "s").astype(np.int64)
    seconds = rng.integers(0, 4 * 365 * 86_400, n_tx)
    return pd.DataFrame({
        "customer_id": ids[cust],
        "timestamp": pd.to_datetime(start + seconds, unit="s"),
        "amount": np.round(rng.gamma(2.0, 40.0, n_tx) * np.where(rng.random(n_tx) < 0.02, -1, 1),
                           2),
        "product_id": rng.integers(0, 5000, n_tx),
        "channel": rng.choice(np.array(["web", "store", "phone", "partner"], dtype=object),
                              n_tx),
    })


def pandas_peer(tx: pd.DataFrame, as_of, windows=(30, 90, 180, 365)) -> pd.DataFrame:
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    h = tx.loc[(tx["timestamp"] < end) & (tx["amount"] > 0)]
    day = h["timestamp"].dt.normalize()
    g = h.assign(day=day).groupby("customer_id")
    out = g.agg(first=("day", "min"), last=("day", "max"), n_orders=("timestamp", "nunique"),
                spend=("amount", "sum"))
    out["recency_days"] = (pd.Timestamp(as_of) - out["last"]).dt.days
    out["tenure_days"] = (pd.Timestamp(as_of) - out["first"]).dt.days
    for w in windows:
        m = h.loc[day > pd.Timestamp(as_of) - pd.Timedelta(days=w)]
        gg = m.groupby("customer_id")["amount"].agg(["size", "sum"])
        out[f"orders_{w}d"] = gg["size"].reindex(out.index).fillna(0)
        out[f"spend_{w}d"] = gg["sum"].reindex(out.index).fillna(0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--transactions", type=int, default=10_000_000)
    args = ap.parse_args(argv)
    from crm_ml.features import build

    t = time.perf_counter()
    tx = make_transactions(args.customers, args.transactions)
    print(f"generated {len(tx):,} transactions for {args.customers:,} customers "
          f"in {time.perf_counter() - t:.1f} s")
    as_of = "2024-06-30"
    t = time.perf_counter()
    X = build(tx, as_of)
    ours = time.perf_counter() - t
    print(f"crm_ml.features.build: {ours:.1f} s -> {X.shape[0]:,} rows x {X.shape[1]} features "
          f"(target <= 60 s: {'OK' if ours <= 60 else 'MISSED'})")
    t = time.perf_counter()
    P = pandas_peer(tx, as_of)
    peer = time.perf_counter() - t
    print(f"pandas groupby peer ({P.shape[1] - 2} of the features): {peer:.1f} s")
    print(f"ratio peer / crm_ml: {peer / ours:.2f}x")
    common = P.index.intersection(X.index)
    assert np.allclose(P.loc[common, "recency_days"], X.loc[common, "recency_days"])
    assert np.allclose(P.loc[common, "orders_90d"], X.loc[common, "orders_90d"])


if __name__ == "__main__":
    main()
