"""Churn ROC-AUC on public tables: ChurnModel vs scikit-learn's forest and default LightGBM.

Issue #18: on every public churn table, 5-fold ROC-AUC of ``ChurnModel("random_forest")``
must be at least that of ``RandomForestClassifier(n_estimators=500)`` and of default
``lightgbm.LGBMClassifier()``. The tables are R modeldata's (``benchmarks/public_data.py``:
how to export them offline, SHA-256 checked); ``mlc_churn`` and ``wa_churn`` are for
development, ``attrition`` is held out for one confirmation run.

Every contender sees the same 5 stratified folds (shuffled, seed 0) and the raw columns:

* ``sklearn_rf500``: ``RandomForestClassifier(n_estimators=500, random_state=0)`` on the
  columns one-hot encoded by ``pandas.get_dummies`` (missing numbers stay NaN, which the
  forest handles);
* ``lgbm_default``: ``LGBMClassifier(random_state=0, verbose=-1)``, text columns as pandas
  categoricals (LightGBM's native categorical splits);
* ``crm_rf`` / ``crm_lgb``: ``ChurnModel("random_forest")`` / ``ChurnModel("lightgbm")`` with
  defaults, on the raw table (it encodes it itself);
* ``--variants``: extra ChurnModel contenders as JSON ``{"name": {kwargs}}`` (the development
  runs that found the defaults, recorded in ``benchmarks/notes/forest.md``); the key
  ``"encode": "ordinal" | "target"`` gives ChurnModel the text columns as numbers instead.

For ChurnModel forests the mean explanation cost (``crm_ml.churn.champion.explanation_cost``,
TreeSHAP work per explained row) of the fold models is printed, as a ratio to ``crm_lgb``'s
when that is run.

Usage: python benchmarks/bench_churn_public.py [--data mlc_churn,wa_churn] [--folds 5]
       [--contenders sklearn_rf500,lgbm_default,crm_rf,crm_lgb] [--variants JSON]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_PROGRESS", "0")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from public_data import DEVELOPMENT, load  # noqa: E402

CONTENDERS = ("sklearn_rf500", "lgbm_default", "crm_rf", "crm_lgb")


def _dummies(X: pd.DataFrame) -> pd.DataFrame:
    return pd.get_dummies(X, dtype=float)


def _categoricals(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in X.columns:
        if X[c].dtype == object:
            X[c] = X[c].astype("category")
    return X


def encode_categoricals(Xtr, ytr, Xte, how: str):
    """Text columns as numbers learnt on the training rows: ``"ordinal"`` codes levels in
    sorted order, ``"target"`` by their training churn rate (Breiman's ordering)."""
    Xtr, Xte = Xtr.copy(), Xte.copy()
    for c in Xtr.columns:
        if Xtr[c].dtype != object:
            continue
        if how == "ordinal":
            levels = sorted(Xtr[c].dropna().unique())
        else:
            levels = ytr.groupby(Xtr[c]).mean().sort_values(kind="stable").index.tolist()
        code = {lvl: float(i) for i, lvl in enumerate(levels)}
        Xtr[c], Xte[c] = Xtr[c].map(code), Xte[c].map(code)
    return Xtr, Xte


def fit_predict(name: str, spec: dict | None, Xtr, ytr, Xte):
    """(churn probabilities on ``Xte``, fitted model or None) of one contender."""
    if name == "sklearn_rf500":
        from sklearn.ensemble import RandomForestClassifier

        D = _dummies(pd.concat([Xtr, Xte]))
        rf = RandomForestClassifier(n_estimators=500, random_state=0, n_jobs=2)
        rf.fit(D.iloc[:len(Xtr)], ytr)
        return rf.predict_proba(D.iloc[len(Xtr):])[:, 1], None
    if name == "lgbm_default":
        import lightgbm as lgb

        C = _categoricals(pd.concat([Xtr, Xte]))
        m = lgb.LGBMClassifier(random_state=0, verbose=-1).fit(C.iloc[:len(Xtr)], ytr)
        return m.predict_proba(C.iloc[len(Xtr):])[:, 1], None
    from crm_ml.churn import ChurnModel

    kw = dict(spec or {})
    encode = kw.pop("encode", None)
    if encode is not None:  # development: categoricals given to ChurnModel as numbers
        Xtr, Xte = encode_categoricals(Xtr, ytr, Xte, encode)
    kw.setdefault("algorithm", "lightgbm" if name == "crm_lgb" else "random_forest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ChurnModel(**kw).fit(Xtr, ytr)
        return m.predict_proba(Xte).to_numpy(), m


def run(data: str, contenders: dict, folds: int) -> list[dict]:
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from crm_ml.churn.champion import explanation_cost

    X, y = load(data)
    split = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(X, y))
    rows = []
    for name, spec in contenders.items():
        proba = np.empty(len(y))
        costs, depths, t = [], [], time.perf_counter()
        for tr, te in split:
            proba[te], model = fit_predict(name if name in CONTENDERS else "variant", spec,
                                           X.iloc[tr], y.iloc[tr], X.iloc[te])
            if model is not None:
                costs.append(explanation_cost(model))
                depths.append(f"d{model.max_depth_}/l{getattr(model, 'min_samples_leaf_', '?')}"
                              if model.algorithm == "random_forest"
                              else f"{model.num_leaves_} leaves")
        aucs = [roc_auc_score(y.iloc[te], proba[te]) for _, te in split]
        row = {"data": data, "model": name, "roc_auc": float(np.mean(aucs)),
               "roc_auc_sd": float(np.std(aucs)), "pooled_auc": roc_auc_score(y, proba),
               "fit_s": time.perf_counter() - t,
               "cost": float(np.mean(costs)) if costs else np.nan,
               "size": ",".join(map(str, depths)) if depths else ""}
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False, header=len(rows) == 1),
              flush=True)
    return rows


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=",".join(DEVELOPMENT))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--variants", type=json.loads, default={},
                    help='extra ChurnModel contenders: \'{"name": {"params": {...}}}\'')
    args = ap.parse_args(argv)
    contenders = {c: None for c in args.contenders.split(",") if c}
    contenders.update(args.variants)
    res = pd.DataFrame([r for d in args.data.split(",") for r in run(d, contenders,
                                                                      args.folds)])
    if "crm_lgb" in contenders:
        lgb_cost = res[res["model"] == "crm_lgb"].set_index("data")["cost"]
        res["cost_vs_crm_lgb"] = res["cost"] / res["data"].map(lgb_cost)
    print("\n" + res.round(4).to_string(index=False))
    return res


if __name__ == "__main__":
    main()
