"""Is the built-in campaign's uplift learnable? A plain LightGBM T-learner, checked by hand.

On ``make_crm_dataset(n_customers, seed)``, ``uplift_frame(ds)`` gives the main campaign's
contacted customers (features the day before contact, treated, converted). Two LightGBM
classifiers learn P(convert | X, treated) and P(convert | X, control) (T-learner), with 5-fold
cross-fitting so every customer is scored by models that never saw it. Reported:

- Spearman correlation of the predicted uplift with ``truth["true_uplift"]``;
- the Qini coefficient (area between the Qini curve and the random-targeting line, divided by
  n^2) of three rankings: the T-learner uplift, the response probability of the treated
  model (targeting those most likely to buy when contacted) and the exact true uplift (the
  best any model could do on this sample);
- the observed conversion difference treated - control against the mean true uplift.

Targets (issue #21): Spearman >= 0.5 and uplift Qini > response-probability Qini.

Usage: python benchmarks/check_campaign_signal.py [--n-customers 10000] [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from scipy.stats import spearmanr


def qini_coefficient(score, treated, y) -> float:
    """Mean height of the Qini curve above the random-targeting line, per customer.

    Qini(k) = Y_t(k) - Y_c(k) N_t(k) / N_c(k) over the top k by score (ties broken by
    order); random targeting is the straight line to Qini(n). Returned as the area between
    the two divided by n^2 (so it is comparable across sample sizes).
    """
    order = np.argsort(-np.asarray(score), kind="stable")
    t = np.asarray(treated)[order]
    y = np.asarray(y)[order]
    nt, nc = np.cumsum(t), np.cumsum(1 - t)
    yt, yc = np.cumsum(y * t), np.cumsum(y * (1 - t))
    q = yt - yc * np.divide(nt, nc, out=np.zeros(len(nt), dtype=float), where=nc > 0)
    n = len(q)
    random = q[-1] * np.arange(1, n + 1) / n
    return float((q - random).sum() / n**2)


PARAMS = {
    # a small, strongly regularised model: the uplift is a difference of two noisy fits
    "regularised": dict(n_estimators=150, learning_rate=0.03, num_leaves=7,
                        min_child_samples=80),
    "default-ish": dict(n_estimators=200, learning_rate=0.03, num_leaves=15,
                        min_child_samples=40),
}


def one_seed(n_customers: int, seed: int, folds: int = 5) -> list[dict]:
    from lightgbm import LGBMClassifier

    import crm_ml as cm

    ds = cm.datasets.make_crm_dataset(n_customers=n_customers, seed=seed)
    X, treated, y = cm.campaigns.uplift_frame(ds)
    truth = ds.truth["true_uplift"].reindex(X.index).to_numpy()
    t, yy = treated.to_numpy(), y.to_numpy()
    fold = np.random.default_rng(seed).integers(0, folds, len(X))
    rows = []
    for name, params in PARAMS.items():
        uplift, p1 = np.zeros(len(X)), np.zeros(len(X))
        for k in range(folds):
            fit, out = fold != k, fold == k
            models = {arm: LGBMClassifier(**params, subsample=0.8, subsample_freq=1,
                                          colsample_bytree=0.8, verbose=-1,
                                          random_state=seed, n_jobs=1)
                      .fit(X[fit & (t == arm)], yy[fit & (t == arm)]) for arm in (0, 1)}
            p1[out] = models[1].predict_proba(X[out])[:, 1]
            uplift[out] = p1[out] - models[0].predict_proba(X[out])[:, 1]
        rows.append({
            "seed": seed, "model": name, "contacted": len(X),
            "spearman": spearmanr(uplift, truth).statistic,
            "qini_uplift": qini_coefficient(uplift, t, yy),
            "qini_response": qini_coefficient(p1, t, yy),
            "qini_true": qini_coefficient(truth, t, yy),
            "observed_lift": yy[t == 1].mean() - yy[t == 0].mean(),
            "mean_true_uplift": truth.mean(),
        })
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-customers", type=int, default=10_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    rows = pd.DataFrame([r for s in args.seeds for r in one_seed(args.n_customers, s)])
    with pd.option_context("display.width", 200, "display.precision", 4,
                           "display.max_columns", 20):
        print(rows.set_index(["seed", "model"]))
    for name, part in rows.groupby("model", sort=False):
        ok_s = (part["spearman"] >= 0.5).all()
        ok_q = (part["qini_uplift"] > part["qini_response"]).all()
        print(f"{name}: Spearman >= 0.5 on every seed: {'OK' if ok_s else 'MISSED'} "
              f"(mean {part['spearman'].mean():.3f}); uplift Qini > response Qini on every "
              f"seed: {'OK' if ok_q else 'MISSED'}")


if __name__ == "__main__":
    main()
