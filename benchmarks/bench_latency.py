"""Churn champion latency per algorithm: one customer through the serving path, batch reasons.

For each data set (the real CDNOW purchases shipped with ``lifetimes``, 23,570 customers, and
the built-in synthetic data) and each algorithm (lightgbm, random_forest) this fits the model
the way ``crm-ml train`` does (``crm_ml.churn.demo``: features at ``as_of - 180 days``, labels
in the next 90 days, 3 calibration folds, a 100-tree forest) and measures

* ``roc_auc``: on the held-out later period (features at ``as_of - 90 days``, labels up to
  ``as_of``), as the champion choice does;
* ``one_p50_ms`` / ``one_p95_ms``: one customer (a dict) through what
  ``crm_ml.serve.predict_churn`` runs once the model is loaded - ``serve._as_frame``, id
  normalisation, then the pyfunc wrapper's ``predict`` called directly, as serve.py does -
  with the model saved and loaded back the way MLflow loads it (``load_context``);
* ``batch_s``: ``ChurnModel.explain(X, top_k=3)`` on every customer at ``as_of`` (what
  ``crm-ml score`` runs per chunk: probabilities plus three reasons each).

With ``--before`` the random forest of before issue #16 (unbounded depth) is also fitted and
measured on the scoring path of then (scikit-learn's ``predict_proba`` with the forest's own
``n_jobs``; ``shap.TreeExplainer`` on ``--before-rows`` customers, extrapolated linearly to
all: TreeExplainer's time is linear in rows). Ratios to LightGBM measured in the same run are what to compare across runs: the
machine is shared and absolute times move.

Usage: python benchmarks/bench_latency.py [--data cdnow,synthetic] [--n-synthetic 18000]
       [--repeats 300] [--before] [--before-rows 1000] [--forest-params '{"max_depth": 8}']
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

os.environ.setdefault("CRM_ML_PROGRESS", "0")

HORIZON = 90


def load_data(name: str, n_synthetic: int):
    """(transactions, interactions, customers, as_of) of a data set."""
    import crm_ml as cm

    if name == "cdnow":
        tx = cm.datasets.load_cdnow("master")
        return tx, None, None, tx["timestamp"].max().normalize()
    ds = cm.datasets.make_crm_dataset(n_customers=n_synthetic, seed=0)
    return ds.transactions, ds.interactions, ds.customers, ds.as_of


def timeline(tx, it, cu, as_of):
    """Train / held-out / scoring tables as crm_ml.churn.demo builds them."""
    from crm_ml.churn.labels import make_labels
    from crm_ml.features.snapshot import build

    t_train = as_of - pd.Timedelta(days=2 * HORIZON)
    t_test = as_of - pd.Timedelta(days=HORIZON)
    X = build(tx, t_train, it, cu)
    y = make_labels(tx, t_train, HORIZON).reindex(X.index)
    Xt = build(tx, t_test, it, cu)
    yt = make_labels(tx, t_test, HORIZON).reindex(Xt.index)
    return X, y, Xt, yt, build(tx, as_of, it, cu)


def fit(algorithm: str, X, y, params=None):
    from crm_ml.churn.model import ChurnModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ChurnModel(algorithm, cv=3, track=False, params=params,
                          n_estimators=100 if algorithm == "random_forest" else None).fit(X, y)


def loaded_wrapper(model):
    """The pyfunc wrapper with the model saved and loaded back, as MLflow serves it."""
    from crm_ml.churn.pyfunc import ChurnPyfuncModel

    class Context:
        artifacts = model.save(tempfile.mkdtemp(prefix="bench_latency_"))

    wrapper = ChurnPyfuncModel()
    wrapper.load_context(Context())
    return wrapper


def one_customer_ms(wrapper, X_now: pd.DataFrame, repeats: int) -> tuple[float, float]:
    """p50 and p95 of one-customer calls, each a different customer, on serve's path."""
    from crm_ml.churn.demo import _pyfunc_input
    from crm_ml.data._coerce import to_id, to_object
    from crm_ml.serve import _as_frame

    rows = _pyfunc_input(X_now.sample(min(repeats, len(X_now)), random_state=0))
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()}
               for r in rows.to_dict("records")]
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        frame, _ = _as_frame(records[i % len(records)])
        frame["customer_id"] = to_object(to_id(frame["customer_id"])[0]).astype(str)
        wrapper.predict(None, frame)
        times.append(time.perf_counter() - t)
    ms = np.array(times[min(10, repeats // 10):]) * 1e3  # the first calls warm caches
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def batch_seconds(model, X_now) -> float:
    t = time.perf_counter()
    model.explain(X_now, top_k=3)
    return time.perf_counter() - t


def before_forest(X, y, Xt, yt, X_now, repeats: int, rows: int) -> dict:
    """The pre-#16 random forest (unbounded depth) on the pre-#16 path: scikit-learn's
    predict_proba with the forest's joblib pool, shap.TreeExplainer."""
    from sklearn.metrics import roc_auc_score

    from crm_ml.churn.model import ChurnModel

    t = time.perf_counter()
    model = fit("random_forest", X, y, {"max_depth": None})
    fit_s = time.perf_counter() - t
    auc = roc_auc_score(yt, model.predict_proba(Xt))
    wrapper = loaded_wrapper(model)
    inner = wrapper.model

    def sklearn_proba(Xe):  # what predict_proba ran before: the forest's own joblib pool
        return ChurnModel._forest_proba(inner.forest_, Xe)

    inner._compiled_forest_proba = sklearn_proba
    p50, p95 = one_customer_ms(wrapper, X_now, repeats)
    sample = X_now.sample(min(rows, len(X_now)), random_state=0)
    t = time.perf_counter()
    model.explain(sample, top_k=3, method="shap")
    batch = (time.perf_counter() - t) * len(X_now) / len(sample)
    est = model.forest_.estimators_
    return {"roc_auc": auc, "fit_s": fit_s, "one_p50_ms": p50, "one_p95_ms": p95,
            "batch_s": batch, "leaves": float(np.mean([e.get_n_leaves() for e in est])),
            "depth": float(np.mean([e.get_depth() for e in est]))}


def run(data: str, args) -> list[dict]:
    from sklearn.metrics import roc_auc_score

    X, y, Xt, yt, X_now = timeline(*load_data(data, args.n_synthetic))
    print(f"{data}: train {len(X)} customers (churn {y.mean():.3f}), held out {len(Xt)}, "
          f"scored {len(X_now)}", flush=True)
    rows = []
    for algorithm in args.algorithms.split(","):
        t = time.perf_counter()
        model = fit(algorithm, X, y, args.forest_params if algorithm == "random_forest"
                    else None)
        fit_s = time.perf_counter() - t
        auc = roc_auc_score(yt, model.predict_proba(Xt))
        p50, p95 = one_customer_ms(loaded_wrapper(model), X_now, args.repeats)
        row = {"data": data, "algorithm": algorithm, "path": "now", "roc_auc": auc,
               "fit_s": fit_s, "one_p50_ms": p50, "one_p95_ms": p95,
               "batch_s": batch_seconds(model, X_now)}
        if algorithm == "random_forest":
            row["max_depth_"] = model.max_depth_
            est = model.forest_.estimators_
            row["leaves"] = float(np.mean([e.get_n_leaves() for e in est]))
            row["depth"] = float(np.mean([e.get_depth() for e in est]))
        rows.append(row)
        print(pd.DataFrame([row]).round(4).to_string(index=False), flush=True)
        if args.before and algorithm == "random_forest":
            before = {"data": data, "algorithm": algorithm, "path": "before #16",
                      **before_forest(X, y, Xt, yt, X_now, args.repeats, args.before_rows)}
            rows.append(before)
            print(pd.DataFrame([before]).round(4).to_string(index=False), flush=True)
    return rows


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="cdnow,synthetic")
    ap.add_argument("--algorithms", default="lightgbm,random_forest")
    ap.add_argument("--n-synthetic", type=int, default=18_000)
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--before", action="store_true",
                    help="also time the random forest on the pre-#16 scoring path")
    ap.add_argument("--before-rows", type=int, default=1000,
                    help="customers explained by shap.TreeExplainer for --before")
    ap.add_argument("--forest-params", type=json.loads, default=None,
                    help='extra RandomForestClassifier arguments, e.g. \'{"max_depth": null}\'')
    args = ap.parse_args(argv)
    rows = [row for data in args.data.split(",") for row in run(data, args)]
    res = pd.DataFrame(rows)
    lgb = res[res["algorithm"] == "lightgbm"].set_index("data")
    for col in ("one_p50_ms", "batch_s"):
        res[f"{col}_vs_lightgbm"] = res[col] / res["data"].map(lgb[col])
    print("\n" + res.round(4).to_string(index=False))
    return res


if __name__ == "__main__":
    main()
