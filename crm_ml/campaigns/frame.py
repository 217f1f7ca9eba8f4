"""``uplift_frame``: features before a campaign, who was treated and who converted.

The features are :func:`crm_ml.features.build` at the day *before* the campaign's first
contact, so nothing from the contact day on can leak into them; the outcome is the
conversion in the window after each customer's contact (:func:`crm_ml.campaigns.conversions`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.campaigns.outcomes import conversions, load_contacts
from crm_ml.errors import DataValidationError

__all__ = ["uplift_frame"]


def uplift_frame(ds_or_contacts, tx: pd.DataFrame | None = None,
                 interactions: pd.DataFrame | None = None,
                 customers: pd.DataFrame | None = None, campaign_id=None,
                 window_days: int = 30):
    """Features, treatment and outcome of one campaign, ready for an uplift model.

    Parameters
    ----------
    ds_or_contacts : CRMDataset or DataFrame
        The built-in data (its ``campaigns``, ``transactions``, ``interactions`` and
        ``customers`` are used; the campaign defaults to its main, randomised one), or a
        contacts frame in the contacts contract (``customer_id, campaign_id, timestamp,
        treated``).
    tx : DataFrame, optional
        Canonical transactions; required with a contacts frame (ignored with a dataset).
    interactions, customers : DataFrame, optional
        Passed to :func:`crm_ml.features.build` (ignored with a dataset).
    campaign_id : str, optional
        Which campaign; needed when the contacts hold several (a dataset defaults to its main
        campaign).
    window_days : int, default 30
        Conversion window after each contact, in days.

    Returns
    -------
    X : DataFrame
        One row per contacted customer (index ``customer_id``, in contact order): the
        features at the day before the campaign's first contact. A contacted customer without
        any purchase before then has NaN features.
    treated : Series
        1 = contacted, 0 = held-out control (int, same index).
    y : Series
        1 = a purchase in ``(contact, contact + window_days]`` (int, same index).

    Raises
    ------
    crm_ml.DataValidationError
        Invalid contacts (see ``standardize(kind="contacts")``), an unknown campaign, several
        campaigns and no ``campaign_id``, or a campaign without both treated and control
        customers (uplift cannot be learnt from it).
    """
    from crm_ml.features import build

    if hasattr(ds_or_contacts, "campaigns") and hasattr(ds_or_contacts, "transactions"):
        ds = ds_or_contacts
        contacts, tx = ds.campaigns, ds.transactions
        interactions, customers = ds.interactions, ds.customers
        if campaign_id is None:
            campaign_id = (getattr(ds, "meta", None) or {}).get("campaigns", {}).get(
                "main_campaign")
    else:
        contacts = ds_or_contacts
        if tx is None:
            raise TypeError("uplift_frame(contacts, tx, ...): the transactions are required "
                            "with a contacts frame")
    c = load_contacts(contacts)
    ids = pd.unique(c["campaign_id"])
    if campaign_id is None:
        if len(ids) != 1:
            raise DataValidationError(
                f"contacts hold {len(ids)} campaigns ({', '.join(map(str, ids[:10]))}); choose "
                "one with campaign_id=", column="campaign_id", rule="one campaign")
        campaign_id = ids[0]
    campaign_id = str(campaign_id)
    if campaign_id not in set(ids):
        raise DataValidationError(
            f"campaign_id {campaign_id!r} is not in the contacts; campaigns: "
            f"{', '.join(map(str, ids[:10]))}", column="campaign_id", rule="known campaign")
    c = c[c["campaign_id"] == campaign_id].reset_index(drop=True)
    arms = set(c["treated"].unique())
    if arms != {0, 1}:
        missing = "control" if 1 in arms else "treated"
        raise DataValidationError(
            f"campaign {campaign_id!r} has no {missing} customers, so its uplift cannot be "
            "learnt (rule 'treated and control')", column="treated",
            rule="treated and control")
    out = conversions(c, tx, window_days=window_days)
    as_of = c["timestamp"].min().normalize() - pd.Timedelta(days=1)
    features = build(tx, as_of, interactions=interactions, customers=customers)
    index = pd.Index(c["customer_id"].to_numpy(), name="customer_id")
    X = features.reindex(index)
    treated = pd.Series(out["treated"].to_numpy(dtype=np.int64), index=index, name="treated")
    y = pd.Series(out["converted"].to_numpy(dtype=np.int64), index=index, name="converted")
    return X, treated, y
