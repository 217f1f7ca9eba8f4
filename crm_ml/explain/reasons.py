"""Per-customer reasons in plain words from SHAP values (vectorised for millions of rows).

Each feature built by :func:`crm_ml.features.build` has a phrase template, e.g.
``recency_days`` -> "no purchase for 142 days (usual gap 30)". Unknown numeric features read
"<name> = <value>" and categorical attributes "<name> is <level>" (a level shared by fewer
than k training customers reads "<name> is a rare or new value"). Every reason ends with the
direction of its SHAP value: "(raises churn risk)" for a positive value, "(lowers churn risk)"
for a negative one.

One fact is stated once: several features can say the same thing about a customer (with a
single purchase day, ``mean_gap_days``, ``max_gap_days``, ``gap_ratio`` and ``std_gap_days``
are all missing and ``n_purchase_days`` is 1). They read alike ("only one purchase day so
far") and :func:`top_reasons` keeps the one with the largest |SHAP| and fills the list with
the next distinct fact.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crm_ml.data.privacy import OTHER_LEVEL

_WIN = re.compile(r"^(?P<stem>[a-z_]+?)_(?P<w>\d+)d$")
ONE_PURCHASE_DAY = "only one purchase day so far"
# missing exactly when the customer has a single purchase day (no gap between days yet)
_GAP_FEATURES = ("mean_gap_days", "max_gap_days", "gap_ratio")


def _num(v, digits=0) -> np.ndarray:
    """Numbers as an object array of strings (vectorised; no thousands separators)."""
    v = np.asarray(v, dtype=float)
    if digits == 0:
        return np.round(v).astype(np.int64).astype(str).astype(object)
    return np.array([f"{x:.{digits}f}" for x in v], dtype=object)


def _static(fmt, digits=0):
    head, _, tail = fmt.partition("{}")

    def f(v, ctx):
        return head + _num(v, digits) + tail
    return f


def _recency(v, ctx):
    gap = ctx.get("mean_gap_days")
    gaps = np.full(len(v), np.nan) if gap is None else np.asarray(gap, dtype=float)
    text = "no purchase for " + _num(v) + " days"
    has = ~np.isnan(gaps)
    text[has] = text[has] + " (usual gap " + _num(gaps[has]) + ")"
    return text


def _purchase_days(v, ctx):
    text = "bought on " + _num(v) + " different days"
    text[np.asarray(v, dtype=float) == 1] = ONE_PURCHASE_DAY
    return text


def _gap_ratio(v, ctx):
    gap = ctx.get("mean_gap_days")
    gaps = np.full(len(v), np.nan) if gap is None else np.asarray(gap, dtype=float)
    return [f"current gap is {x:.1f}x the usual gap" + ("" if np.isnan(g) else
                                                         f" of {g:.0f} days")
            for x, g in zip(np.asarray(v, dtype=float), gaps, strict=True)]


def _change(noun):
    def f(v, ctx, w):
        out = []
        for x in np.asarray(v, dtype=float):
            if x > 0:
                out.append(f"{noun} up by {x:,.0f} in the last {w} days vs the {w} days before")
            elif x < 0:
                out.append(f"{noun} down by {-x:,.0f} in the last {w} days vs the {w} days before")
            else:
                out.append(f"{noun} unchanged in the last {w} days vs the {w} days before")
        return out
    return f


def _windowed(fmt):
    head, _, tail = fmt.partition("{}")

    def f(v, ctx, w):
        return head + _num(v) + tail.replace("{w}", str(w))
    return f


_TEMPLATES = {
    "recency_days": _recency,
    "gap_ratio": _gap_ratio,
    "tenure_days": _static("customer for {} days"),
    "n_orders": _static("{} orders in total"),
    "n_purchase_days": _purchase_days,
    "total_spend": _static("total spend {}"),
    "avg_order_value": _static("average order value {}"),
    "n_returns": _static("{} returns"),
    "return_share": lambda v, c: [f"{x:.0%} of spend returned" for x in np.asarray(v, float)],
    "mean_gap_days": _static("usually buys every {} days"),
    "std_gap_days": _static("irregular buying (gaps vary by {} days)"),
    "max_gap_days": _static("longest gap between purchases {} days"),
    "orders_per_month": _static("{} orders per month", 1),
    "n_products": _static("bought {} different products"),
    "n_channels": _static("uses {} sales channel(s)"),
    "mean_satisfaction": _static("average satisfaction {}/5", 1),
    "last_satisfaction": _static("last satisfaction score {}/5"),
    "mean_resolution_hours": _static("issues take {} hours to resolve on average"),
    "days_since_last_interaction": _static("no service contact for {} days"),
    "days_since_signup": _static("signed up {} days ago"),
}

_WINDOW_TEMPLATES = {
    "orders": _windowed("{} orders in the last {w} days"),
    "spend": _windowed("spent {} in the last {w} days"),
    "orders_change": _change("orders"),
    "spend_change": _change("spend"),
    "tickets": _windowed("{} support tickets in the last {w} days"),
    "complaints": _windowed("{} complaints in the last {w} days"),
}

_MISSING = {
    "recency_days": "no purchase history",
    "gap_ratio": ONE_PURCHASE_DAY,
    "mean_gap_days": ONE_PURCHASE_DAY,
    "std_gap_days": "fewer than three purchase days",
    "max_gap_days": ONE_PURCHASE_DAY,
    "mean_satisfaction": "no satisfaction score recorded",
    "last_satisfaction": "no satisfaction score recorded",
    "mean_resolution_hours": "no resolved service issue recorded",
    "days_since_last_interaction": "never contacted customer service",
}


def phrases(feature: str, values, context: dict | None = None) -> list[str]:
    """Plain-words phrases for ``values`` of one feature (NaN -> a "missing" phrase).

    ``context`` maps other feature names to aligned arrays (e.g. ``mean_gap_days`` for the
    "usual gap" part of the recency phrase).
    """
    return list(_phrase_array(feature, values, context))


def _phrase_array(feature: str, values, context: dict | None = None) -> np.ndarray:
    """Plain-words phrases for ``values`` of one feature (NaN -> a "missing" phrase).

    ``context`` maps other feature names to aligned arrays (e.g. ``mean_gap_days`` for the
    "usual gap" part of the recency phrase).
    """
    context = context or {}
    values = pd.Series(values).reset_index(drop=True)
    n = len(values)
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if not numeric:
        return np.array([f"{feature} unknown" if pd.isna(v) else
                         f"{feature} is a rare or new value" if v == OTHER_LEVEL else
                         f"{feature} is {v}" for v in values], dtype=object)
    v = values.to_numpy(dtype=float)
    out = np.empty(n, dtype=object)
    miss = np.isnan(v)
    out[miss] = _MISSING.get(feature, f"{feature} unknown")
    if feature == "std_gap_days" and "mean_gap_days" in context:
        # no spread of gaps because there is no gap at all: the one-purchase-day fact
        out[miss & pd.isna(np.asarray(context["mean_gap_days"], dtype=float))] = \
            ONE_PURCHASE_DAY
    ok = ~miss
    if ok.any():
        ctx = {k: np.asarray(a)[ok] for k, a in context.items()}
        m = _WIN.match(feature)
        if feature in _TEMPLATES:
            texts = _TEMPLATES[feature](v[ok], ctx)
        elif m and m.group("stem") in _WINDOW_TEMPLATES:
            texts = _WINDOW_TEMPLATES[m.group("stem")](v[ok], ctx, m.group("w"))
        else:
            texts = [f"{feature} = {x:.4g}" for x in v[ok]]
        out[ok] = texts
    return out


def direction(shap_values) -> np.ndarray:
    """"raises churn risk" / "lowers churn risk" / "no effect" by the sign of SHAP values."""
    s = np.asarray(shap_values, dtype=float)
    return np.where(s > 0, "raises churn risk", np.where(s < 0, "lowers churn risk",
                                                         "no effect"))


def _one_day_fact(data: pd.DataFrame, cols: list) -> np.ndarray:
    """Customers x features: True where that feature states the one-purchase-day fact."""
    n = len(data)
    out = np.zeros((n, len(cols)), dtype=bool)
    mean_gap = (pd.to_numeric(data["mean_gap_days"], errors="coerce").to_numpy(dtype=float)
                if "mean_gap_days" in data.columns else None)
    for j, c in enumerate(cols):
        if c not in _GAP_FEATURES + ("std_gap_days", "n_purchase_days"):
            continue
        v = pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float)
        if c in _GAP_FEATURES:
            out[:, j] = np.isnan(v)
        elif c == "n_purchase_days":
            out[:, j] = v == 1
        elif mean_gap is not None:  # std_gap_days: no spread because there is no gap
            out[:, j] = np.isnan(v) & np.isnan(mean_gap)
    return out


def top_reasons(shap_values: pd.DataFrame, data: pd.DataFrame, top_k: int = 3,
                direction_filter: str = "both") -> pd.DataFrame:
    """Each customer's ``top_k`` drivers in plain words, largest |SHAP| first, one per fact.

    When several features state the same fact about a customer (see the module docstring),
    only the one with the largest |SHAP| is a reason and the next distinct fact fills the
    list; a customer with fewer distinct facts than ``top_k`` gets empty trailing reasons.

    Parameters
    ----------
    shap_values : DataFrame
        Customers x features (index customer_id).
    data : DataFrame
        The feature values, same index and columns.
    top_k : int
    direction_filter : {"both", "increase"}
        ``increase`` keeps only drivers that raise churn risk (a row may then have fewer).

    Returns
    -------
    DataFrame
        Index customer_id; for i = 1..top_k: ``reason_i`` (text ending with the direction),
        ``feature_i`` and ``shap_i``.
    """
    S = shap_values.to_numpy(dtype=float)
    n, p = S.shape
    cols = list(shap_values.columns)
    k = min(top_k, p)
    same = _one_day_fact(data, cols)
    # at most (features sharing the fact - 1) candidates are dropped per customer
    m = min(p, k + max(int(same.any(axis=0).sum()) - 1, 0))
    key = np.abs(S) if direction_filter == "both" else np.where(S > 0, S, -np.inf)
    if m < p:
        part = np.argpartition(-key, m - 1, axis=1)[:, :m]
    else:
        part = np.tile(np.arange(p), (n, 1))
    ranked = np.take_along_axis(part, np.argsort(-np.take_along_axis(key, part, 1), axis=1,
                                                 kind="stable"), 1)
    fact = np.take_along_axis(same, ranked, 1)
    keep = ~fact | (np.cumsum(fact, axis=1) == 1)  # the strongest statement of the fact only
    rank = np.cumsum(keep, axis=1)
    out = {}
    ctx_cols = [c for c in ("mean_gap_days",) if c in data.columns]
    rows_all = np.arange(n)
    for i in range(k):
        hit = keep & (rank == i + 1)
        present = hit.any(axis=1)
        fidx = ranked[rows_all, np.argmax(hit, axis=1)]
        sv = np.where(present, S[rows_all, fidx], np.nan)
        if direction_filter != "both":
            sv = np.where(sv > 0, sv, np.nan)
        text = np.empty(n, dtype=object)
        for j in np.unique(fidx):
            rows = np.flatnonzero(fidx == j)
            name = cols[j]
            ctx = {c: data[c].to_numpy()[rows] for c in ctx_cols}
            text[rows] = _phrase_array(name, data[name].iloc[rows], ctx)
        dirn = np.where(sv > 0, " (raises churn risk)",
                        np.where(sv < 0, " (lowers churn risk)", " (no effect)")).astype(object)
        full = text + dirn
        feat = np.array(cols, dtype=object)[fidx]
        blank = ~present | (np.isnan(sv) if direction_filter != "both" else False)
        full[blank] = None
        feat[blank] = None
        out[f"reason_{i + 1}"] = full
        out[f"feature_{i + 1}"] = feat
        out[f"shap_{i + 1}"] = sv
    return pd.DataFrame(out, index=shap_values.index)
