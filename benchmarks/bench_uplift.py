"""Benchmark: UpliftModel on the built-in data's main campaign (issue #21 targets).

    python benchmarks/bench_uplift.py [--n-customers 10000] [--seeds 0,1,2] [--methods auto]

Per seed: ``make_crm_dataset(n_customers, seed)``; ``uplift_frame(ds)`` gives the main
campaign's customers (features the day before contact, treated, converted); a stratified half
(by arm and outcome, ``random_state=seed``) is held out. On it: the Qini coefficient
(normalised, :func:`crm_ml.campaigns.qini_coefficient`) of the uplift model and of ranking
by the response probability P(convert | contacted) (the treated arm's model), and the
Spearman correlation of predicted uplift with ``ds.truth["true_uplift"]``. Also the Qini
coefficient of the true uplift itself (the best any model can do on this sample).

Targets: uplift Qini > response Qini, Spearman >= 0.5 (mean and min over seeds reported).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def one_seed(n_customers: int, seed: int, methods: list[str]) -> list[dict]:
    from scipy.stats import spearmanr
    from sklearn.model_selection import train_test_split

    import crm_ml as cm
    from crm_ml.campaigns import UpliftModel, qini_coefficient

    t0 = time.perf_counter()
    ds = cm.datasets.make_crm_dataset(n_customers=n_customers, seed=seed)
    X, treated, y = cm.campaigns.uplift_frame(ds)
    gen = time.perf_counter() - t0
    strata = 2 * treated.to_numpy() + y.to_numpy()
    tr, te = train_test_split(np.arange(len(X)), test_size=0.5, random_state=seed,
                              stratify=strata)
    true = ds.truth["true_uplift"].reindex(X.index[te]).to_numpy()
    yt, tt = y.iloc[te].to_numpy(), treated.iloc[te].to_numpy()
    rows = []
    for method in methods:
        t = time.perf_counter()
        m = UpliftModel(method=method, random_state=seed).fit(
            X.iloc[tr], treated.iloc[tr], y.iloc[tr])
        fit_s = time.perf_counter() - t
        u = m.predict(X.iloc[te]).to_numpy()
        r = m.predict_response(X.iloc[te]).to_numpy()
        rows.append({
            "seed": seed, "method": method, "fitted": m.method_, "n_campaign": len(X),
            "n_test": len(te), "qini_uplift": qini_coefficient(yt, u, tt),
            "qini_response": qini_coefficient(yt, r, tt),
            "qini_true_uplift": qini_coefficient(yt, true, tt),
            "spearman_true": float(spearmanr(u, true)[0]), "fit_s": fit_s, "data_s": gen})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-customers", type=int, default=10_000)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--methods", default="auto,t_learner,x_learner")
    args = ap.parse_args()

    import pandas as pd

    import crm_ml as cm

    cm.tracking.configure(enabled=False)
    print(f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        rows += one_seed(args.n_customers, seed, args.methods.split(","))
        print(pd.DataFrame(rows[-len(args.methods.split(",")):]).round(3).to_string(index=False))
    df = pd.DataFrame(rows)
    agg = df.groupby("method")[["qini_uplift", "qini_response", "qini_true_uplift",
                                "spearman_true", "fit_s"]].agg(["mean", "min"]).round(3)
    print(agg.to_string())
    wins = df.assign(win=df.qini_uplift > df.qini_response).groupby("method")["win"].mean()
    print("share of seeds where uplift Qini > response Qini:", wins.round(2).to_dict())


if __name__ == "__main__":
    main()
