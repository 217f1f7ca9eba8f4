"""Recorded outputs of the customer-fact functions on the built-in data (issue #17).

``build``, ``customer_summary``, ``rfm_table`` and ``sales_series`` were rewritten to take
orders, recency and spend from one place (:mod:`crm_ml.features.facts`). Their outputs must
not change: :func:`outputs` computes them on several seeds and data variants and
:func:`digest` reduces each to a SHA-256 of its index, columns, dtypes and values.
``tests/data/facts_golden.json`` holds the digests recorded with the code *before* the
rewrite (commit fb8dd8a)::

    PYTHONPATH=<checkout of fb8dd8a> python tests/facts_golden.py tests/data/facts_golden.json

Do not regenerate it to make a failing test pass: a changed digest is a changed result. The
data is made with ``campaigns=False``: the campaigns added later (issue #21) change the input
transactions, not the functions under test.
"""

from __future__ import annotations

import hashlib
import json
import sys
import warnings

import numpy as np
import pandas as pd

SEEDS = (0, 1, 2)
N_CUSTOMERS = 400


def variants(seed: int) -> dict[str, pd.DataFrame]:
    """The built-in transactions and harder versions of them."""
    from crm_ml.datasets import make_crm_dataset

    tx = make_crm_dataset(n_customers=N_CUSTOMERS, seed=seed, campaigns=False).transactions
    rng = np.random.default_rng(seed)
    out = {"as_is": tx, "no_order_id": tx.drop(columns="order_id")}
    gaps = tx.assign(order_id=tx["order_id"].map(lambda v: f"O{v}").astype(object))
    gaps.loc[rng.random(len(tx)) < 0.2, "order_id"] = None
    out["order_id_gaps"] = gaps
    odd = tx.copy()
    odd.loc[rng.random(len(tx)) < 0.05, "amount"] = 0.0
    flip = rng.random(len(tx)) < 0.08
    odd.loc[flip, "amount"] = -odd.loc[flip, "amount"]
    out["returns_zero"] = odd
    out["returns_zero_no_order_id"] = odd.drop(columns="order_id")
    out["tz"] = tx.assign(timestamp=tx["timestamp"].dt.tz_localize("UTC")
                          .dt.tz_convert("America/New_York"))
    out["tz_no_order_id"] = out["tz"].drop(columns="order_id")
    out["categorical_ids"] = tx.assign(customer_id=tx["customer_id"].astype("category"))
    # same-second purchases of one customer without order_id: two orders at one timestamp
    dup = tx.drop(columns="order_id")
    out["same_second"] = pd.concat([dup, dup.iloc[::7]], ignore_index=True)
    return out


def outputs(seed: int) -> dict[str, object]:
    """name -> result of every customer-fact function on every variant."""
    from crm_ml.datasets import make_crm_dataset
    from crm_ml.features import build, customer_summary
    from crm_ml.forecast import sales_series
    from crm_ml.rfm import rfm_table

    ds = make_crm_dataset(n_customers=N_CUSTOMERS, seed=seed, campaigns=False)
    res: dict[str, object] = {}
    for name, tx in variants(seed).items():
        for as_of in (ds.as_of, pd.Timestamp("2024-06-15")):
            tag = f"{name}@{as_of.date()}"
            res[f"build/{tag}"] = build(tx, as_of)
            res[f"summary/{tag}"] = customer_summary(tx, as_of)
            res[f"summary_W_orders/{tag}"] = customer_summary(tx, as_of, time_unit="W",
                                                              frequency_basis="orders")
            res[f"rfm/{tag}"] = rfm_table(tx, as_of)
            res[f"rfm_days_total/{tag}"] = rfm_table(tx, as_of, frequency="days",
                                                     monetary="total")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for value in ("orders", "revenue"):
                    res[f"series_{value}/{tag}"] = sales_series(tx, "M", value=value,
                                                                as_of=as_of)
                    res[f"series_{value}_W_region/{tag}"] = sales_series(
                        tx, "W", by="region", value=value, as_of=as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res["build_full/as_is"] = build(ds.transactions, ds.as_of,
                                        interactions=ds.interactions, customers=ds.customers)
    return res


def _bytes(values) -> bytes:
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "USO":
        return "\x1f".join(map(repr, arr.tolist())).encode()
    return np.ascontiguousarray(arr).tobytes()


def digest(obj) -> str:
    """SHA-256 of a Series/DataFrame: index, column names, dtypes and values, bit for bit."""
    h = hashlib.sha256()
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    h.update(repr(type(obj).__name__).encode())
    h.update(repr(getattr(obj, "name", None)).encode())
    h.update(repr(list(frame.columns)).encode() + repr(list(map(str, frame.dtypes))).encode())
    h.update(repr(frame.index.names).encode() + str(frame.index.dtype).encode())
    h.update(_bytes(frame.index.to_numpy()))
    for col in frame.columns:
        s = frame[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            h.update(_bytes(s.astype(object).to_numpy()))
        else:
            h.update(_bytes(s.to_numpy()))
    return h.hexdigest()


def record() -> dict[str, str]:
    return {f"{seed}/{name}": digest(v) for seed in SEEDS for name, v in outputs(seed).items()}


if __name__ == "__main__":
    with open(sys.argv[1], "w") as fh:
        json.dump(record(), fh, indent=0, sort_keys=True)
        fh.write("\n")
