"""Benchmark: does the default CLVModel rank holdout spend at least as well as its peers?

    python benchmarks/bench_clv_quality.py                 # quality table
    python benchmarks/bench_clv_quality.py --timing        # + fit time, default vs BG/NBD

Data (public, offline):

- CDNOW master (23,570 customers, Jan 1997 - Jun 1998; ships with ``lifetimes``:
  ``crm_ml.datasets.load_cdnow("master")``), calibration to 1997-09-30, holdout to
  1998-06-30 -- the issue's cohort;
- CDNOW master cut earlier, calibration to 1997-06-30, holdout to 1998-03-31 (same customers,
  another period; used only to confirm);
- the CDNOW sample (the 2,357-customer tenth of Fader, Hardie & Lee 2005; a subset of the
  master, used in development);
- the built-in data, ``make_crm_dataset(n, seed=1)``, holdout the last 182 days.

No second public transaction set with amounts is available offline (lifetimes' other bundled
sets are summaries, donations without amounts, or transactions without amounts).

Peers, all in the same run, scored on the same customers (everyone with a purchase on or
before the calibration end) against their spend in the holdout: the naive baseline (past spend
per day x holdout days), BG/NBD + Gamma-Gamma and MBG/NBD + Gamma-Gamma (``method=
"probabilistic"``), and the default ``CLVModel()`` (MBG/NBD, ``method="auto"``). Metrics:
normalised Gini and Spearman of predicted vs actual holdout spend; per-customer MAE and total
of holdout repeat purchases (purchase model fit).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import pandas as pd


def datasets(n_builtin: int):
    from crm_ml.datasets import load_cdnow, make_crm_dataset

    master = load_cdnow("master")
    ds = make_crm_dataset(n_builtin, seed=1)
    cal = ds.as_of - pd.Timedelta(days=182)
    return {
        "CDNOW master 1997-09-30 (issue)": (master, "1997-09-30", "1998-06-30"),
        "CDNOW master 1997-06-30 (confirm)": (master, "1997-06-30", "1998-03-31"),
        "CDNOW sample 1997-09-30 (dev)": (load_cdnow("sample"), "1997-09-30", "1998-06-30"),
        f"built-in {n_builtin:,} (dev)": (ds.transactions, cal, ds.as_of),
    }


PEERS = {
    "BG/NBD + GG": {"purchase_model": "bgnbd", "method": "probabilistic"},
    "MBG/NBD + GG": {"purchase_model": "mbgnbd", "method": "probabilistic"},
    "default CLVModel()": {},
}


def quality(n_builtin: int) -> pd.DataFrame:
    from crm_ml.clv import CLVModel
    from crm_ml.clv.validation import holdout_days

    rows = []
    for name, (tx, cal, hold) in datasets(n_builtin).items():
        days = holdout_days(cal, hold)
        for peer, params in PEERS.items():
            t0 = time.perf_counter()
            r = CLVModel(**params).backtest(tx, cal, days, plots=False)
            secs = time.perf_counter() - t0
            if peer == "BG/NBD + GG":
                b = r["baseline"]
                rows.append({"data": name, "approach": "baseline: past spend rate",
                             "gini": b["gini"], "spearman": b["spearman"]})
            rows.append({"data": name, "approach": peer, "used": r["method"],
                         "gini": r["gini"], "spearman": r["spearman"],
                         "purchases_mae": r["mae"],
                         "purchases_pred/actual": r["predicted_total"] / r["actual_total"],
                         "backtest_s": secs})
            print(f"  {name} / {peer}: gini {r['gini']:.4f} ({r['method']})", flush=True)
    return pd.DataFrame(rows)


def timing(n_builtin: int) -> pd.DataFrame:
    """Fit time of the default against the published BG/NBD path, same data, same run."""
    from crm_ml.clv import CLVModel
    from crm_ml.datasets import load_cdnow, make_crm_dataset

    ds = make_crm_dataset(n_builtin, seed=1)
    sets = {"CDNOW master": (load_cdnow("master"), "1997-09-30"),
            f"built-in {n_builtin:,}": (ds.transactions, ds.as_of)}
    rows = []
    for name, (tx, as_of) in sets.items():
        t = {}
        for peer in ("BG/NBD + GG", "default CLVModel()"):
            t0 = time.perf_counter()
            m = CLVModel(**PEERS[peer]).fit(tx, as_of)
            t[peer] = time.perf_counter() - t0
        rows.append({"data": name, "bgnbd_fit_s": t["BG/NBD + GG"],
                     "default_fit_s": t["default CLVModel()"], "used": m.method_,
                     "ratio": t["default CLVModel()"] / t["BG/NBD + GG"]})
    return pd.DataFrame(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-builtin", type=int, default=20_000)
    ap.add_argument("--timing", action="store_true", help="also time fit (built-in 100k)")
    ap.add_argument("--n-timing", type=int, default=100_000)
    args = ap.parse_args(argv)
    os.environ.setdefault("CRM_ML_PROGRESS", "0")
    warnings.filterwarnings("ignore")
    pd.set_option("display.width", 200)
    q = quality(args.n_builtin)
    print(q.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.timing:
        print(timing(args.n_timing).to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
