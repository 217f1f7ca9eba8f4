"""One customer snapshot at an ``as_of`` date: vectorised features for churn and friends.

:func:`build` turns canonical transactions (plus optional interactions and a customer table)
into one row per customer, using only rows on or before the as_of day
(:func:`crm_ml.data.windows.history`). Everything is computed with NumPy group reductions
(``bincount`` over factorised customer codes), so 10 million transactions take seconds.

Which customers get a row
    Every customer with at least one purchase (``amount > 0``) on or before the as_of day.
    Returns (negative amounts) are counted as their own features. Customers that only appear
    in ``customers`` or ``interactions`` have no purchase history and get no row.

The features and their plain-words descriptions are listed in :data:`FEATURE_DESCRIPTIONS`
(for the default windows) and by :func:`describe_feature` (for any window).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crm_ml.data.privacy import screen_columns, warn_dropped
from crm_ml.data.windows import as_of_day, history, history_end, utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.features.facts import NS_PER_DAY as _NS_PER_DAY
from crm_ml.features.facts import purchase_facts

__all__ = ["build", "FEATURE_DESCRIPTIONS", "describe_feature", "feature_names"]

DEFAULT_WINDOWS = (30, 90, 180, 365)

_STATIC = {
    "recency_days": "days since the last purchase",
    "tenure_days": "days since the first purchase",
    "n_orders": "number of orders (distinct order ids, or purchase timestamps) ever",
    "n_purchase_days": "number of distinct days with a purchase",
    "total_spend": "net amount spent (purchases minus returns)",
    "avg_order_value": "average amount per order (before returns)",
    "n_returns": "number of returns (negative amounts)",
    "return_share": "returned amount as a share of the amount spent",
    "mean_gap_days": "usual number of days between purchase days (mean gap)",
    "std_gap_days": "standard deviation of the days between purchase days",
    "max_gap_days": "longest gap in days between two purchase days",
    "gap_ratio": "days since the last purchase divided by the usual gap",
    "orders_per_month": "orders per 30 days of tenure",
    "n_products": "number of distinct products bought",
    "n_channels": "number of distinct sales channels used",
    "mean_satisfaction": "average satisfaction score (1-5) of service interactions",
    "last_satisfaction": "most recent satisfaction score (1-5)",
    "mean_resolution_hours": "average hours to resolve a service interaction",
    "days_since_last_interaction": "days since the last service interaction",
    "days_since_signup": "days since the customer signed up",
}

_WINDOWED = {
    "orders": "number of orders in the last {w} days",
    "spend": "amount spent in the last {w} days",
    "orders_change": "orders in the last {w} days minus orders in the {w} days before",
    "spend_change": "spend in the last {w} days minus spend in the {w} days before",
    "tickets": "number of support tickets in the last {w} days",
    "complaints": "number of complaints in the last {w} days",
}

_WINDOW_RE = re.compile(r"^(?P<stem>[a-z_]+?)_(?P<w>\d+)d$")


def describe_feature(name: str) -> str:
    """Plain-words description of a feature built by :func:`build` (any window length).

    Unknown names (e.g. a customer attribute passed through) are described generically.
    """
    if name in _STATIC:
        return _STATIC[name]
    m = _WINDOW_RE.match(name)
    if m and m.group("stem") in _WINDOWED:
        return _WINDOWED[m.group("stem")].format(w=m.group("w"))
    if name.endswith("_days_ago"):
        return f"days between {name[:-9].replace('_', ' ')} and the as_of date"
    return f"customer attribute '{name}'"


def feature_names(windows=DEFAULT_WINDOWS, interactions: bool = True) -> list[str]:
    """Names of the built features, in column order (customer attributes excluded)."""
    names = ["recency_days", "tenure_days", "n_orders", "n_purchase_days", "total_spend",
             "avg_order_value", "n_returns", "return_share", "mean_gap_days", "std_gap_days",
             "max_gap_days", "gap_ratio", "orders_per_month"]
    for w in windows:
        names += [f"orders_{w}d", f"spend_{w}d", f"orders_change_{w}d", f"spend_change_{w}d"]
    names += ["n_products", "n_channels"]
    if interactions:
        for w in windows:
            names += [f"tickets_{w}d", f"complaints_{w}d"]
        names += ["mean_satisfaction", "last_satisfaction", "mean_resolution_hours",
                  "days_since_last_interaction"]
    return names


#: Feature name -> plain-words description, for the default windows (30, 90, 180, 365).
FEATURE_DESCRIPTIONS: dict[str, str] = {n: describe_feature(n) for n in feature_names()}
FEATURE_DESCRIPTIONS["days_since_signup"] = _STATIC["days_since_signup"]


def _check_columns(df: pd.DataFrame, required, kind: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"{kind}: expected a pandas DataFrame, got {type(df).__name__}",
                                  column=None, rule="DataFrame")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{kind}: missing required column(s) {missing}; got {list(df.columns)[:20]}",
            column=missing[0], rule="required column")
    if not pd.api.types.is_datetime64_any_dtype(df["timestamp"]):
        raise DataValidationError(
            f"{kind}: column 'timestamp' must be datetime64 (use crm_ml.data.standardize), "
            f"got {df['timestamp'].dtype}", column="timestamp", rule="datetime64")


def _days(ts: pd.Series) -> np.ndarray:
    """Timestamps -> integer day numbers (days since 1970-01-01)."""
    return utc_naive(ts).to_numpy().astype("datetime64[D]").astype(np.int64)


def _id_kind(ids) -> str:
    """"number", "text" or pandas' name for other contents (a sample of the ids is read)."""
    ids = pd.Series(ids[:1000]) if not isinstance(ids, pd.Series) else ids.iloc[:1000]
    if isinstance(ids.dtype, pd.CategoricalDtype):
        ids = pd.Series(ids.cat.categories[:1000])
    kind = pd.api.types.infer_dtype(ids, skipna=True)
    return {"integer": "number", "floating": "number", "mixed-integer-float": "number",
            "string": "text"}.get(kind, kind)


def _check_id_kind(ids: pd.Index, other, table: str) -> None:
    """Numeric ids in one table and text ids in another never match: say so instead of
    returning features that are silently empty."""
    mine, theirs = _id_kind(ids), _id_kind(other)
    if len(ids) and len(other) and {mine, theirs} == {"number", "text"}:
        raise DataValidationError(
            f"{table}: customer_id values are {theirs} but the transactions' are {mine}, so "
            "none would match; give both tables the same id type (crm_ml.data.standardize "
            "makes ids strings)", column="customer_id", rule="same id type as transactions")


def _grouped_max(codes, values, n):
    """Per-code maximum of ``values`` (NaN for codes without values)."""
    out = np.full(n, -np.inf)
    np.maximum.at(out, codes, np.asarray(values, dtype=float))
    out[np.isneginf(out)] = np.nan
    return out


def _grouped_mean(codes, values, n):
    """Mean of the non-NaN ``values`` per customer code (NaN for customers with none)."""
    has = ~np.isnan(values)
    cnt = np.bincount(codes[has], minlength=n)
    tot = np.bincount(codes[has], weights=values[has], minlength=n)
    return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _n_distinct(codes, other_codes, n):
    """Number of distinct ``other_codes`` per customer code (ignores other_codes < 0)."""
    ok = other_codes >= 0
    c, o = codes[ok], other_codes[ok].astype(np.int64)
    m = int(o.max()) + 1 if len(o) else 1
    key = pd.unique(c * m + o)
    return np.bincount(key // m, minlength=n).astype(float)


def build(transactions: pd.DataFrame, as_of, interactions: pd.DataFrame | None = None,
          customers: pd.DataFrame | None = None, windows=DEFAULT_WINDOWS, *,
          allow_columns=None) -> pd.DataFrame:
    """Build one feature row per customer from the history on or before ``as_of``.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions: ``customer_id``, ``timestamp`` (datetime64), ``amount``
        (negative = return); optional ``order_id``, ``product_id``, ``channel``.
    as_of : date-like
        The snapshot day. Rows after the end of this day are ignored (no leakage).
    interactions : DataFrame, optional
        ``customer_id``, ``timestamp``, ``kind`` (ticket, complaint, ...), optional
        ``satisfaction`` (1..5) and ``resolution_hours``. Adds ticket/complaint counts per
        window, satisfaction and resolution-time features.
    customers : DataFrame, optional
        ``customer_id`` (column or index) plus attributes; they are passed through. Object and
        string columns become pandas categoricals; datetime columns become ``<col>_days_ago``
        (days before as_of; dates after as_of are treated as unknown, NaN), and ``signup_date``
        becomes ``days_since_signup``. Columns that look like personal identifiers or free
        text (e-mail, phone, names, addresses, notes, near-unique values ...; see
        :mod:`crm_ml.data.privacy`) are dropped with one
        :class:`~crm_ml.data.privacy.PersonalDataWarning` naming them and the reason.
    windows : sequence of int, default (30, 90, 180, 365)
        Window lengths in days for the per-window counts and their trends.
    allow_columns : list of str, optional
        Customer columns to keep even though they look like identifiers (e.g. a
        ``region_code`` that the value patterns mistake for a phone number).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (customers with a purchase on or before as_of), float features
        described by :func:`describe_feature` / :data:`FEATURE_DESCRIPTIONS`. Features that
        cannot be computed are NaN (e.g. gaps for one-time buyers, satisfaction without
        interactions).
    """
    _check_columns(transactions, ("customer_id", "timestamp", "amount"), "transactions")
    windows = tuple(sorted({int(w) for w in windows}))
    if not windows or windows[0] <= 0:
        raise DataValidationError(f"windows: need positive day counts, got {windows!r}",
                                  column="windows", rule="positive")
    day0 = int(as_of_day(as_of).to_datetime64().astype("datetime64[D]").astype(np.int64))
    # Work on NumPy arrays with masks: no copies of the (wide, object-typed) frame.
    end_ns = history_end(as_of).to_datetime64().astype("datetime64[ns]")
    ts_all = utc_naive(transactions["timestamp"]).to_numpy().astype("datetime64[ns]")
    amount_all = transactions["amount"].to_numpy(dtype=float)
    if np.isnat(ts_all).any():  # a purchase that cannot be placed in time: not dropped silently
        bad = transactions.index[np.isnat(ts_all)][:5].tolist()
        raise DataValidationError("transactions: column 'timestamp' has missing values",
                                  column="timestamp", rule="not null", rows=bad)
    hist = ts_all < end_ns
    if np.isnan(amount_all[hist]).any():
        bad = transactions.index[hist & np.isnan(amount_all)][:5].tolist()
        raise DataValidationError("transactions: column 'amount' has missing values",
                                  column="amount", rule="not null", rows=bad)
    f = purchase_facts(transactions["customer_id"], ts_all.view(np.int64), amount_all,
                       as_of_day(as_of), transactions["order_id"]
                       if "order_id" in transactions.columns else None)
    buy = hist & (amount_all > 0)
    has = f.keep
    remap = np.where(has, np.cumsum(has) - 1, -1)
    ids = f.ids[has]
    n = len(ids)
    codes = remap[f.code]
    amt = f.amount
    day = f.ts // _NS_PER_DAY
    out: dict[str, np.ndarray] = {}

    # Distinct purchase days per customer, sorted: recency, tenure and gaps.
    uc, ud = f.sorted_days()
    uc = remap[uc]
    first = (f.first_ts[has] // _NS_PER_DAY).astype(float)
    last = (f.last_ts[has] // _NS_PER_DAY).astype(float)
    starts = np.r_[True, uc[1:] != uc[:-1]] if len(uc) else np.zeros(0, bool)
    out["recency_days"] = day0 - last
    out["tenure_days"] = day0 - first

    # Orders (crm_ml.features.facts: order ids, or purchase timestamps, per customer).
    row_order, width = f.order_keys()
    oi, okeys = pd.factorize(row_order)
    o_cust = remap[okeys // width]
    o_day = np.empty(len(okeys), dtype=np.int64)
    o_day[oi] = day
    order_amt = np.bincount(oi, weights=amt, minlength=len(okeys))
    n_orders = f.n_orders[has].astype(float)
    total = f.gross[has]
    out["n_orders"] = n_orders
    out["n_purchase_days"] = f.n_days[has].astype(float)
    out["avg_order_value"] = np.divide(total, n_orders, out=np.full(n, np.nan),
                                       where=n_orders > 0)

    # Returns belong to customers with purchases; others are ignored.
    ret_amt = -f.returns[has] + 0.0  # no -0.0 for customers without returns
    out["total_spend"] = total + f.returns[has]
    out["n_returns"] = f.n_returns[has].astype(float)
    out["return_share"] = np.divide(ret_amt, total, out=np.zeros(n), where=total > 0)

    # Inter-purchase gaps between consecutive purchase days.
    same = np.r_[False, uc[1:] == uc[:-1]] if len(uc) else np.zeros(0, bool)
    gaps = np.diff(ud, prepend=ud[:1]).astype(float)[same]
    gc = uc[same]
    n_gaps = np.bincount(gc, minlength=n).astype(float)
    s1 = np.bincount(gc, weights=gaps, minlength=n)
    s2 = np.bincount(gc, weights=gaps * gaps, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = np.where(n_gaps > 0, s1 / np.maximum(n_gaps, 1), np.nan)
        var = np.where(n_gaps > 1, (s2 - n_gaps * mean_gap**2) / np.maximum(n_gaps - 1, 1),
                       np.nan)
    out["mean_gap_days"] = mean_gap
    out["std_gap_days"] = np.sqrt(np.clip(var, 0, None))
    gfull = np.where(same, np.diff(ud, prepend=ud[:1]).astype(float), -np.inf)
    mx = np.full(n, np.nan)
    if len(gfull):
        mx[uc[starts]] = np.maximum.reduceat(gfull, np.flatnonzero(starts))
    mx[np.isneginf(mx)] = np.nan
    out["max_gap_days"] = mx
    with np.errstate(invalid="ignore", divide="ignore"):
        out["gap_ratio"] = out["recency_days"] / mean_gap
    out["orders_per_month"] = n_orders / np.maximum(out["tenure_days"], 1.0) * 30.0

    # Per-window counts and trends (last window vs the one before).
    age = day0 - o_day  # days before as_of of each order (0 = on the as_of day)
    for w in windows:
        cur = age < w
        prev = (age >= w) & (age < 2 * w)
        oc = np.bincount(o_cust[cur], minlength=n).astype(float)
        op = np.bincount(o_cust[prev], minlength=n).astype(float)
        sc = np.bincount(o_cust[cur], weights=order_amt[cur], minlength=n)
        sp = np.bincount(o_cust[prev], weights=order_amt[prev], minlength=n)
        out[f"orders_{w}d"] = oc
        out[f"spend_{w}d"] = sc
        out[f"orders_change_{w}d"] = oc - op
        out[f"spend_change_{w}d"] = sc - sp

    for col, name in (("product_id", "n_products"), ("channel", "n_channels")):
        if col in transactions.columns:
            out[name] = _n_distinct(codes, pd.factorize(transactions[col].to_numpy()[buy])[0], n)
        else:
            out[name] = np.full(n, np.nan)

    if interactions is not None:
        out.update(_interaction_features(interactions, as_of, day0, ids, windows))

    X = pd.DataFrame(out, index=pd.Index(ids, name="customer_id"))
    X = X[feature_names(windows, interactions is not None)].astype(float)
    if customers is not None:
        attributes = _customer_attributes(customers, as_of, day0, allow_columns)
        _check_id_kind(X.index, attributes.index, "customers")
        clash = [c for c in attributes.columns if c in X.columns]
        if clash:
            raise DataValidationError(
                f"customers: column(s) {clash} have the names of computed features; rename "
                "them", column=clash[0], rule="no clash with feature names")
        X = X.join(attributes, how="left")
    return X.sort_index()


def _interaction_features(interactions, as_of, day0, ids, windows) -> dict[str, np.ndarray]:
    _check_columns(interactions, ("customer_id", "timestamp", "kind"), "interactions")
    _check_id_kind(ids, interactions["customer_id"], "interactions")
    n = len(ids)
    it = history(interactions, as_of)
    c = ids.get_indexer(it["customer_id"])
    ok = c >= 0
    it, c = it.loc[ok], c[ok]
    day = _days(it["timestamp"])
    age = day0 - day
    kind = it["kind"].astype(str).str.strip().str.lower().to_numpy()
    out: dict[str, np.ndarray] = {}
    for w in windows:
        cur = age < w
        out[f"tickets_{w}d"] = np.bincount(c[cur & (kind == "ticket")], minlength=n).astype(float)
        out[f"complaints_{w}d"] = np.bincount(c[cur & (kind == "complaint")],
                                              minlength=n).astype(float)
    if "satisfaction" in it.columns:
        s = pd.to_numeric(it["satisfaction"], errors="coerce").to_numpy(dtype=float)
        has = ~np.isnan(s)
        out["mean_satisfaction"] = _grouped_mean(c, s, n)
        # last satisfaction: the latest rated interaction per customer
        ts = utc_naive(it["timestamp"]).to_numpy().astype("datetime64[ns]").astype(np.int64)[has]
        cc, ss = c[has], s[has]
        order = np.lexsort((ts, cc))
        cs = cc[order]
        lastmask = np.r_[cs[1:] != cs[:-1], True] if len(cs) else np.zeros(0, bool)
        last = np.full(n, np.nan)
        last[cs[lastmask]] = ss[order][lastmask]
        out["last_satisfaction"] = last
    else:
        out["mean_satisfaction"] = np.full(n, np.nan)
        out["last_satisfaction"] = np.full(n, np.nan)
    if "resolution_hours" in it.columns:
        r = pd.to_numeric(it["resolution_hours"], errors="coerce").to_numpy(dtype=float)
        out["mean_resolution_hours"] = _grouped_mean(c, r, n)
    else:
        out["mean_resolution_hours"] = np.full(n, np.nan)
    out["days_since_last_interaction"] = day0 - _grouped_max(c, day.astype(float), n)
    return out


def _customer_attributes(customers: pd.DataFrame, as_of, day0: int,
                         allow_columns=None) -> pd.DataFrame:
    cust = customers
    if "customer_id" in cust.columns:
        cust = cust.set_index("customer_id")
    elif cust.index.name != "customer_id":
        raise DataValidationError("customers: needs a 'customer_id' column or index",
                                  column="customer_id", rule="required column")
    if cust.index.has_duplicates:
        dup = cust.index[cust.index.duplicated()].unique()[:5].tolist()
        raise DataValidationError("customers: 'customer_id' must be unique",
                                  column="customer_id", rule="unique", rows=dup)
    personal = screen_columns(cust, allow_columns)
    # stacklevel 4: warn_dropped, here, build, the caller of build
    warn_dropped(personal, "customers", "build(..., allow_columns={cols}) (crm-ml train "
                 "--allow-column NAME)", stacklevel=4)
    out = {}
    for col in cust.columns:
        if str(col) in personal:
            continue
        s = cust[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            d = _days(s.dt.normalize() if s.dt.tz is None else s).astype(float)
            d[s.isna().to_numpy()] = np.nan
            ago = day0 - d
            ago[ago < 0] = np.nan  # a date after as_of is not known at as_of
            name = "days_since_signup" if col == "signup_date" else f"{col}_days_ago"
            out[name] = pd.Series(ago, index=cust.index)
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[col] = s.astype(float)
        else:
            out[col] = s.astype("category")
    return pd.DataFrame(out, index=cust.index)
