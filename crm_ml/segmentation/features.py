"""Behavioural features for segmentation, from the shared single-pass summary."""

from __future__ import annotations

import pandas as pd

from crm_ml.features.summary import customer_summary

__all__ = ["segmentation_features", "RATE_PRIOR_PURCHASES", "RATE_PRIOR_DAYS"]

#: Shrinkage of ``purchase_rate`` towards a low rate for customers with little history:
#: half a purchase and 90 days are added to the observed repeat purchases and active span.
RATE_PRIOR_PURCHASES = 0.5
RATE_PRIOR_DAYS = 90.0
_MONTH = 30.4375


def segmentation_features(transactions: pd.DataFrame, as_of) -> pd.DataFrame:
    """Per-customer behaviour at ``as_of`` for :class:`~crm_ml.segmentation.Segmenter`.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions.
    as_of : date-like
        Last day of history.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``:

        - ``purchase_rate``: repeat purchase days per month *while active* (first to last
          purchase), shrunk for short histories:
          ``(repeat_days + 0.5) / (active_days + 90) * 30.4375``. Unlike orders per month of
          tenure, it does not mix up "buys rarely" with "stopped buying";
        - ``monetary``: mean net spend per order;
        - ``frequency``: number of orders; ``recency_days``; ``tenure_days``;
        - ``total_spend``: net spend (used for revenue shares in profiles).
    """
    s = customer_summary(transactions, as_of)
    active_days = s["tenure_days"] - s["recency_days"]
    return pd.DataFrame({
        "purchase_rate": (s["frequency"] + RATE_PRIOR_PURCHASES)
        / (active_days + RATE_PRIOR_DAYS) * _MONTH,
        "monetary": s["total_spend"] / s["n_orders"],
        "frequency": s["n_orders"],
        "recency_days": s["recency_days"],
        "tenure_days": s["tenure_days"],
        "total_spend": s["total_spend"],
    }, index=s.index)
