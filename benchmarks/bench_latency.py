"""Churn champion latency per algorithm: one customer through the serving path, batch reasons.

For each data set (the real CDNOW purchases shipped with ``lifetimes``, 23,570 customers, and
the built-in synthetic data) and each algorithm (lightgbm, random_forest) this fits the model
the way ``crm-ml train`` does (``crm_ml.pipelines.churn``: features at ``as_of - 180 days``, labels
in the next 90 days, 3 calibration folds, a 100-tree forest) and measures

* ``roc_auc``: on the held-out later period (features at ``as_of - 90 days``, labels up to
  ``as_of``), as the champion choice does;
* ``one_p50_ms`` / ``one_p95_ms``: one customer (a dict) through what
  ``crm_ml.serve.predict_churn`` runs once the model is loaded - ``serve._as_frame``, id
  normalisation, then the pyfunc wrapper's ``predict`` called directly, as serve.py does -
  with the model saved and loaded back the way MLflow loads it (``load_context``);
* ``batch_s``: ``ChurnModel.explain(X, top_k=3)`` on every customer at ``as_of`` (what
  ``crm-ml score`` runs per chunk: probabilities plus three reasons each), fastest of
  ``--rounds``.

The contenders take turns (call by call, round by round), so load on the shared machine
falls on all of them alike.

With ``--before`` the random forest of before issue #16 (unbounded depth) is also fitted and
measured on the scoring path of then (scikit-learn's ``predict_proba`` with the forest's own
``n_jobs``; ``shap.TreeExplainer`` on ``--before-rows`` customers, extrapolated linearly to
all: TreeExplainer's time is linear in rows). Ratios to LightGBM measured in the same run are what to compare across runs: the
machine is shared and absolute times move.

When both algorithms are fitted, the champion rule of ``crm_ml.churn.champion`` (explanation
cost within 2x of LightGBM's) is applied and its sentence printed. ``--cost-check`` instead
compares that cost measure with measured explain times of forests of depths 4, 6, 8 (50 and
100 trees) and the LightGBM candidate.

Usage: python benchmarks/bench_latency.py [--data cdnow,synthetic] [--n-synthetic 18000]
       [--repeats 300] [--rounds 2] [--before] [--before-rows 1000] [--forest-params '{"max_depth": 8}']
       [--cost-check [--cost-rows 4000]]
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
    """Train / held-out / scoring tables as crm_ml.pipelines.churn builds them."""
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
        return ChurnModel(algorithm, cv=3, params=params,
                          n_estimators=100 if algorithm == "random_forest" else None).fit(X, y)


def loaded_wrapper(model):
    """The pyfunc wrapper with the model saved and loaded back, as MLflow serves it."""
    from crm_ml.churn.pyfunc import ChurnPyfuncModel

    class Context:
        artifacts = model.save(tempfile.mkdtemp(prefix="bench_latency_"))

    wrapper = ChurnPyfuncModel()
    wrapper.load_context(Context())
    return wrapper


def one_customer_ms(wrappers: dict, X_now: pd.DataFrame, repeats: int) -> dict:
    """p50 and p95 (ms) of one-customer calls per wrapper on serve's path.

    The wrappers take turns call by call (each call a different customer), so a burst of load
    on the shared machine hits every contender alike.
    """
    from crm_ml.data._coerce import to_id, to_object
    from crm_ml.pipelines.churn import pyfunc_input
    from crm_ml.serve import _as_frame

    rows = pyfunc_input(X_now.sample(min(repeats, len(X_now)), random_state=0))
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()}
               for r in rows.to_dict("records")]
    times: dict[str, list[float]] = {name: [] for name in wrappers}
    for i in range(repeats):
        for name, wrapper in wrappers.items():
            t = time.perf_counter()
            frame, _ = _as_frame(records[i % len(records)])
            frame["customer_id"] = to_object(to_id(frame["customer_id"])[0]).astype(str)
            wrapper.predict(None, frame)
            times[name].append(time.perf_counter() - t)
    out = {}
    for name, ts in times.items():
        ms = np.array(ts[min(10, repeats // 10):]) * 1e3  # the first calls warm caches
        out[name] = (float(np.percentile(ms, 50)), float(np.percentile(ms, 95)))
    return out


def batch_seconds(explainers: dict, rounds: int) -> dict:
    """Fastest of ``rounds`` timings of each explain call, contenders taking turns."""
    best = dict.fromkeys(explainers, np.inf)
    for _ in range(rounds):
        for name, (explain, scale) in explainers.items():
            t = time.perf_counter()
            explain()
            best[name] = min(best[name], (time.perf_counter() - t) * scale)
    return best


def before_wrapper(model):
    """The pyfunc wrapper scoring with scikit-learn's predict_proba, as before issue #16
    (the forest's own joblib pool, ``n_jobs=2``)."""
    from crm_ml.churn.model import ChurnModel

    wrapper = loaded_wrapper(model)
    inner = wrapper.model

    def sklearn_proba(Xe):
        return ChurnModel._forest_proba(inner.forest_, Xe)

    inner._compiled_forest_proba = sklearn_proba
    return wrapper


def champion(models: dict, rows: dict, X, y, Xt, yt):
    """The demo's champion rule (crm_ml.churn.champion) on the two fitted candidates."""
    from sklearn.metrics import roc_auc_score

    from crm_ml.churn.champion import choose_champion

    def refit_forest(depth):
        model = fit("random_forest", X, y, {"max_depth": depth})
        return model, {"roc_auc": roc_auc_score(yt, model.predict_proba(Xt))}

    comparison = pd.DataFrame({a: {"roc_auc": rows[a]["roc_auc"]}
                               for a in ("lightgbm", "random_forest")}).T
    return choose_champion(comparison, models, refit_forest=refit_forest)


def run(data: str, args) -> list[dict]:
    from sklearn.metrics import roc_auc_score

    X, y, Xt, yt, X_now = timeline(*load_data(data, args.n_synthetic))
    print(f"{data}: train {len(X)} customers (churn {y.mean():.3f}), held out {len(Xt)}, "
          f"scored {len(X_now)}", flush=True)
    contenders = {a: (a, args.forest_params if a == "random_forest" else None)
                  for a in args.algorithms.split(",")}
    if args.before:  # the forest of before issue #16: unbounded depth
        contenders["random_forest before #16"] = ("random_forest", {"max_depth": None})
    rows, models, wrappers, explainers = {}, {}, {}, {}
    sample = X_now.sample(min(args.before_rows, len(X_now)), random_state=0)
    for name, (algorithm, params) in contenders.items():
        t = time.perf_counter()
        model = models[name] = fit(algorithm, X, y, params)
        rows[name] = {"data": data, "model": name, "fit_s": time.perf_counter() - t,
                      "roc_auc": roc_auc_score(yt, model.predict_proba(Xt))}
        if algorithm == "random_forest":
            est = model.forest_.estimators_
            rows[name].update({"max_depth_": model.max_depth_,
                               "leaves": float(np.mean([e.get_n_leaves() for e in est])),
                               "depth": float(np.mean([e.get_depth() for e in est]))})
        if name.endswith("#16"):
            wrappers[name] = before_wrapper(model)
            # shap.TreeExplainer, linear in rows: a sample, scaled to everyone
            explainers[name] = (lambda m=model: m.explain(sample, top_k=3, method="shap"),
                                len(X_now) / len(sample))
        else:
            wrappers[name] = loaded_wrapper(model)
            explainers[name] = (lambda m=model: m.explain(X_now, top_k=3), 1.0)
        print(pd.DataFrame([rows[name]]).round(4).to_string(index=False), flush=True)
    if {"lightgbm", "random_forest"} <= set(models):
        choice = champion(models, rows, X, y, Xt, yt)
        print(f"{data} champion: {choice.reason}", flush=True)
        for name in ("lightgbm", "random_forest"):
            rows[name]["cost_vs_lightgbm"] = choice.comparison.loc[
                name, "explanation_cost_vs_lightgbm"]
    for name, (p50, p95) in one_customer_ms(wrappers, X_now, args.repeats).items():
        rows[name].update({"one_p50_ms": p50, "one_p95_ms": p95})
    for name, seconds in batch_seconds(explainers, args.rounds).items():
        rows[name]["batch_s"] = seconds
    return list(rows.values())


def cost_check(data: str, args) -> list[dict]:
    """Explanation cost (crm_ml.churn.champion) against measured explain time, per model.

    The LightGBM candidate as the demo fits it, and forests of depths 4, 6, 8 with 50 and 100
    trees fitted without calibration folds (only the trees are timed); each explains
    ``--cost-rows`` customers at ``as_of`` (all when 0), the contenders taking turns, fastest
    of ``--rounds``. Both ratios are to LightGBM's.
    """
    from crm_ml.churn.champion import explanation_cost
    from crm_ml.churn.model import ChurnModel

    X, y, _, _, X_now = timeline(*load_data(data, args.n_synthetic))
    rows = X_now if not args.cost_rows else X_now.sample(min(args.cost_rows, len(X_now)),
                                                         random_state=0)
    specs = {"lightgbm": ("lightgbm", None, None)}
    for depth in (4, 6, 8):
        for trees in (50, 100):
            specs[f"forest d{depth} t{trees}"] = ("random_forest", {"max_depth": depth}, trees)
    models, explainers = {}, {}
    for name, (algorithm, params, trees) in specs.items():
        if algorithm == "lightgbm":  # the candidate as the demo fits it (averaged if bagged)
            models[name] = fit(algorithm, X, y)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[name] = ChurnModel(algorithm, calibrate=False,
                                          params=params, n_estimators=trees).fit(X, y)
        explainers[name] = (lambda m=models[name]: m.explain(rows, top_k=3), 1.0)
    seconds = batch_seconds(explainers, args.rounds)
    cost = {name: explanation_cost(m) for name, m in models.items()}
    out = [{"data": data, "model": name, "rows": len(rows), "cost": cost[name],
            "explain_s": seconds[name], "cost_vs_lightgbm": cost[name] / cost["lightgbm"],
            "time_vs_lightgbm": seconds[name] / seconds["lightgbm"]} for name in specs]
    print(pd.DataFrame(out).round(3).to_string(index=False), flush=True)
    return out


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
    ap.add_argument("--rounds", type=int, default=2,
                    help="batch timings per model (the fastest is kept)")
    ap.add_argument("--forest-params", type=json.loads, default=None,
                    help='extra RandomForestClassifier arguments, e.g. \'{"max_depth": null}\'')
    ap.add_argument("--cost-check", action="store_true",
                    help="only compare the explanation cost measure with measured times")
    ap.add_argument("--cost-rows", type=int, default=0,
                    help="customers explained per model by --cost-check (0 = all)")
    args = ap.parse_args(argv)
    if args.cost_check:
        return pd.DataFrame([r for data in args.data.split(",") for r in cost_check(data, args)])
    rows = [row for data in args.data.split(",") for row in run(data, args)]
    res = pd.DataFrame(rows)
    lgb = res[res["model"] == "lightgbm"].set_index("data")
    for col in ("one_p50_ms", "batch_s"):
        res[f"{col}_vs_lightgbm"] = res[col] / res["data"].map(lgb[col])
    print("\n" + res.round(4).to_string(index=False))
    return res


if __name__ == "__main__":
    main()
