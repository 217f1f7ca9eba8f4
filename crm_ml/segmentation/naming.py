"""Short human-readable segment names derived from segment profiles.

Each segment's centre is expressed in standardised (scaled) units per feature. Known CRM
features are turned into words (``z`` = centre in standard deviations of all customers):

=================================================  =========================================
feature family (column name contains)               words (z > 0.5 / |z| <= 0.5 / z < -0.5)
=================================================  =========================================
value: monetary, spend, value, revenue, clv         "high value" / "mid value" / "low value"
frequency: frequency, orders, n_days, rate, count   "frequent" / "regular" / "rare"
recency: recency                                    "lapsed" / (nothing) / "recent"
tenure: tenure, age                                 "long-standing" / (nothing) / "new"
=================================================  =========================================

Other features appear as ``"high <name>"`` / ``"low <name>"`` when ``|z| > 1`` (at most two).
Duplicate names get the most distinguishing extra feature (none when their centres are
identical), then a number.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["segment_names", "feature_family"]

_FAMILIES = (
    ("recency", ("recency",)),
    ("tenure", ("tenure", "age")),
    ("value", ("monetary", "spend", "value", "revenue", "clv", "amount")),
    ("frequency", ("frequency", "orders", "n_days", "rate", "count", "purchases")),
)

_WORDS = {
    "value": ("high value", "mid value", "low value"),
    "frequency": ("frequent", "regular", "rare"),
    "recency": ("lapsed", "", "recent"),
    "tenure": ("long-standing", "", "new"),
}
_ORDER = ("value", "frequency", "recency", "tenure")


def feature_family(name: str) -> str | None:
    """``"value" | "frequency" | "recency" | "tenure"`` for known CRM columns, else None."""
    low = name.lower()
    for fam, keys in _FAMILIES:
        if any(k in low for k in keys):
            return fam
    return None


def _word(fam: str, z: float) -> str:
    hi, mid, lo = _WORDS[fam]
    return hi if z > 0.5 else (lo if z < -0.5 else mid)


def segment_names(centres: pd.DataFrame) -> dict[int, str]:
    """Names for segments from their standardised centres (rows = segments, cols = features).

    Parameters
    ----------
    centres : DataFrame
        Mean of each scaled feature per segment (index = segment label).

    Returns
    -------
    dict
        ``{segment label: name}``, names unique.
    """
    centres = centres.fillna(0.0)
    fams = {c: feature_family(c) for c in centres.columns}
    names: dict[int, str] = {}
    for seg, row in centres.iterrows():
        parts = []
        for fam in _ORDER:
            cols = [c for c in centres.columns if fams[c] == fam]
            if cols:
                w = _word(fam, float(row[cols].mean()))
                if w:
                    parts.append(w)
        others = row[[c for c in centres.columns if fams[c] is None]]
        others = others[others.abs() > 1].abs().sort_values(ascending=False).index[:2]
        parts += [("high " if row[c] > 0 else "low ") + c for c in others]
        names[seg] = ", ".join(parts) if parts else "average"
    # Disambiguate duplicates with the feature that best separates them, then a number.
    seen: dict[str, list] = {}
    for seg, n in names.items():
        seen.setdefault(n, []).append(seg)
    for n, segs in seen.items():
        if len(segs) < 2:
            continue
        sub = centres.loc[segs]
        spread = sub.std().fillna(0.0)
        if spread.empty or spread.max() <= 0:  # identical centres: only a number tells them apart
            continue
        col = spread.idxmax()
        for seg in segs:
            rank = "higher" if sub.loc[seg, col] >= sub[col].median() else "lower"
            names[seg] = f"{n} ({rank} {col})"
    counts: dict[str, int] = {}
    for seg in list(names):
        n = names[seg]
        counts[n] = counts.get(n, 0) + 1
        if counts[n] > 1:
            names[seg] = f"{n} #{counts[n]}"
    return names
