"""What the churn card says, on the built-in data and on CDNOW (run by hand, issue #18).

For each data set: LightGBM ``ChurnModel`` (defaults) trained on features at ``t_train`` with
labels in the next ``h`` days, carded on a later snapshot ``t_test`` (labels up to the end of
the data), as the churn pipeline does. Prints the card's decision-policy sentence, its held-out
calibration table, the logged ``cv_expected_calibration_error`` next to the held-out one, the
number of customers given a probability of exactly 0 or 1, and the customers whose reasons
state the one-purchase-day fact more than once.

Data: ``crm_ml.datasets.make_crm_dataset(n_customers=6000, seed=0)`` (h = 90 days) and the
CDNOW master file that ships with lifetimes (``crm_ml.datasets.load_cdnow("master")``, 23,570
customers, offline), both on the churn pipeline's default timeline: h = 90 days, the test
snapshot h days before the last purchase in the data, the training snapshot h days earlier.

Usage: python benchmarks/churn_card_honesty.py [--only builtin|cdnow]
"""

from __future__ import annotations

import argparse
import os
import re
import warnings

import pandas as pd

os.environ.setdefault("CRM_ML_PROGRESS", "0")


def _datasets(only):
    import crm_ml as cm

    if only in (None, "builtin"):
        ds = cm.datasets.make_crm_dataset(n_customers=6000, seed=0)
        t_test = ds.as_of - pd.Timedelta(days=90)
        yield "built-in (6,000 customers)", ds.transactions, ds.interactions, \
            t_test - pd.Timedelta(days=90), t_test, 90
    if only in (None, "cdnow"):
        tx = cm.datasets.load_cdnow("master")
        t_test = tx["timestamp"].max().normalize() - pd.Timedelta(days=90)
        yield "CDNOW master", tx, None, t_test - pd.Timedelta(days=90), t_test, 90


ONE_DAY = re.compile(r"only one purchase day so far")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["builtin", "cdnow"])
    args = ap.parse_args(argv)

    import crm_ml as cm
    from crm_ml.churn import ChurnModel, make_labels
    from crm_ml.churn.card import model_card
    from crm_ml.churn.evaluation import evaluate_predictions

    for name, tx, it, t_train, t_test, h in _datasets(args.only):
        X = cm.features.build(tx, t_train, it)
        y = make_labels(tx, t_train, h).reindex(X.index)
        Xt = cm.features.build(tx, t_test, it)
        yt = make_labels(tx, t_test, h).reindex(Xt.index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = ChurnModel().fit(X, y)
        expl = m.explain(Xt)
        card = model_card(m, Xt, yt, horizon_days=h, explanation=expl, n_boot=20)
        p = m.predict_proba(Xt)
        held = evaluate_predictions(yt.to_numpy(), p.to_numpy())
        r = expl.reasons
        texts = r[[c for c in r.columns if c.startswith("reason_")]].astype(str)
        dup = texts.apply(lambda col: col.str.contains(ONE_DAY)).sum(axis=1) >= 2
        print(f"\n=== {name}: train {t_train.date()} ({len(X)}), test {t_test.date()} "
              f"({len(Xt)}), calibration {m.calibrator_.method_}")
        print("Decision policy:", card.extra_sections["Decision policy"])
        print("calibration table (test snapshot):")
        print(card.calibration.round(3).to_string(index=False))
        print(f"logged cv_expected_calibration_error: "
              f"{m.cv_metrics_['expected_calibration_error']:.3g}; "
              f"test-snapshot ECE: {held['expected_calibration_error']:.3g}")
        print(f"probabilities exactly 0: {(p == 0).sum()}, exactly 1: {(p == 1).sum()}, "
              f"min {p.min():.3g}, max {p.max():.3g}")
        print(f"customers whose reasons repeat 'only one purchase day so far': {int(dup.sum())}"
              f" of {len(r)}")
        one = texts.apply(lambda col: col.str.contains(ONE_DAY)).any(axis=1)
        if one.any():
            print("  e.g.", list(texts[dup if dup.any() else one].iloc[0]))


if __name__ == "__main__":
    main()
