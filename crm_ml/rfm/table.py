"""``rfm_table``: recency, frequency, monetary per customer at an as_of date."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError
from crm_ml.features.summary import customer_summary

__all__ = ["rfm_table"]


def rfm_table(transactions: pd.DataFrame, as_of, *, frequency: str = "orders",
              monetary: str = "mean", time_unit: str = "D") -> pd.DataFrame:
    """One row per customer who bought on or before ``as_of``: R, F, M and more.

    Built on :func:`crm_ml.features.customer_summary` (one vectorised pass), so the
    lifetimes-style columns CLV needs come from the same pass.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; optional
        ``order_id``). Rows after the as_of day are ignored.
    as_of : date-like
        Last day of history.
    frequency : {"orders", "days"}, default "orders"
        What counts as a purchase occasion: distinct orders (``order_id``, or distinct
        purchase timestamps when there is no ``order_id``) or distinct purchase days.
    monetary : {"mean", "total"}, default "mean"
        ``"mean"``: net spend per occasion (``total_spend / frequency``); ``"total"``: net
        spend. Net spend is purchases minus returns on or before ``as_of``.
    time_unit : {"D", "W", "M", "Y"}, default "D"
        Unit of the lifetimes-style ``lt_recency`` and ``lt_T``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``:

        - ``recency_days``: days from the last purchase day to the as_of day (0 = bought on
          the as_of day);
        - ``frequency``: number of purchase occasions (see ``frequency``), at least 1;
        - ``monetary``: mean or total net spend (see ``monetary``);
        - ``tenure_days``: days from the first purchase day to the as_of day;
        - ``first_purchase``, ``last_purchase``, ``n_orders``, ``n_days``, ``total_spend``,
          ``return_spend``;
        - ``lt_frequency``, ``lt_recency``, ``lt_T``, ``lt_monetary_value``: the
          lifetimes-style summary (repeat purchase days, first-to-last and first-to-as_of in
          ``time_unit``, mean repeat-day spend) as used by BG/NBD and Gamma-Gamma.

        Customers with only returns (or no purchase by ``as_of``) have no row.
    """
    if frequency not in ("orders", "days"):
        raise DataValidationError(f"frequency: must be 'orders' or 'days', got {frequency!r}",
                                  column="frequency", rule="allowed value")
    if monetary not in ("mean", "total"):
        raise DataValidationError(f"monetary: must be 'mean' or 'total', got {monetary!r}",
                                  column="monetary", rule="allowed value")
    s = customer_summary(transactions, as_of, time_unit=time_unit, frequency_basis="days")
    occasions = s["n_orders"] if frequency == "orders" else s["n_days"]
    spend = s["total_spend"]
    money = spend / occasions.to_numpy() if monetary == "mean" else spend
    out = pd.DataFrame(
        {
            "recency_days": s["recency_days"],
            "frequency": occasions.astype(np.int64),
            "monetary": money.astype(np.float64),
            "tenure_days": s["tenure_days"],
            "first_purchase": s["first_purchase"],
            "last_purchase": s["last_purchase"],
            "n_orders": s["n_orders"],
            "n_days": s["n_days"],
            "total_spend": spend,
            "return_spend": s["return_spend"],
            "lt_frequency": s["frequency"],
            "lt_recency": s["recency"],
            "lt_T": s["T"],
            "lt_monetary_value": s["monetary_value"],
        },
        index=s.index,
    )
    out.attrs.update(s.attrs)
    out.attrs.update({"frequency": frequency, "monetary": monetary})
    return out
