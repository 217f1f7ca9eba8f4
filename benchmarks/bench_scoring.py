"""Benchmark: batch scoring memory and time, and one-customer latency of the predict functions.

Run: python benchmarks/bench_scoring.py --n-customers 1000000
Targets (issue 8): scoring 1M customers / ~10M transactions stays under 8 GB peak RSS and takes
<= 3 minutes; predict_churn for one customer with the model loaded has p50 <= 10 ms.

Models are trained by the module pipelines on a 20,000-customer built-in dataset in a
throwaway MLflow store; the big dataset is written to Parquet and scored by `crm-ml score` in
a child process whose peak RSS is read from the OS. For latency, the peer is the bare model
call (ChurnModel.predict_proba on the same row) so the ratio shows the serving overhead.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _train(workdir: Path) -> None:
    from crm_ml.datasets import make_crm_dataset
    from crm_ml.demo import run_steps

    ds = make_crm_dataset(n_customers=20_000, seed=1)
    run_steps(ds, ("rfm", "churn", "clv"), output_dir=workdir / "train_out",
              models_dir=workdir / "models")


def _latency(n_calls: int = 300) -> dict:
    from crm_ml.datasets import make_crm_dataset
    from crm_ml.features import build
    from crm_ml.serve import get_model, predict_churn

    ds = make_crm_dataset(n_customers=500, seed=2)
    X = build(ds.transactions, ds.as_of, ds.interactions, ds.customers)
    record = X.iloc[[0]].reset_index().to_dict("records")[0]
    predict_churn([record])  # load and warm up
    model = get_model("crm-churn").unwrap_python_model().model
    row = X.iloc[[0]]
    times, bare = [], []
    for _ in range(n_calls):
        t = time.perf_counter()
        predict_churn([record])
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        model.predict_proba(row)
        bare.append(time.perf_counter() - t)
    p50, p95 = np.percentile(times, [50, 95]) * 1000
    b50 = np.percentile(bare, 50) * 1000
    return {"p50_ms": p50, "p95_ms": p95, "bare_p50_ms": b50, "ratio": p50 / b50}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-customers", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None, help="keep files here (default: temp dir)")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="crm_bench_scoring_"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{workdir / 'mlflow.db'}"
    os.environ["CRM_ML_PROGRESS"] = "0"
    os.chdir(workdir)

    t = time.perf_counter()
    _train(workdir)
    print(f"trained models on 20,000 customers in {time.perf_counter() - t:.0f} s")

    from crm_ml.datasets import make_crm_dataset

    t = time.perf_counter()
    ds = make_crm_dataset(n_customers=args.n_customers, seed=0)
    for name in ("transactions", "interactions", "customers"):
        getattr(ds, name).to_parquet(workdir / f"{name}.parquet", index=False)
    n_tx = len(ds.transactions)
    del ds
    print(f"wrote {args.n_customers:,} customers / {n_tx:,} transactions in "
          f"{time.perf_counter() - t:.0f} s")

    cmd = [str(Path(sys.executable).with_name("crm-ml")), "--quiet", "score",
           "--transactions", "transactions.parquet", "--interactions", "interactions.parquet",
           "--customers", "customers.parquet", "--as-of", "2024-12-31",
           "--output", "scores.parquet"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2
    print(f"scoring: {elapsed:.0f} s, peak RSS {peak_gb:.1f} GiB "
          f"(targets: <= 180 s, < 8 GiB)")

    lat = _latency()
    print(f"predict_churn one customer: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms; "
          f"bare ChurnModel.predict_proba p50 {lat['bare_p50_ms']:.1f} ms "
          f"(serving overhead x{lat['ratio']:.1f}); target p50 <= 10 ms")


if __name__ == "__main__":
    main()
