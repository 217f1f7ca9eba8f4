"""What happened after each contact: conversion and revenue in the window after it.

A contact *converts* when the customer makes a purchase (a transaction with ``amount > 0``)
in ``(contact timestamp, contact timestamp + window_days]``; its *revenue* is the sum of those
purchase amounts (returns are not subtracted: a return in the window may belong to an order
from before the contact). Nothing after the window is read.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.data._coerce import to_id, to_object
from crm_ml.data._validate import check_amounts
from crm_ml.data.windows import utc_naive
from crm_ml.errors import DataValidationError

__all__ = ["conversions", "load_contacts", "load_transactions"]

#: Longest conversion window (a century): longer windows overflow pandas' timestamps.
MAX_WINDOW_DAYS = 36_500


def load_contacts(contacts: pd.DataFrame) -> pd.DataFrame:
    """Contacts in the canonical form (validated with ``standardize(kind="contacts")``)."""
    from crm_ml.data.standardize import standardize

    if not isinstance(contacts, pd.DataFrame):
        raise DataValidationError(
            f"contacts: expected a pandas DataFrame, got {type(contacts).__name__}",
            column=None, rule="DataFrame")
    return standardize(contacts, kind="contacts").reset_index(drop=True)


def load_transactions(tx: pd.DataFrame) -> pd.DataFrame:
    """Transactions with the three columns outcomes need, checked."""
    if not isinstance(tx, pd.DataFrame):
        raise DataValidationError(
            f"transactions: expected a pandas DataFrame, got {type(tx).__name__}",
            column=None, rule="DataFrame")
    missing = [c for c in ("customer_id", "timestamp", "amount") if c not in tx.columns]
    if missing:
        raise DataValidationError(
            f"transactions: missing required column(s) {missing}; got {list(tx.columns)[:20]} "
            "(use crm_ml.data.standardize)", column=missing[0], rule="required column")
    if not pd.api.types.is_datetime64_any_dtype(tx["timestamp"]):
        raise DataValidationError(
            f"transactions: column 'timestamp' must be datetime64 (use crm_ml.data.standardize),"
            f" got {tx['timestamp'].dtype}", column="timestamp", rule="datetime64")
    _check_amounts(tx["amount"])
    return tx


def _check_amounts(amount: pd.Series) -> None:
    """Amounts must be numbers (NaN: no purchase), finite and at most 1e12 in magnitude, as
    :func:`crm_ml.data.standardize` requires; inf or 1e308 would make an infinite lift."""
    if not pd.api.types.is_numeric_dtype(amount) or pd.api.types.is_bool_dtype(amount):
        raise DataValidationError(
            f"transactions: column 'amount' must be numeric (use crm_ml.data.standardize), "
            f"got {amount.dtype}", column="amount", rule="numeric")
    check_amounts(amount)


def conversions(contacts: pd.DataFrame, tx: pd.DataFrame, window_days: int = 30,
                as_of=None) -> pd.DataFrame:
    """Conversion and revenue of every contact in the window after it.

    Parameters
    ----------
    contacts : DataFrame
        Campaign contacts (the contacts contract: ``customer_id, campaign_id, timestamp,
        treated`` ...); validated with ``crm_ml.data.standardize(kind="contacts")``.
    tx : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``).
    window_days : int, default 30
        Length of the conversion window after each contact, in days (1 to
        :data:`MAX_WINDOW_DAYS`).
    as_of : date-like, optional
        The last day of observed transactions; default the day of the last transaction.
        A contact on or after the day after ``as_of`` is an error (nothing after it has
        been observed); a contact whose window runs past ``as_of`` gets ``complete = False``
        and a :class:`UserWarning` (its conversions are undercounted).

    Returns
    -------
    DataFrame
        The canonical contacts plus ``converted`` (0/1), ``revenue`` (float) and ``complete``
        (bool: the whole window lies within the observed data), in the contacts' row order.
        Customers without any transaction simply do not convert.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be a whole number of days from 1 to "
                         f"{MAX_WINDOW_DAYS:,}, got {window_days!r}")
    c = load_contacts(contacts)
    tx = load_transactions(tx)
    ts = utc_naive(tx["timestamp"])
    if as_of is None:
        if len(tx) == 0:
            raise DataValidationError("transactions: no rows, so no conversion can be read",
                                      column=None, rule="non-empty frame")
        end = ts.max().normalize() + pd.Timedelta(days=1)
    else:
        from crm_ml.data.windows import history_end

        end = history_end(as_of)
    late = (c["timestamp"] >= end).to_numpy()
    if late.any():
        pos = np.flatnonzero(late)
        shown = "; ".join(f"row {p}: {c['customer_id'].iat[p]!r} at {c['timestamp'].iat[p]}"
                          for p in pos[:5])
        raise DataValidationError(
            f"contacts.timestamp: {len(pos):,} contact(s) after the observed transactions "
            f"(which end {(end - pd.Timedelta(days=1)).date()}; rule 'contact within the "
            f"observed data'): nothing after them can be measured. First rows: {shown}",
            column="timestamp", rule="contact within the observed data", rows=list(pos[:5]))
    window = pd.Timedelta(days=int(window_days))
    complete = (c["timestamp"] + window < end).to_numpy()
    if not complete.all():
        warnings.warn(
            f"{int((~complete).sum()):,} contact(s) have a conversion window that runs past "
            f"the observed data (ends {(end - pd.Timedelta(days=1)).date()}); their "
            "conversions are undercounted (column 'complete' is False)", UserWarning,
            stacklevel=2)

    # ids as standardize writes them (the contacts' are): 12346.0 and " 12346" are "12346"
    cust = to_object(to_id(tx["customer_id"])[0]) if len(tx) else np.array([], dtype=object)
    amount = tx["amount"].to_numpy(dtype="float64")
    lo, hi = c["timestamp"].min(), c["timestamp"].max() + window
    keep = (amount > 0) & (ts > lo).to_numpy() & (ts <= hi).to_numpy()
    keep &= pd.Index(cust).isin(c["customer_id"].to_numpy())  # (np.isin on str is quadratic)
    buys = pd.DataFrame({"customer_id": cust[keep], "t": ts.to_numpy()[keep],
                         "amount": amount[keep]})
    left = pd.DataFrame({"row": np.arange(len(c)), "customer_id": c["customer_id"].to_numpy(),
                         "ct": c["timestamp"].to_numpy()})
    m = left.merge(buys, on="customer_id", how="inner")
    m = m[(m["t"] > m["ct"]) & (m["t"] <= m["ct"] + window)]
    revenue = np.bincount(m["row"].to_numpy(), weights=m["amount"].to_numpy(),
                          minlength=len(c))
    converted = np.zeros(len(c), dtype=np.int64)
    converted[m["row"].to_numpy()] = 1
    return c.assign(converted=converted, revenue=revenue, complete=complete)
