"""Benchmark: Segmenter on a million customers vs a plain scikit-learn k-means.

    python benchmarks/bench_segmentation.py [--n-customers 1000000]

Data: ``make_crm_dataset`` (about ten transactions per customer), features from
``segmentation_features`` (purchase rate while active, mean order value). Timed: the full
``Segmenter(n_segments="auto").fit`` (scaling, k search over 2..8 on a 20,000 sample,
MiniBatchKMeans on all customers, profile, names) and, as the peer, scikit-learn
``StandardScaler`` + ``KMeans(n_clusters=4)`` on all customers (k given, no search).
Both are scored by the adjusted Rand index against the generator's true groups.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-customers", type=int, default=1_000_000)
    args = ap.parse_args()

    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import crm_ml as cm
    from crm_ml.segmentation import Segmenter, segmentation_features

    cm.tracking.configure(enabled=False)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    t = time.perf_counter()
    ds = cm.datasets.make_crm_dataset(n_customers=args.n_customers, seed=0)
    print(f"data: {len(ds.transactions):,} transactions, {args.n_customers:,} customers "
          f"({time.perf_counter() - t:.1f} s to generate)")
    t = time.perf_counter()
    X = segmentation_features(ds.transactions, ds.as_of)
    print(f"segmentation_features: {time.perf_counter() - t:.1f} s")
    truth = ds.truth.loc[X.index, "group"].to_numpy()
    feats = ["purchase_rate", "monetary"]

    t = time.perf_counter()
    seg = Segmenter(n_segments="auto", features=feats, random_state=0).fit(X)
    t_seg = time.perf_counter() - t
    ari_seg = adjusted_rand_score(truth, seg.labels_.to_numpy())
    print(f"crm_ml Segmenter(auto k -> {seg.n_segments_}): {t_seg:.1f} s, ARI vs truth "
          f"{ari_seg:.3f}")

    t = time.perf_counter()
    with threadpool_limits(1):
        Z = StandardScaler().fit_transform(X[feats].to_numpy())
        lab = KMeans(n_clusters=4, n_init=4, random_state=0).fit_predict(Z)
    t_km = time.perf_counter() - t
    ari_km = adjusted_rand_score(truth, lab)
    print(f"sklearn StandardScaler + KMeans(k=4 given): {t_km:.1f} s, ARI vs truth {ari_km:.3f}")
    print(f"time ratio Segmenter / plain KMeans: {t_seg / t_km:.2f}; "
          f"ARI gain: {ari_seg - ari_km:+.3f}")
    print(np.round(seg.k_scores_, 3).to_string(index=False))


if __name__ == "__main__":
    main()
