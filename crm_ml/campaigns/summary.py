"""``campaign_summary``: what each campaign did, measured against its held-out control group.

Definitions (also in ``result.attrs["definitions"]``):

- *contacted*: treated rows (``treated == 1``); *control*: held-out rows (``treated == 0``);
- *open rate*, *click rate*: mean of ``opened`` / ``clicked`` over treated rows where known;
- *conversion*: a purchase (``amount > 0``) in ``(contact, contact + window_days]``;
  *revenue*: the sum of those purchase amounts (0 without a purchase);
- *conversion lift*: conversion rate treated - control, with Newcombe's hybrid score 95 %
  interval (method 10 of Newcombe 1998: Wilson intervals of each rate combined);
- *revenue lift*: revenue per treated customer - per control customer, with a Welch 95 %
  interval (unequal variances, Welch-Satterthwaite degrees of freedom);
- *incremental conversions / revenue*: lift x contacted;
- *cost*: the sum of ``cost`` over the campaign's rows; *ROI*:
  ``(incremental revenue x margin - cost) / cost`` (``margin`` is the share of revenue that
  is profit; 1.0 = revenue itself).

A campaign without a control group cannot be measured: its lifts, intervals, incremental
numbers and ROI are NaN and its ``note`` says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from crm_ml.campaigns.outcomes import conversions

__all__ = ["campaign_summary", "newcombe_interval", "welch_interval"]

NO_CONTROL = "no control group: lift cannot be measured"
Z95 = float(stats.norm.ppf(0.975))

COLUMNS = ["first_contact", "contacted", "control", "open_rate", "click_rate",
           "conversion_treated", "conversion_control", "conversion_lift",
           "conversion_lift_lower", "conversion_lift_upper", "revenue_per_treated",
           "revenue_per_control", "revenue_lift", "revenue_lift_lower", "revenue_lift_upper",
           "incremental_conversions", "incremental_revenue", "cost", "roi", "note"]

DEFINITIONS = {
    "contacted": "customers sent the campaign (treated = 1)",
    "control": "customers held out at random (treated = 0)",
    "open_rate": "share of contacted customers who opened (where known)",
    "click_rate": "share of contacted customers who clicked (where known)",
    "conversion": "a purchase (amount > 0) in (contact, contact + window_days]",
    "revenue": "sum of purchase amounts in the window (0 without a purchase)",
    "conversion_lift": "conversion rate contacted - control; 95 % interval: Newcombe hybrid "
                       "score (Wilson intervals of both rates combined)",
    "revenue_lift": "revenue per contacted - per control customer; 95 % interval: Welch",
    "incremental_conversions": "conversion_lift x contacted",
    "incremental_revenue": "revenue_lift x contacted",
    "cost": "sum of the contact costs",
    "roi": "(incremental_revenue x margin - cost) / cost",
}


def _wilson(x: float, n: int, z: float = Z95) -> tuple[float, float]:
    p = x / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return centre - half, centre + half


def newcombe_interval(x1: int, n1: int, x2: int, n2: int,
                      level: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for the difference of two proportions x1/n1 - x2/n2.

    Parameters
    ----------
    x1, n1 : int
        Successes and trials of the first group (e.g. treated conversions and size).
    x2, n2 : int
        The same for the second group (e.g. control).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (lower, upper) : tuple of float
        NaN if either group is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return np.nan, np.nan
    z = float(stats.norm.ppf(0.5 + level / 2))
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = _wilson(x1, n1, z)
    l2, u2 = _wilson(x2, n2, z)
    d = p1 - p2
    return (d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
            d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


def welch_interval(a, b, level: float = 0.95) -> tuple[float, float]:
    """Welch interval for mean(a) - mean(b) (unequal variances).

    Parameters
    ----------
    a, b : array-like of float
        The two samples (e.g. revenue per treated and per control customer).
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (lower, upper) : tuple of float
        NaN if either sample has fewer than two values; the difference itself on both sides
        when both samples are constant.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return np.nan, np.nan
    d = a.mean() - b.mean()
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(va + vb)
    if se == 0:
        return d, d
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = float(stats.t.ppf(0.5 + level / 2, dof))
    return d - t * se, d + t * se


def _rate(values: pd.Series) -> float:
    v = values.dropna()
    return float(v.mean()) if len(v) else np.nan


def _one(part: pd.DataFrame, margin: float, window_days: int) -> dict:
    t = part[part["treated"] == 1]
    c = part[part["treated"] == 0]
    nt, nc = len(t), len(c)
    row = {"first_contact": part["timestamp"].min(), "contacted": nt, "control": nc,
           "open_rate": _rate(t["opened"]) if "opened" in part else np.nan,
           "click_rate": _rate(t["clicked"]) if "clicked" in part else np.nan,
           "conversion_treated": t["converted"].mean() if nt else np.nan,
           "conversion_control": c["converted"].mean() if nc else np.nan,
           "revenue_per_treated": t["revenue"].mean() if nt else np.nan,
           "revenue_per_control": c["revenue"].mean() if nc else np.nan,
           "cost": float(part["cost"].sum()) if "cost" in part else np.nan}
    notes = []
    if nt and nc:
        row["conversion_lift"] = row["conversion_treated"] - row["conversion_control"]
        row["conversion_lift_lower"], row["conversion_lift_upper"] = newcombe_interval(
            int(t["converted"].sum()), nt, int(c["converted"].sum()), nc)
        row["revenue_lift"] = row["revenue_per_treated"] - row["revenue_per_control"]
        row["revenue_lift_lower"], row["revenue_lift_upper"] = welch_interval(
            t["revenue"], c["revenue"])
        row["incremental_conversions"] = row["conversion_lift"] * nt
        row["incremental_revenue"] = row["revenue_lift"] * nt
        cost = row["cost"]
        row["roi"] = ((row["incremental_revenue"] * margin - cost) / cost
                      if np.isfinite(cost) and cost > 0 else np.nan)
        if min(nt, nc) < 2:
            notes.append("fewer than two customers in a group: no revenue interval")
    else:
        for k in ("conversion_lift", "conversion_lift_lower", "conversion_lift_upper",
                  "revenue_lift", "revenue_lift_lower", "revenue_lift_upper",
                  "incremental_conversions", "incremental_revenue", "roi"):
            row[k] = np.nan
        notes.append(NO_CONTROL if nt else "no contacted customers (control only): "
                     "lift cannot be measured")
    incomplete = int((~part["complete"]).sum())
    if incomplete:
        notes.append(f"{incomplete:,} contact(s) with a {window_days}-day window past the "
                     "end of the data: conversions undercounted")
    row["note"] = "; ".join(notes)
    return row


def campaign_summary(contacts: pd.DataFrame, tx: pd.DataFrame, window_days: int = 30,
                     margin: float = 1.0, as_of=None) -> pd.DataFrame:
    """One row per campaign: reach, engagement, conversion and revenue lift, ROI.

    Parameters
    ----------
    contacts : DataFrame
        Campaign contacts in the contacts contract (``customer_id, campaign_id, timestamp,
        treated``; optional ``channel, cost, opened, clicked``), e.g. ``ds.campaigns``.
        Validated with ``crm_ml.data.standardize(kind="contacts")``.
    tx : DataFrame
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``). Only purchases
        in each contact's window are read.
    window_days : int, default 30
        Conversion window after each contact, in days.
    margin : float, default 1.0
        Share of revenue that is profit, for the ROI (1.0: ROI on revenue).
    as_of : date-like, optional
        Last day of observed transactions (default: the day of the last transaction).
        Contacts after it are an error; contacts whose window runs past it are counted but
        flagged in ``note`` (and warned about).

    Returns
    -------
    DataFrame
        Index ``campaign_id`` (in order of first contact); columns ``first_contact,
        contacted, control, open_rate, click_rate, conversion_treated, conversion_control,
        conversion_lift`` (+ ``_lower``/``_upper``: Newcombe 95 %), ``revenue_per_treated,
        revenue_per_control, revenue_lift`` (+ ``_lower``/``_upper``: Welch 95 %),
        ``incremental_conversions, incremental_revenue, cost, roi, note``. Every definition
        is in the module docstring and ``result.attrs["definitions"]``. A campaign without
        a control group has NaN lifts and ROI and the note "no control group: lift cannot be
        measured".

    Raises
    ------
    crm_ml.DataValidationError
        Invalid contacts (duplicate customer in a campaign, ``treated`` not 0/1, negative or
        non-finite cost, ...), transactions without the canonical columns, or contacts after
        the observed data.
    """
    if not np.isfinite(margin) or margin < 0:
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    out = conversions(contacts, tx, window_days=window_days, as_of=as_of)
    rows = {cid: _one(part, float(margin), int(window_days))
            for cid, part in out.groupby("campaign_id", sort=False)}
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=COLUMNS)
    frame = frame.sort_values("first_contact", kind="stable")
    frame.index.name = "campaign_id"
    for c in ("contacted", "control"):
        frame[c] = frame[c].astype("int64")
    frame.attrs = {"definitions": dict(DEFINITIONS), "window_days": int(window_days),
                   "margin": float(margin), "level": 0.95}
    return frame
