"""The single-pass customer summary shared by RFM, CLV and churn features.

One vectorised pass over the transactions (integer customer codes, one sort of a packed
``(customer, purchase time)`` key and a few ``bincount`` reductions) yields both the RFM
columns and the lifetimes-style ``frequency / recency / T / monetary_value`` columns, so no
module needs to recompute them.

Policies
--------
* **History** is every row on or before the ``as_of`` *day* (see :mod:`crm_ml.data.windows`).
* **Purchases** are rows with ``amount > 0``. Only customers with at least one purchase on or
  before ``as_of`` get a row; customers with only returns (or zero amounts) are left out.
* **Returns** (``amount < 0``) are netted into ``total_spend`` (net spend) but are not
  purchase occasions and do not enter ``monetary_value`` (which stays a positive mean
  purchase size, as Gamma-Gamma needs). ``return_spend`` reports their absolute sum.
* **Occasions**: ``n_days`` counts distinct purchase days; ``n_orders`` counts distinct
  ``order_id`` values, or distinct purchase timestamps (microsecond resolution, coarser only
  for enormous ranges) when there is no ``order_id`` column; a row whose ``order_id`` is
  missing counts as the order of its timestamp.

Purchases, orders, purchase days and spend are counted by :mod:`crm_ml.features.facts`, the
same pass :func:`crm_ml.features.build` and :func:`crm_ml.forecast.sales_series` use.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.windows import as_of_day, utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.features.facts import NS_PER_DAY as _NS_PER_DAY
from crm_ml.features.facts import order_codes, purchase_facts  # noqa: F401 (order_codes: old home)

__all__ = ["customer_summary", "TIME_UNITS"]

#: Length of one ``time_unit`` in days ("M" is the mean Gregorian month).
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 30.4375, "Y": 365.25}

SUMMARY_COLUMNS = [
    "first_purchase", "last_purchase", "n_orders", "n_days", "total_spend", "return_spend",
    "recency_days", "tenure_days", "frequency", "recency", "T", "monetary_value",
]


def _check(transactions: pd.DataFrame) -> None:
    missing = [c for c in ("customer_id", "timestamp", "amount") if c not in transactions.columns]
    if missing:
        raise DataValidationError(
            f"transactions: missing required column(s) {missing}; expected customer_id, "
            "timestamp, amount (use crm_ml.data.standardize)",
            column=missing[0], rule="required column")
    if not pd.api.types.is_datetime64_any_dtype(transactions["timestamp"]):
        raise DataValidationError(
            f"timestamp: must be datetime64, got {transactions['timestamp'].dtype}",
            column="timestamp", rule="datetime dtype")
    if not pd.api.types.is_numeric_dtype(transactions["amount"]):
        raise DataValidationError(
            f"amount: must be numeric, got {transactions['amount'].dtype}",
            column="amount", rule="numeric dtype")


def customer_summary(transactions: pd.DataFrame, as_of, *, time_unit: str = "D",
                     frequency_basis: str = "days") -> pd.DataFrame:
    """One row per customer with a purchase on or before ``as_of``: RFM and lifetimes columns.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions: ``customer_id``, ``timestamp`` (datetime64, naive), ``amount``
        (negative = return); optional ``order_id``. A categorical ``customer_id`` is the fastest.
    as_of : date-like
        Last day of history; rows after that day are ignored.
    time_unit : {"D", "W", "M", "Y"}
        Unit of the lifetimes-style ``recency`` and ``T``: days, weeks (days/7), months
        (days/30.4375) or years (days/365.25).
    frequency_basis : {"days", "orders"}
        What a repeat purchase is for ``frequency`` and ``monetary_value``: another distinct
        purchase *day* (lifetimes semantics, the default) or another distinct *order*.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (order of first appearance; category order for categorical
        ids) with columns

        - ``first_purchase``, ``last_purchase``: timestamps of the first and last purchase;
        - ``n_orders``: distinct ``order_id`` (or distinct purchase timestamps);
        - ``n_days``: distinct purchase days;
        - ``total_spend``: net spend (purchases minus returns) up to ``as_of``;
        - ``return_spend``: absolute value of returns up to ``as_of``;
        - ``recency_days``: ``as_of`` day minus last purchase day;
        - ``tenure_days``: ``as_of`` day minus first purchase day;
        - ``frequency``: repeat purchase occasions (``n_days - 1`` or ``n_orders - 1``);
        - ``recency``: last minus first purchase day, in ``time_unit``;
        - ``T``: ``as_of`` day minus first purchase day, in ``time_unit``;
        - ``monetary_value``: mean spend of the repeat occasions (first occasion excluded),
          0 when ``frequency`` is 0.

        With ``frequency_basis="days"`` and purchases only, ``frequency``, ``recency``, ``T``
        and ``monetary_value`` equal ``lifetimes.utils.summary_data_from_transaction_data``
        (``freq="D"``, ``freq_multiplier`` = days per ``time_unit``,
        ``observation_period_end=as_of``).

    Raises
    ------
    DataValidationError
        Missing columns, wrong dtypes, missing customer ids or timestamps, unknown options.
    """
    if time_unit not in TIME_UNITS:
        raise DataValidationError(
            f"time_unit: must be one of {sorted(TIME_UNITS)}, got {time_unit!r}",
            column="time_unit", rule="allowed value")
    if frequency_basis not in ("days", "orders"):
        raise DataValidationError(
            f"frequency_basis: must be 'days' or 'orders', got {frequency_basis!r}",
            column="frequency_basis", rule="allowed value")
    _check(transactions)
    day0 = as_of_day(as_of)

    ts_all = utc_naive(transactions["timestamp"]).to_numpy()
    if ts_all.dtype != "datetime64[ns]":
        ts_all = ts_all.astype("datetime64[ns]")
    ts_all = ts_all.view(np.int64)
    amount_all = transactions["amount"].to_numpy(dtype=np.float64)
    if np.isnan(amount_all).any():
        bad = transactions.index[np.isnan(amount_all)][:5].tolist()
        raise DataValidationError(f"amount: missing values are not allowed (rows {bad})",
                                  column="amount", rule="not null", rows=bad)
    nat = np.iinfo(np.int64).min
    if (ts_all == nat).any():
        bad = transactions.index[ts_all == nat][:5].tolist()
        raise DataValidationError(f"timestamp: missing values are not allowed (rows {bad})",
                                  column="timestamp", rule="not null", rows=bad)

    has_orders = "order_id" in transactions.columns
    f = purchase_facts(transactions["customer_id"], ts_all, amount_all, day0,
                       transactions["order_id"] if has_orders else None)
    code, ts, amount, ocode = f.code, f.ts, f.amount, f.ocode
    base, unit_ns, _ = f.grid
    per_day = _NS_PER_DAY // unit_ns
    n_cust, keep, first_u = len(f.ids), f.keep, f.first_u
    n_days, n_orders, gross, returns = f.n_days, f.n_orders, f.gross, f.returns
    if isinstance(transactions["customer_id"].dtype, pd.CategoricalDtype):
        uniques = f.ids.astype(str)
    else:
        uniques = pd.Index(np.asarray(f.ids).astype(str) if len(f.ids) else f.ids)

    # Spend of the first occasion, excluded from monetary_value (lifetimes semantics).
    if frequency_basis == "days":
        row_day = (ts - base) // _NS_PER_DAY
        first_mask = row_day == (first_u // per_day)[code]
        n_occ = n_days
    else:
        row_u = (ts - base) // unit_ns
        at_first = row_u == first_u[code]
        if has_orders:
            first_order = np.full(n_cust, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(first_order, code[at_first], ocode[at_first])
            first_mask = ocode == first_order[code]
        else:
            first_mask = at_first
        n_occ = n_orders
    first_spend = np.bincount(code, weights=np.where(first_mask, amount, 0.0), minlength=n_cust)
    del first_mask

    idx = uniques[keep] if n_cust else pd.Index([], name="customer_id", dtype=object)
    first_ts = f.first_ts[keep]
    last_ts = f.last_ts[keep]
    n_days, n_orders, n_occ = n_days[keep], n_orders[keep], n_occ[keep]
    gross, returns, first_spend = gross[keep], returns[keep], first_spend[keep]

    first_day_ns = (first_ts // _NS_PER_DAY) * _NS_PER_DAY
    last_day_ns = (last_ts // _NS_PER_DAY) * _NS_PER_DAY
    recency_days = (day0.value - last_day_ns) // _NS_PER_DAY
    tenure_days = (day0.value - first_day_ns) // _NS_PER_DAY
    unit = TIME_UNITS[time_unit]
    freq = (n_occ - 1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary_value = np.where(freq > 0, (gross - first_spend) / np.maximum(freq, 1), 0.0)

    out = pd.DataFrame(
        {
            "first_purchase": pd.to_datetime(first_ts, unit="ns"),
            "last_purchase": pd.to_datetime(last_ts, unit="ns"),
            "n_orders": n_orders.astype(np.int64),
            "n_days": n_days.astype(np.int64),
            "total_spend": gross + returns,
            "return_spend": -returns + 0.0,
            "recency_days": recency_days.astype(np.int64),
            "tenure_days": tenure_days.astype(np.int64),
            "frequency": freq,
            "recency": (tenure_days - recency_days) / unit,
            "T": tenure_days / unit,
            "monetary_value": monetary_value,
        },
        index=idx,
    )
    out.index.name = "customer_id"
    out.attrs.update({"as_of": str(day0.date()), "time_unit": time_unit,
                      "frequency_basis": frequency_basis})
    return out
