"""Benchmark: crm_ml customer summary / rfm_table vs lifetimes' summary_data_from_transaction_data.

    python benchmarks/bench_rfm.py [--n-tx 10000000] [--n-customers 1000000]
                                   [--lifetimes-fraction 1.0] [--repeat 3]

Both libraries get the same transactions (customer_id, timestamp, amount). crm_ml is timed
with customer_id as a pandas categorical (its fast path, e.g. dictionary-encoded parquet) and
as plain strings; lifetimes gets plain strings (with a categorical customer_id its groupby
builds every customer x day combination and returns wrong results). With
``--lifetimes-fraction f < 1`` lifetimes runs on the first ``f`` share of the *customers* (all
their transactions) and its time is scaled up linearly by 1/f; the printout says so.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import pandas as pd


def make_transactions(n_tx: int, n_customers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:07d}" for i in range(n_customers)], dtype=object)
    codes = rng.integers(0, n_customers, n_tx)
    start = pd.Timestamp("2022-01-01").value
    ts = start + rng.integers(0, 3 * 365 * 86_400, n_tx) * 1_000_000_000
    return pd.DataFrame({
        "customer_id": pd.Categorical.from_codes(codes, categories=ids),
        "timestamp": pd.to_datetime(ts),
        "amount": np.round(rng.gamma(2.0, 30.0, n_tx), 2),
    })


def best_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n-tx", type=int, default=10_000_000)
    ap.add_argument("--n-customers", type=int, default=1_000_000)
    ap.add_argument("--lifetimes-fraction", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from lifetimes.utils import summary_data_from_transaction_data

    from crm_ml.features import customer_summary
    from crm_ml.rfm import rfm_table

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; python {platform.python_version()}")
    tx = make_transactions(args.n_tx, args.n_customers)
    as_of = "2024-12-31"
    print(f"data: {len(tx):,} transactions, {tx['customer_id'].nunique():,} customers")

    t_sum, ours = best_of(lambda: customer_summary(tx, as_of), args.repeat)
    t_rfm, _ = best_of(lambda: rfm_table(tx, as_of), args.repeat)
    tx_obj = tx.assign(customer_id=tx["customer_id"].astype(object))
    t_obj, _ = best_of(lambda: customer_summary(tx_obj, as_of), args.repeat)
    order = np.argsort(tx["customer_id"].cat.codes.to_numpy(), kind="stable")
    tx_grouped = tx_obj.iloc[order]  # string ids, rows grouped by customer (sorted export)
    t_grp, _ = best_of(lambda: customer_summary(tx_grouped, as_of), args.repeat)

    print(f"crm_ml customer_summary (categorical ids): {t_sum:6.2f} s (best of {args.repeat})")
    print(f"crm_ml rfm_table        (categorical ids): {t_rfm:6.2f} s (best of {args.repeat})")
    print(f"crm_ml customer_summary (string ids)     : {t_obj:6.2f} s (best of {args.repeat})")
    print(f"crm_ml customer_summary (string ids, rows grouped by customer): {t_grp:6.2f} s "
          f"(best of {args.repeat})")

    frac = args.lifetimes_fraction
    lt_tx = tx if frac >= 1 else tx[tx["customer_id"].cat.codes < int(args.n_customers * frac)]
    lt_tx = lt_tx.assign(customer_id=lt_tx["customer_id"].astype(object))
    t = time.perf_counter()
    ref = summary_data_from_transaction_data(lt_tx, "customer_id", "timestamp", "amount",
                                             observation_period_end=as_of, freq="D")
    t_lt = time.perf_counter() - t
    scaled = t_lt / frac if frac < 1 else t_lt
    note = (f" on {frac:.0%} of customers ({len(lt_tx):,} rows), scaled linearly to "
            f"{scaled:.1f} s" if frac < 1 else "")
    print(f"lifetimes summary_data_from_transaction_data: {t_lt:6.2f} s (one run){note}")

    sample = ref.index[:: max(len(ref) // 10_000, 1)]
    ours_s = ours.loc[sample.astype(str)]
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(ours_s[col].to_numpy(), ref.loc[sample, col].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=col)
    print(f"results equal on {len(sample):,} sampled customers: yes")
    print(f"speed-up customer_summary vs lifetimes: {scaled / t_sum:.1f}x; "
          f"rfm_table vs lifetimes: {scaled / t_rfm:.1f}x; "
          f"string ids vs lifetimes: {scaled / t_obj:.1f}x")


if __name__ == "__main__":
    main()
