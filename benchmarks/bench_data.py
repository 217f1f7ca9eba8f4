"""Benchmark crm_ml.data.standardize on N transactions (typed input and CSV-like string input)."""
import argparse
import time
import warnings

import numpy as np
import pandas as pd
import pandera.pandas  # noqa: F401  (import cost ~1 s, paid once per process; not timed)

from crm_ml.data import standardize

p = argparse.ArgumentParser()
p.add_argument("--n", type=int, default=10_000_000)
p.add_argument("--strings", action="store_true", help="also time CSV-like string input")
a = p.parse_args()
rng = np.random.default_rng(0)
n = a.n
ts = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 86400, n), unit="s")
typed = pd.DataFrame({
    "CustomerID": rng.integers(10_000, 1_010_000, n).astype("float64"),
    "InvoiceDate": ts,
    "Sales": rng.gamma(2.0, 30.0, n).round(2) * np.where(rng.random(n) < 0.02, -1, 1),
    "InvoiceNo": rng.integers(0, n // 3, n),
})
t, c = time.perf_counter(), time.process_time()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    out = standardize(typed, customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales",
                      order_id="InvoiceNo", drop_returns=True)
print(f"typed input  n={n:,}: {time.perf_counter() - t:.1f} s wall, {time.process_time() - c:.1f} s CPU  rows_out={len(out):,}")
if a.strings:
    del out
    raw = pd.DataFrame({
        "CustomerID": typed["CustomerID"].astype("int64").astype(str),
        "InvoiceDate": typed["InvoiceDate"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        "Sales": typed["Sales"],
    })
    del typed
    t, c = time.perf_counter(), time.process_time()
    out = standardize(raw, customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales")
    print(f"string input n={n:,}: {time.perf_counter() - t:.1f} s wall, {time.process_time() - c:.1f} s CPU")
