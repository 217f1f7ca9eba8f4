"""Benchmark: CLVModel.fit on many customers vs the plain lifetimes workflow.

    python benchmarks/bench_clv.py --n 1000000

Simulates BG/NBD purchase histories with Gamma-Gamma spend (seeded), then times
(a) ``crm_ml.clv.CLVModel(time_unit="W").fit(transactions, as_of)`` (shared single-pass summary,
    fits on distinct (frequency, recency, T) patterns with weights), and
(b) the plain lifetimes workflow on the same transactions:
    ``summary_data_from_transaction_data`` + ``BetaGeoFitter.fit`` + ``GammaGammaFitter.fit``,
and prints both times, the ratio and the largest relative parameter difference.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd


def simulate(n: int, seed: int = 0, days: int = 1095):
    """Canonical transactions of ``n`` BG/NBD customers acquired over ``days`` days."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.6, 40.0, 0.8, 3.0          # alpha in days
    p, q, v = 6.0, 4.0, 15.0
    lam = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    first = rng.integers(0, days, n)
    T = (days - first).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    ids, times = [np.arange(n)], [np.zeros(n)]
    t = np.zeros(n)
    alive = np.ones(n, bool)
    while alive.any():
        idx = np.flatnonzero(alive)
        t_new = t[idx] + rng.exponential(1 / lam[idx])
        ok = t_new <= T[idx]
        idx, t_new = idx[ok], t_new[ok]
        ids.append(idx)
        times.append(t_new)
        t[idx] = t_new
        nxt = np.zeros(n, bool)
        nxt[idx] = rng.random(len(idx)) >= drop[idx]
        alive = nxt
    cid = np.concatenate(ids)
    tt = np.concatenate(times)
    amount = np.round(rng.gamma(p, 1 / nu[cid]), 2) + 0.01
    start = pd.Timestamp("2022-01-01")
    ts = start + pd.to_timedelta(first[cid] + tt, unit="D")
    tx = pd.DataFrame({"customer_id": pd.Categorical(cid.astype(str)),
                       "timestamp": ts.to_numpy(dtype="datetime64[ns]"), "amount": amount})
    as_of = start + pd.Timedelta(days=days - 1)
    return tx, as_of


def ours(tx, as_of):
    from crm_ml.clv import CLVModel
    from crm_ml.features import customer_summary

    t0 = time.perf_counter()
    customer_summary(tx, as_of, time_unit="W")
    print(f"  (of which the shared customer_summary alone: {time.perf_counter() - t0:.1f} s)")
    t0, c0 = time.perf_counter(), time.process_time()
    m = CLVModel(time_unit="W").fit(tx, as_of)
    fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    m.predict(52, discount_rate=0.1)
    return m.params_, fit_s, fit_cpu, time.perf_counter() - t0


def plain_lifetimes(tx, as_of):
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    t0, c0 = time.perf_counter(), time.process_time()
    s = summary_data_from_transaction_data(
        tx.assign(customer_id=tx["customer_id"].astype(str)), "customer_id", "timestamp",
        monetary_value_col="amount", observation_period_end=as_of, freq="D",
        freq_multiplier=7)
    bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    rep = s[s["frequency"] > 0]
    gg = GammaGammaFitter().fit(rep["frequency"], rep["monetary_value"])
    return ({**bg.params_.to_dict(), **gg.params_.to_dict()}, time.perf_counter() - t0,
            time.process_time() - c0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="customers")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-lifetimes", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("CRM_ML_PROGRESS", "0")
    warnings.filterwarnings("ignore")
    import lifetimes  # noqa: F401  (imports outside the timings)
    import lifetimes.utils  # noqa: F401

    import crm_ml.clv.model  # noqa: F401
    import crm_ml.features.summary  # noqa: F401

    t0 = time.perf_counter()
    tx, as_of = simulate(args.n, args.seed)
    print(f"simulated {args.n:,} customers, {len(tx):,} transactions "
          f"in {time.perf_counter() - t0:.1f} s")
    p1, fit_s, fit_cpu, pred_s = ours(tx, as_of)
    print(f"crm_ml CLVModel.fit:   {fit_s:7.1f} s wall, {fit_cpu:6.1f} s CPU  "
          f"(predict 52 weeks, discounted: {pred_s:.1f} s wall)")
    print("  params: " + ", ".join(f"{k}={v:.4g}" for k, v in p1.items()))
    if args.skip_lifetimes:
        return
    p2, lt_s, lt_cpu = plain_lifetimes(tx, as_of)
    print(f"plain lifetimes:       {lt_s:7.1f} s wall, {lt_cpu:6.1f} s CPU")
    print("  params: " + ", ".join(f"{k}={v:.4g}" for k, v in p2.items()))
    diff = max(abs(p1[k] - p2[k]) / abs(p2[k]) for k in p2)
    print(f"ratio plain lifetimes / crm_ml: {lt_s / fit_s:.1f} (wall), {lt_cpu / fit_cpu:.1f} "
          f"(CPU); max relative parameter difference {diff:.1e}")


if __name__ == "__main__":
    main()
