"""Segment names that follow from documented thresholds on the statistics they name.

Every word of a name is read off one statistic of the segment (its median customer, or its
share of repeat customers) and compared with two thresholds: the 1/3 and 2/3 quantiles
(:data:`LOW_Q`, :data:`HIGH_Q`) of the same quantity over all fitted customers (the
*population*). One column stands for each dimension (the first that matches, in feature order):

==========  ============================================  ================================
dimension   column / statistic per segment                words (> high / between / < low)
==========  ============================================  ================================
value       the value column (``total_spend``, ``clv``,   "high value" / "mid value" /
            ``revenue``, ...): median                     "low value"
frequency   count column (``n_orders``, else              "one-time" when below 0.5 (the
            ``frequency``): share of customers with more  median customer bought once)
            than one purchase (*repeat share*)
frequency   a feature with ``rate`` in its name, else the  "frequent" / "regular" / "rare"
            first of ``frequency``, ``orders``, ...:
            median over the segment's repeat customers
            (population: repeat customers)
orders      ``monetary``, ``monetary_value``,             "large orders" / - /
            ``order_value``, ``aov``: median              "small orders"
recency     ``recency...``: median                        "lapsed" / - / "recent"
tenure      ``tenure...``, ``age``: median                "long-standing" / - / "new"
other       any other feature: median                     "high <col>" / - / "low <col>"
==========  ============================================  ================================

Frequency words apply only to segments that are not "one-time" (a one-time buyer has no
observed purchase rate). Without a count column the rate's statistic and population are all
customers. Other features add at most two words (those furthest beyond a threshold); further
features of a dimension already named, and features constant in the population, add none.

Each word is a step function of its statistic, so across segments a word higher on a dimension
means a strictly higher statistic, and equal statistics get equal words ("one-time" ranks
below every repeat word: its repeat share is below 0.5, theirs is not). Segments that still
share a name get the statistic on which they differ most, relative to the gap between its
thresholds: "(higher ...)" / "(lower ...)", or "(highest ...)", "(2nd highest ...)", ...,
"(lowest ...)"; segments identical on every statistic get "#2", "#3".

The rules (column, statistic, population, thresholds, words) are a table,
:func:`naming_rules`; the statistics per segment, :func:`segment_statistics`, are columns of
:meth:`Segmenter.profile() <crm_ml.segmentation.Segmenter.profile>` and both are on the card.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = ["HIGH_Q", "LOW_Q", "REPEAT_SHARE_ONE_TIME", "feature_family", "naming_rules",
           "naming_text", "segment_names", "segment_statistics"]

#: Population quantiles used as the low and high threshold of every dimension.
LOW_Q, HIGH_Q = 1 / 3, 2 / 3
#: A segment whose repeat share is below this is "one-time" (its median customer bought once).
REPEAT_SHARE_ONE_TIME = 0.5
#: Columns counting each customer's purchases, looked up in this order for the repeat share.
COUNT_COLUMNS = ("n_orders", "frequency")

_ORDERS_KEYS = ("monetary", "order_value", "aov", "basket", "per_order")
_FAMILIES = (
    ("orders", _ORDERS_KEYS),
    ("recency", ("recency",)),
    ("tenure", ("tenure",)),
    ("value", ("total_spend", "spend", "revenue", "clv", "value", "amount")),
    ("frequency", ("rate", "frequency", "orders", "n_days", "count", "purchases")),
)
_WORDS = {  # high / middle / low
    "value": ("high value", "mid value", "low value"),
    "frequency": ("frequent", "regular", "rare"),
    "orders": ("large orders", "", "small orders"),
    "recency": ("lapsed", "", "recent"),
    "tenure": ("long-standing", "", "new"),
}
_ORDER = ("value", "frequency", "orders", "recency", "tenure")
_RULE_COLUMNS = ["dimension", "column", "statistic", "profile_column", "population",
                 "n_population", "low", "high", "word_high", "word_mid", "word_low",
                 "repeat_above"]


def feature_family(name: str) -> str | None:
    """The naming dimension of a column by its name.

    Returns
    -------
    str or None
        ``"orders" | "recency" | "tenure" | "value" | "frequency"``, else None.
    """
    low = str(name).lower()
    for fam, keys in _FAMILIES:
        if any(k in low for k in keys):
            return fam
    if "age" in re.split(r"[^a-z0-9]+", low):
        return "tenure"
    return None


def _count_rule(X: pd.DataFrame) -> tuple[str, float] | None:
    """``(count column, repeat if above)``: ``frequency`` counting repeat purchases (it has a
    0) is a repeat when above 0, a count of purchases when above 1."""
    for c in COUNT_COLUMNS:
        if c in X.columns and pd.api.types.is_numeric_dtype(X[c]) \
                and not pd.api.types.is_bool_dtype(X[c]):
            v = X[c].to_numpy(dtype=float)
            if len(v) and np.isfinite(v).all():
                return c, (0.0 if v.min() < 1 else 1.0)
    return None


def _rule(dimension, column, statistic, profile_column, population, values, words) -> dict:
    values = np.asarray(values, dtype=float)
    return {"dimension": dimension, "column": column, "statistic": statistic,
            "profile_column": profile_column, "population": population,
            "n_population": int(len(values)), "low": float(np.quantile(values, LOW_Q)),
            "high": float(np.quantile(values, HIGH_Q)), "word_high": words[0],
            "word_mid": words[1], "word_low": words[2], "repeat_above": np.nan}


def naming_rules(X: pd.DataFrame, features, value_column: str | None = None) -> pd.DataFrame:
    """The rules behind segment names, with thresholds computed on the population ``X``.

    Parameters
    ----------
    X : DataFrame
        The fitted customers (features, and the value and count columns when present).
    features : list of str
        Features to name (constant ones are skipped).
    value_column : str, optional
        Column giving the value words (see the module docstring).

    Returns
    -------
    DataFrame
        One row per rule: ``dimension``, ``column``, ``statistic`` (in words),
        ``profile_column`` (where :func:`segment_statistics` puts it), ``population``,
        ``n_population``, ``low`` and ``high`` thresholds, ``word_high``, ``word_mid``,
        ``word_low`` and ``repeat_above``. The repeat-share rule (``profile_column``
        ``repeat_share``) has ``low`` = 0.5, ``word_low`` = "one-time" and ``repeat_above``:
        a customer is a repeat customer when the count column is above it.
    """
    rows: list[dict] = []
    varying = [c for c in features if np.ptp(X[c].to_numpy(dtype=float)) > 0]
    taken: dict[str, str] = {}
    if value_column is not None and value_column in X.columns \
            and np.ptp(X[value_column].to_numpy(dtype=float)) > 0:
        fam = feature_family(value_column)
        taken["orders" if fam == "orders" else "value"] = value_column
    for fam in _ORDER:
        cands = [c for c in varying if feature_family(c) == fam]
        if fam == "frequency":  # a rate says how often; a count also says for how long
            cands = sorted(cands, key=lambda c: "rate" not in c.lower())
        if cands and fam not in taken:
            taken[fam] = cands[0]
    count = _count_rule(X)
    repeat = None
    if count is not None:
        col, above = count
        repeat = X[col].to_numpy(dtype=float) > above
        repeat_row = ({"dimension": "frequency", "column": col,
                     "statistic": f"share of customers with {col} > {above:g}",
                     "profile_column": "repeat_share", "population": "all customers",
                     "n_population": int(len(X)), "low": REPEAT_SHARE_ONE_TIME,
                     "high": np.nan, "word_high": "", "word_mid": "", "word_low": "one-time",
                     "repeat_above": above})
    for fam in _ORDER:
        if fam == "frequency" and repeat is not None:  # before the rate: it needs the mask
            rows.append(repeat_row)
        col = taken.get(fam)
        if col is None:
            continue
        v = X[col].to_numpy(dtype=float)
        if fam == "frequency" and repeat is not None and repeat.sum() >= 2:
            rows.append(_rule(fam, col, f"median {col} of repeat customers",
                              f"{col}_median_repeat", "repeat customers", v[repeat],
                              _WORDS[fam]))
        else:
            rows.append(_rule(fam, col, f"median {col}", f"{col}_median", "all customers", v,
                              _WORDS[fam]))
    for col in varying:
        if feature_family(col) is None:
            rows.append(_rule("other", col, f"median {col}", f"{col}_median", "all customers",
                              X[col].to_numpy(dtype=float), (f"high {col}", "", f"low {col}")))
    return pd.DataFrame(rows, columns=_RULE_COLUMNS)


def segment_statistics(X: pd.DataFrame, labels, rules: pd.DataFrame,
                       n_segments: int | None = None) -> pd.DataFrame:
    """Per segment, the statistic of every rule (columns = ``rules["profile_column"]``).

    Parameters
    ----------
    X : DataFrame
        The customers (same columns as for :func:`naming_rules`).
    labels : array-like of int
        Segment per row of ``X``.
    rules : DataFrame
        From :func:`naming_rules`.
    n_segments : int, optional
        Segments ``0..n_segments-1`` (an empty one gets NaN); default ``max(labels) + 1``.

    Returns
    -------
    DataFrame
        Index ``segment``.
    """
    labels = np.asarray(labels)
    k = int(n_segments if n_segments is not None else labels.max() + 1)
    out = pd.DataFrame(index=pd.RangeIndex(k, name="segment"))
    repeat = None
    for r in rules.itertuples():
        v = pd.Series(X[r.column].to_numpy(dtype=float))
        if r.profile_column == "repeat_share":
            repeat = v > r.repeat_above
            out[r.profile_column] = repeat.astype(float).groupby(labels).mean()
        elif r.profile_column.endswith("_median_repeat") and repeat is not None:
            out[r.profile_column] = v[repeat.to_numpy()].groupby(labels[repeat.to_numpy()]
                                                                 ).median()
        else:
            out[r.profile_column] = v.groupby(labels).median()
    return out


def _word(r, stat: float) -> str:
    if np.isnan(stat):
        return ""
    if stat > r.high:
        return r.word_high
    return r.word_low if stat < r.low else r.word_mid


def segment_names(stats: pd.DataFrame, rules: pd.DataFrame) -> dict[int, str]:
    """Names for segments from their statistics and the rules (see the module docstring).

    Parameters
    ----------
    stats : DataFrame
        From :func:`segment_statistics` (index = segment).
    rules : DataFrame
        From :func:`naming_rules`.

    Returns
    -------
    dict
        ``{segment: name}``, names unique.
    """
    names: dict[int, str] = {}
    for seg, row in stats.iterrows():
        parts, others = [], []
        one_time = False
        for r in rules.itertuples():
            s = float(row[r.profile_column])
            if r.profile_column == "repeat_share":
                one_time = not np.isnan(s) and s < r.low
                if one_time:
                    parts.append(r.word_low)
                continue
            if r.dimension == "frequency" and one_time:
                continue
            w = _word(r, s)
            if not w:
                continue
            if r.dimension == "other":
                gap = r.high - r.low if r.high > r.low else 1.0
                others.append((max(s - r.high, r.low - s) / gap, w))
            else:
                parts.append(w)
        parts += [w for _, w in sorted(others, key=lambda t: -t[0])[:2]]
        names[int(seg)] = ", ".join(parts) if parts else "average"
    return _disambiguate(names, stats, rules)


_ORDINAL = {2: "2nd", 3: "3rd"}


def _disambiguate(names: dict[int, str], stats: pd.DataFrame, rules: pd.DataFrame
                  ) -> dict[int, str]:
    groups: dict[str, list[int]] = {}
    for seg, n in names.items():
        groups.setdefault(n, []).append(seg)
    for n, segs in groups.items():
        if len(segs) < 2:
            continue
        best, best_spread = None, 0.0
        for r in rules.itertuples():
            v = stats.loc[segs, r.profile_column].astype(float)
            if v.isna().any():
                continue
            gap = r.high - r.low if r.high > r.low else 1.0
            spread = (v.max() - v.min()) / gap
            if spread > best_spread:
                best, best_spread = r, spread
        if best is None:  # identical on every statistic: only a number tells them apart
            continue
        v = stats.loc[segs, best.profile_column].astype(float)
        what = "repeat share" if best.profile_column == "repeat_share" else best.statistic
        order = v.rank(ascending=False, method="min").astype(int)
        for seg in segs:
            i = int(order[seg])
            if v[seg] == v.min():
                q = "lower" if len(segs) == 2 else "lowest"
            elif i == 1:
                q = "higher" if len(segs) == 2 else "highest"
            else:
                q = f"{_ORDINAL.get(i, f'{i}th')} highest"
            names[seg] = f"{n} ({q} {what})"
    counts: dict[str, int] = {}
    for seg in list(names):
        counts[names[seg]] = counts.get(names[seg], 0) + 1
        if counts[names[seg]] > 1:
            names[seg] = f"{names[seg]} #{counts[names[seg]]}"
    return names


def _fmt(x) -> str:
    return "-" if pd.isna(x) else f"{float(x):.4g}"


def naming_text(rules: pd.DataFrame, profile: pd.DataFrame) -> str:
    """The naming rules and each segment's statistics, as plain text for a model card.

    Parameters
    ----------
    rules : DataFrame
        From :func:`naming_rules`.
    profile : DataFrame
        With ``name`` and every ``rules["profile_column"]`` (``Segmenter.profile()``).

    Returns
    -------
    str
        A rules table (statistic, population, thresholds, words) and a table of the
        statistics per segment, which the reader can check each name against.
    """
    lines = [f"Thresholds: the {LOW_Q:.3g} and {HIGH_Q:.3g} quantiles of the statistic's "
             f"quantity over the population; a segment whose repeat share is below "
             f"{REPEAT_SHARE_ONE_TIME:g} is 'one-time' and gets no frequency word.", ""]
    rows = []
    for r in rules.itertuples():
        if r.profile_column == "repeat_share":
            words = f"'{r.word_low}' if < {_fmt(r.low)}"
        else:
            words = (f"'{r.word_high}' if > {_fmt(r.high)}; '{r.word_low}' if < "
                     f"{_fmt(r.low)}" + (f"; else '{r.word_mid}'" if r.word_mid else ""))
        rows.append({"statistic": r.statistic, "population": f"{r.population} "
                     f"(n={r.n_population})", "low": _fmt(r.low), "high": _fmt(r.high),
                     "words": words})
    lines.append(pd.DataFrame(rows).to_string(index=False) if rows else "(no rules)")
    lines.append("")
    cols = [c for c in rules["profile_column"] if c in profile.columns]
    table = profile[["name"] + cols].copy()
    for c in cols:
        table[c] = table[c].map(_fmt)
    lines.append(table.to_string())
    return "\n".join(lines)
