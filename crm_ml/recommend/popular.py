"""Recent popularity: recency-weighted counts of distinct buyers, overall and per segment."""

from __future__ import annotations

import numpy as np
import pandas as pd


def buyer_weights(last_bought_days: np.ndarray, as_of_days: int,
                  half_life_days: float | None) -> np.ndarray:
    """Weight of one buyer of a product: ``0.5 ** (days since their last purchase of it /
    half_life_days)`` (1 for every buyer without a half-life)."""
    if half_life_days is None:
        return np.ones(len(last_bought_days), dtype=np.float64)
    age = np.clip(as_of_days + 1 - np.asarray(last_bought_days, dtype=np.float64), 0, None)
    return np.power(0.5, age / float(half_life_days))


def popularity(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, n_products: int,
               groups: np.ndarray | None = None, n_groups: int = 0) -> np.ndarray:
    """Sum of buyer weights per product (``groups`` given: one row per group).

    Parameters
    ----------
    rows, cols : ndarray of int
        Customer and product code of each (customer, product) pair (one entry per pair).
    weights : ndarray of float
        The pair's buyer weight (:func:`buyer_weights`).
    n_products : int
    groups : ndarray of int, optional
        Group code of each pair's customer (-1: no group, left out).
    n_groups : int

    Returns
    -------
    ndarray
        ``(n_products,)`` or ``(n_groups, n_products)``.
    """
    if groups is None:
        return np.bincount(cols, weights=weights, minlength=n_products).astype(np.float64)
    keep = groups >= 0
    flat = groups[keep].astype(np.int64) * n_products + cols[keep]
    out = np.bincount(flat, weights=weights[keep], minlength=n_groups * n_products)
    return out.reshape(n_groups, n_products).astype(np.float64)


def segment_table(customer_ids: pd.Index, customers: pd.DataFrame | None,
                  segment_column: str | None) -> pd.Series:
    """The segment of each customer in ``customer_ids`` (NaN when unknown)."""
    if customers is None or segment_column is None:
        return pd.Series(np.nan, index=customer_ids, dtype=object)
    from crm_ml.errors import DataValidationError

    frame = customers
    if "customer_id" in frame.columns:
        frame = frame.set_index("customer_id")
    if segment_column not in frame.columns:
        raise DataValidationError(
            f"{segment_column}: segment_column is not a column of customers (it has "
            f"{sorted(map(str, frame.columns))})", column=segment_column,
            rule="required column")
    seg = frame[segment_column]
    repeated = seg.index.duplicated(keep=False)
    if repeated.any():
        both = pd.DataFrame({"id": seg.index[repeated], "s": seg.to_numpy()[repeated]})
        clash = both.groupby("id", sort=False, dropna=False)["s"].nunique(dropna=False) > 1
        if clash.any():
            ids = set(clash.index[clash])
            rows = [int(i) for i in np.flatnonzero(seg.index.isin(ids))[:5]]
            raise DataValidationError(
                f"customer_id: {len(ids)} customer(s) have two or more values of "
                f"{segment_column} in customers (rows {rows}; rule 'one segment per "
                "customer'): drop the repeated rows", column="customer_id",
                rule="one segment per customer", rows=rows)
    seg = seg[~seg.index.duplicated(keep="last")]
    seg = seg.where(seg.notna(), None).astype(object)
    return seg.reindex(customer_ids)
