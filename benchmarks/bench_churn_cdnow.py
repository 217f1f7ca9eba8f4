"""Churn quality on data nobody here generated: CDNOW (lifetimes' sample, 2,357 customers).

Label: no purchase in the 39 weeks after 1997-09-30; features at 1997-09-30
(crm_ml.features.build). 5-fold stratified CV ROC-AUC (same folds for every method) of:

* the default ChurnModel (lightgbm and random_forest), no tuning;
* a tuned logistic regression, random forest and LightGBM (small grids, inner 3-fold CV
  on the training folds only -- nested CV, so their scores are honest too);
* the BG/NBD baseline: expected purchases in the next 39 weeks (lifetimes), lower = churn;
* ``+ purchase features``: the same ChurnModel on ``features.build(...)`` joined with
  ``crm_ml.clv.purchase_features(tx, as_of, horizon_days=273)`` (expected purchases and
  P(alive) of BG/NBD, MBG/NBD and Pareto/NBD, fitted on the history up to as_of only; no
  label is used, so fitting them once on all customers does not leak across folds).

With ``--dev`` the same comparison runs instead on the development sets that ChurnModel's
defaults are chosen on: the CDNOW master file's customers who are *not* in the sample, split at
random into 9 disjoint sets of the sample's size (~2,350 customers each).

Usage: python benchmarks/bench_churn_cdnow.py [--folds 5] [--kind sample] [--repeats 3]
       [--only "ChurnModel lightgbm,logistic"] [--dev] [--builtin]

``--builtin`` runs the ChurnModel contenders with and without purchase features on
``crm_ml.datasets.make_crm_dataset`` instead (its own as_of, label horizon 90 days).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_PROGRESS", "0")

AS_OF = "1997-09-30"
HORIZON_DAYS = 39 * 7


def load(kind: str):
    from crm_ml.datasets import load_cdnow

    return load_cdnow(kind)


def dev_sets(n_sets: int = 9):
    """The master file's customers outside the sample, in ``n_sets`` disjoint random sets."""
    from crm_ml.datasets import load_cdnow

    master = load_cdnow("master")
    ids = np.array(sorted(set(master["customer_id"])
                          - set(load_cdnow("sample")["customer_id"])))
    np.random.default_rng(0).shuffle(ids)
    for i, chunk in enumerate(np.array_split(ids, n_sets)):
        yield f"dev set {i}", master[master["customer_id"].isin(set(chunk))]


def bgnbd_expected(tx: pd.DataFrame, index: pd.Index, as_of=AS_OF,
                   horizon_days: int = HORIZON_DAYS) -> pd.Series:
    """Expected purchases in the ``horizon_days`` after as_of from a BG/NBD fit (weekly units,
    lifetimes directly: the peer, independent of crm_ml's purchase_features)."""
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    hist = tx.loc[tx["timestamp"] <= pd.Timestamp(as_of)]
    summ = summary_data_from_transaction_data(hist, "customer_id", "timestamp",
                                              observation_period_end=as_of, freq="W")
    bg = BetaGeoFitter(penalizer_coef=0.0).fit(summ["frequency"], summ["recency"], summ["T"])
    exp = bg.conditional_expected_number_of_purchases_up_to_time(
        horizon_days / 7, summ["frequency"], summ["recency"], summ["T"])
    return exp.reindex(index).fillna(0.0)


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--kind", default="sample", choices=["sample", "master"])
    ap.add_argument("--repeats", type=int, default=1,
                    help="repeat the k-fold split with seeds 0..R-1 (paired comparisons)")
    ap.add_argument("--dev", action="store_true",
                    help="run on the 9 development sets (master minus sample) instead")
    ap.add_argument("--builtin", action="store_true",
                    help="run on make_crm_dataset (n customers: --n) instead of CDNOW")
    ap.add_argument("--n", type=int, default=5000, help="customers of --builtin")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed of --builtin")
    ap.add_argument("--only", help="comma-separated substrings: run only the matching methods "
                    "(e.g. 'ChurnModel lightgbm,logistic'); the BG/NBD baseline always runs")
    args = ap.parse_args(argv)

    import lightgbm as lgb
    from sklearn.base import clone
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    import crm_ml as cm

    def signed_log(a):
        return np.sign(a) * np.log1p(np.abs(a))

    lr = GridSearchCV(make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                    FunctionTransformer(signed_log), StandardScaler(),
                                    LogisticRegression(max_iter=2000)),
                      {"logisticregression__C": [0.001, 0.01, 0.1, 1.0, 10.0]},
                      scoring="roc_auc", cv=3)
    rf = GridSearchCV(RandomForestClassifier(n_estimators=300, n_jobs=2, random_state=0),
                      {"min_samples_leaf": [1, 5, 20, 50], "max_features": ["sqrt", 0.5]},
                      scoring="roc_auc", cv=3)
    gbm = GridSearchCV(lgb.LGBMClassifier(learning_rate=0.05, n_jobs=1, random_state=0,
                                          verbose=-1),
                       {"num_leaves": [4, 15, 31], "n_estimators": [100, 300],
                        "min_child_samples": [20, 50]},
                       scoring="roc_auc", cv=3)
    contenders = {
        "ChurnModel lightgbm (default)": lambda: cm.churn.ChurnModel("lightgbm"),
        "ChurnModel random_forest (default)": lambda: cm.churn.ChurnModel("random_forest"),
        "logistic regression (tuned)": lambda: lr,
        "random forest (tuned)": lambda: rf,
        "LightGBM (tuned)": lambda: gbm,
        # not a default: the single final model, to show what bagging the folds adds
        "ChurnModel lightgbm (bagging=False)": lambda: cm.churn.ChurnModel(
            "lightgbm", bagging=False),
        "ChurnModel lightgbm + purchase features": lambda: cm.churn.ChurnModel("lightgbm"),
        "ChurnModel random_forest + purchase features": lambda: cm.churn.ChurnModel(
            "random_forest"),
        "logistic regression (tuned) + purchase features": lambda: clone(lr),
        "LightGBM (tuned) + purchase features": lambda: clone(gbm),
    }
    if args.only:
        keep = [k.strip() for k in args.only.split(",")]
        contenders = {k: v for k, v in contenders.items() if any(s in k for s in keep)}
    scores: dict[str, list[float]] = {k: [] for k in [*contenders, "BG/NBD expected purchases"]}
    seconds = dict.fromkeys(scores, 0.0)
    if args.builtin:
        ds = cm.datasets.make_crm_dataset(n_customers=args.n, seed=args.seed)
        problems = [(f"built-in (n={args.n}, seed={args.seed})", ds.transactions,
                     ds.as_of - pd.Timedelta(days=90), 90)]
    elif args.dev:
        problems = [(label, tx, AS_OF, HORIZON_DAYS) for label, tx in dev_sets()]
    else:
        problems = [(f"CDNOW {args.kind}", load(args.kind), AS_OF, HORIZON_DAYS)]
    n_folds = 0
    for label, tx, as_of, horizon in problems:
        X = cm.features.build(tx, as_of)
        y = cm.churn.make_labels(tx, as_of, horizon).reindex(X.index)
        t = time.perf_counter()
        pf = cm.clv.purchase_features(tx, as_of, horizon_days=horizon)
        pf_seconds = time.perf_counter() - t
        Xp = X.join(pf)
        print(f"{label}: {len(X)} customers, {X.shape[1]} features (+{pf.shape[1]} purchase "
              f"features in {pf_seconds:.1f} s), churn rate {y.mean():.3f} "
              f"(label: no purchase in {horizon} days after {pd.Timestamp(as_of).date()})")
        bg = bgnbd_expected(tx, X.index, as_of, horizon)
        print(f"BG/NBD on all customers (no CV): {roc_auc_score(y, -bg):.4f}")
        n_folds += cross_validate(X, Xp, y, bg, contenders, scores, seconds, args.folds,
                                  args.repeats)
    return report(scores, seconds, contenders, n_folds)


def cross_validate(X, Xp, y, bg, contenders, scores, seconds, folds, repeats) -> int:
    """Append every method's ROC-AUC on the same stratified folds; returns the fold count.

    Contenders named ``... + purchase features`` get ``Xp`` (X joined with the purchase
    features), the others ``X``."""
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    Xbase = X
    splits = [split for seed in range(repeats)
              for split in StratifiedKFold(folds, shuffle=True,
                                           random_state=seed).split(Xbase, y)]
    for i, (tr, te) in enumerate(splits):
        for name, make in contenders.items():
            X = Xp if name.endswith("+ purchase features") else Xbase
            Xn = X.astype(float)
            t = time.perf_counter()
            est = make()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if name.startswith("ChurnModel"):
                    est.fit(X.iloc[tr], y.iloc[tr])
                    p = est.predict_proba(X.iloc[te]).to_numpy()
                else:
                    est.fit(Xn.iloc[tr], y.iloc[tr])
                    p = est.predict_proba(Xn.iloc[te])[:, 1]
            seconds[name] += time.perf_counter() - t
            scores[name].append(roc_auc_score(y.iloc[te], p))
        scores["BG/NBD expected purchases"].append(roc_auc_score(y.iloc[te], -bg.iloc[te]))
        print(f"fold {i + 1}: " + ", ".join(f"{k.split(' (')[0]} {v[-1]:.3f}"
                                           for k, v in scores.items()))
    return len(splits)


def report(scores, seconds, contenders, n_folds) -> pd.DataFrame:
    res = pd.DataFrame({"roc_auc_mean": {k: np.mean(v) for k, v in scores.items()},
                        "roc_auc_std": {k: np.std(v) for k, v in scores.items()},
                        "fit_seconds": seconds}).sort_values("roc_auc_mean", ascending=False)
    res["vs_bgnbd"] = res["roc_auc_mean"] - res.loc["BG/NBD expected purchases", "roc_auc_mean"]
    print(res.round(4).to_string())
    best_tuned = res.loc[[k for k in res.index if "tuned" in k], "roc_auc_mean"].max()
    for k in res.index:
        if k.startswith("ChurnModel"):
            print(f"{k}: {res.loc[k, 'roc_auc_mean']:.4f} vs best tuned {best_tuned:.4f} "
                  f"(ratio {res.loc[k, 'roc_auc_mean'] / best_tuned:.4f})")
    # same folds for every method: compare fold by fold (the spread between folds cancels)
    print(f"\npaired ROC-AUC differences over {n_folds} folds (mean +- standard error; "
          "folds share training rows, so the error is somewhat understated):")
    for ours in [k for k in contenders if k.startswith("ChurnModel")]:
        for other in [k for k in scores if "tuned" in k or "BG/NBD" in k]:
            d = np.subtract(scores[ours], scores[other])
            print(f"  {ours} - {other}: {d.mean():+.4f} +- {d.std(ddof=1) / np.sqrt(len(d)):.4f}")
    for with_pf in [k for k in contenders if k.endswith(" + purchase features")]:
        without = next((k for k in contenders if k.startswith(with_pf[:-len(" + purchase features")])
                        and not k.endswith(" + purchase features")), None)
        if without is not None:  # what the purchase features add, fold by fold
            d = np.subtract(scores[with_pf], scores[without])
            print(f"  {with_pf} - {without}: {d.mean():+.4f} +- "
                  f"{d.std(ddof=1) / np.sqrt(len(d)):.4f}")
    return res


if __name__ == "__main__":
    main()
