"""Scale of churn explanations: LightGBM ChurnModel.explain on 1M customers (target <= 60 s).

Fits the default ChurnModel on 50,000 synthetic feature rows, then explains 1,000,000 rows
(SHAP values + top-3 plain-word reasons). Peers on the same booster, timed on 20,000 rows
and scaled: shap.TreeExplainer and LightGBM's own ``pred_contrib`` (values only); the ratios
are printed, and the script checks all three give the same values.

Usage: python benchmarks/bench_churn.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def feature_table(n: int, seed: int = 0):
    from crm_ml.features.snapshot import feature_names

    rng = np.random.default_rng(seed)
    cols = feature_names(interactions=True)
    X = pd.DataFrame(rng.gamma(1.5, 20.0, (n, len(cols))), columns=cols,
                     index=pd.Index([f"C{i:08d}" for i in range(n)], name="customer_id"))
    X.loc[rng.random(n) < 0.2, "mean_gap_days"] = np.nan
    X["region"] = pd.Categorical(rng.choice(["North", "South", "East", "West"], n))
    logit = 0.02 * X["recency_days"] - 0.05 * X["orders_90d"] - 0.3 * (X["region"] == "North")
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-(logit - logit.mean())))).astype(int),
                  index=X.index)
    return X, y


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    import shap

    from crm_ml.churn import ChurnModel

    X, y = feature_table(50_000)
    t = time.perf_counter()
    m = ChurnModel(n_jobs=1).fit(X, y)
    print(f"fit on 50,000 rows: {time.perf_counter() - t:.1f} s, {m.n_estimators_} trees, "
          f"{m._leaves} leaves")
    big, _ = feature_table(args.rows, seed=1)
    t = time.perf_counter()
    e = m.explain(big, top_k=3)
    ours = time.perf_counter() - t
    print(f"explain {len(big):,} customers (SHAP + 3 reasons): {ours:.1f} s "
          f"(target <= 60 s: {'OK' if ours <= 60 else 'MISSED'})")
    print(e.reasons.iloc[0].to_dict())
    n_peer = 20_000
    Xe = m.preprocessor_.transform(big.head(n_peer)).to_numpy()
    ours_vals = e.shap_values.head(n_peer).to_numpy()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vals = shap.TreeExplainer(m.booster_).shap_values(Xe)
    peer = (time.perf_counter() - t) * len(big) / n_peer
    vals = vals[1] if isinstance(vals, list) else vals
    same = np.allclose(vals, ours_vals, atol=1e-6)
    print(f"shap.TreeExplainer, values only, scaled to {len(big):,}: {peer:.1f} s; "
          f"identical values: {same}; ratio shap / crm_ml explain: {peer / ours:.2f}x")
    t = time.perf_counter()
    contrib = m.booster_.predict(Xe, pred_contrib=True, num_threads=0)
    lgb_peer = (time.perf_counter() - t) * len(big) / n_peer
    same = np.allclose(contrib[:, :-1], ours_vals, atol=1e-9)
    print(f"lightgbm pred_contrib, values only, scaled to {len(big):,}: {lgb_peer:.1f} s; "
          f"identical values: {same}; ratio pred_contrib / crm_ml explain: "
          f"{lgb_peer / ours:.2f}x")

if __name__ == "__main__":
    main()
