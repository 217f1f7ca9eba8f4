"""Benchmark: how fast make_crm_dataset generates data, and how much.

Run: python benchmarks/bench_datasets.py --n-customers 1000000 [--no-campaigns]
Target (issue 2): about 10 million transactions in under 60 s on the 2-core machine.
"""

from __future__ import annotations

import argparse
import resource
import time

from crm_ml.datasets import make_crm_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-campaigns", action="store_true",
                        help="without the built-in campaigns (campaigns=False)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    ds = make_crm_dataset(n_customers=args.n_customers, seed=args.seed,
                          campaigns=not args.no_campaigns)
    elapsed = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(ds)
    print(f"customers={len(ds.customers):,} transactions={len(ds.transactions):,} "
          f"interactions={len(ds.interactions):,}")
    print(f"time={elapsed:.1f}s  transactions/s={len(ds.transactions) / elapsed:,.0f}  "
          f"peak_rss={peak_gb:.1f} GiB")


if __name__ == "__main__":
    main()
