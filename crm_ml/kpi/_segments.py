"""Segments of the KPI table: a customer's value of the ``by`` column, small ones pooled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError
from crm_ml.kpi import definitions as defs
from crm_ml.kpi._data import require_columns

ALL = "all"


def segments(past: pd.DataFrame, customers, by) -> pd.Series | None:
    """customer_id -> segment label (str), or None without ``by``."""
    if by is None:
        return None
    if not isinstance(by, str):
        raise DataValidationError(f"by: must be a column name (str), got {type(by).__name__}",
                                  column="by", rule="column name")
    if by in defs.DEFINITIONS or by.startswith("csat_"):
        raise DataValidationError(f"{by}: `by` names a column of the KPI table itself; rename "
                                  "the segment column", column=by, rule="by is not a KPI name")
    if customers is not None:
        require_columns(customers, ("customer_id",), "customers")
    if customers is not None and by in customers.columns:
        dup = customers["customer_id"].duplicated(keep=False).to_numpy()
        if dup.any():
            rows = customers.index[dup][:5].tolist()
            raise DataValidationError(f"customer_id: {int(dup.sum())} customers rows repeat a "
                                      f"customer_id, so their {by!r} is ambiguous (rows {rows})",
                                      column="customer_id", rule="unique", rows=rows)
        return pd.Series(customers[by].astype("string").fillna("unknown").to_numpy(),
                         index=customers["customer_id"].to_numpy())
    if by in past.columns:  # a transaction column: the value on the customer's first row
        first = past.sort_values("timestamp", kind="stable").drop_duplicates("customer_id")
        return pd.Series(first[by].astype("string").fillna("unknown").to_numpy(),
                         index=first["customer_id"].to_numpy())
    where = "customers or transactions" if customers is not None else \
        "transactions (and no customers table was given)"
    raise DataValidationError(f"{by}: column named in `by` is missing from {where}",
                              column=str(by), rule="by column exists")


#: The segment that pools segments of fewer than ``min_customers`` customers.
OTHER = "other"


def pool_small_segments(seg: pd.Series | None, past: pd.DataFrame,
                         k: int) -> tuple[pd.Series | None, list[str]]:
    """Segments with fewer than ``k`` purchasing customers merged into :data:`OTHER`, so a
    segment name (a company, a tiny town) never labels a row about a handful of people."""
    if seg is None or k <= 1:
        return seg, []
    buyers = past.loc[past["amount"] > 0, "customer_id"].unique()
    sizes = seg.reindex(buyers).fillna("unknown").value_counts()
    small = sorted(str(v) for v in sizes.index[sizes < k]) + \
        sorted(str(v) for v in set(seg) - set(sizes.index))
    return seg, small


def label(ids: pd.Series, seg: pd.Series | None, pooled=()) -> np.ndarray:
    """The segment of each customer id (``unknown`` when unmapped, pooled ones ``other``)."""
    if seg is None:
        return np.full(len(ids), ALL, dtype=object)
    return pooled_labels(ids.map(seg).astype("string").fillna("unknown"), pooled)


def pooled_labels(labels: pd.Series, pooled) -> np.ndarray:
    labels = labels.astype("string").fillna("unknown")
    if len(pooled):
        labels = labels.where(~labels.isin(list(pooled)), OTHER)
    return labels.to_numpy(dtype=object)
