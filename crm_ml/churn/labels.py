"""Churn labels: who bought before as_of and did not buy again within the horizon."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.data.windows import LabelWindow, future, history, utc_naive
from crm_ml.errors import DataValidationError

__all__ = ["make_labels"]


def _refuse_missing(transactions: pd.DataFrame, column: str, missing: pd.Series) -> None:
    if missing.any():
        rows = transactions.index[missing.to_numpy()][:5].tolist()
        raise DataValidationError(
            f"transactions: {column} is missing in {int(missing.sum())} row(s) up to the end "
            f"of the label window (rows {rows})", column=column, rule="not null", rows=rows)


def make_labels(transactions: pd.DataFrame, as_of, horizon_days: int = 90) -> pd.Series:
    """Label customers active before ``as_of``: 1 = no purchase in (as_of, as_of + horizon].

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``). A purchase is a
        row with ``amount > 0``; returns do not count as activity.
    as_of : date-like
        Snapshot day; customers with a purchase on or before this day get a label.
    horizon_days : int, default 90
        Length of the label window: the ``horizon_days`` days after the as_of day
        (:class:`crm_ml.data.windows.LabelWindow`).

    Returns
    -------
    Series
        ``churned`` (int 0/1) indexed by ``customer_id`` (same customers as
        :func:`crm_ml.features.build` at the same as_of), sorted by id.

    Warns
    -----
    UserWarning
        When the transactions end before the label window does: customers would be labelled
        churned only because the data stop; or when nobody has a purchase by ``as_of``.

    Notes
    -----
    Subscription data with an explicit churn flag do not need this: pass your own ``y``
    (0/1 Series indexed by customer_id) to :meth:`ChurnModel.fit`.
    """
    for col in ("customer_id", "timestamp", "amount"):
        if col not in transactions.columns:
            raise DataValidationError(f"transactions: missing required column '{col}'",
                                      column=col, rule="required column")
    window = LabelWindow.after(as_of, horizon_days)
    ts = utc_naive(transactions["timestamp"])
    # a row that cannot be placed in time, or a sale of unknown amount before the window
    # ends, could decide a label either way: refuse rather than guess
    _refuse_missing(transactions, "timestamp", ts.isna())
    _refuse_missing(transactions, "amount", (ts < window.end) & transactions["amount"].isna())
    buys = transactions.loc[transactions["amount"] > 0]
    active = pd.Index(history(buys, as_of)["customer_id"].unique(), name="customer_id")
    if len(buys) and not window.covered_by(buys["timestamp"].max()) \
            and not window.covered_by(transactions["timestamp"].max()):
        warnings.warn(
            f"make_labels: the data end on {transactions['timestamp'].max().date()} but the "
            f"label window runs to {(window.end - pd.Timedelta(days=1)).date()}; customers "
            "may be labelled churned only because the data stop", UserWarning, stacklevel=2)
    if len(active) == 0:
        warnings.warn(f"make_labels: no customer has a purchase on or before {window.as_of.date()}"
                      ": no labels", UserWarning, stacklevel=2)
    returned = future(buys, as_of, horizon_days)["customer_id"].unique()
    y = pd.Series(np.where(active.isin(returned), 0, 1).astype(np.int64), index=active,
                  name="churned")
    return y.sort_index()
