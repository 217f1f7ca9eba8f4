"""Named RFM segments: a complete 125-cell rule table and its validation.

The default table is a 5 x 5 grid over the recency score ``R`` and the combined
frequency-monetary score ``FM = floor((F + M + 1) / 2)`` (the mean of F and M, halves rounded
up), expanded to all 125 ``(R, F, M)`` cells, so every cell has exactly one segment:

====  ===============  ==================  ==================  ===============  ===============
R     FM = 1           FM = 2              FM = 3              FM = 4           FM = 5
====  ===============  ==================  ==================  ===============  ===============
5     New              Potential loyalist  Potential loyalist  Champions        Champions
4     Promising        Potential loyalist  Loyal               Loyal            Champions
3     About to sleep   About to sleep      Need attention      Loyal            Loyal
2     Hibernating      Hibernating         At risk             At risk          Can't lose them
1     Lost             Lost                At risk             Can't lose them  Can't lose them
====  ===============  ==================  ==================  ===============  ===============

A user table replaces it either as **cells** (columns ``r_score, f_score, m_score, segment``,
one row per cell) or as **range rules** (columns ``segment, r_min, r_max, f_min, f_max, m_min,
m_max``, inclusive). Both are checked the same way: every one of the ``bins**3`` cells must be
matched by exactly one row; otherwise :class:`crm_ml.DataValidationError` names the unmatched
and the doubly matched cells. Rule order never matters.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = [
    "SEGMENTS",
    "DEFAULT_GRID",
    "default_segment_table",
    "validate_segment_table",
    "segment_lookup",
]

#: The 11 named segments, best first.
SEGMENTS: tuple[str, ...] = (
    "Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
    "About to sleep", "At risk", "Can't lose them", "Hibernating", "Lost",
)

#: ``DEFAULT_GRID[r][fm]`` for R and FM in 1..5.
DEFAULT_GRID: dict[int, dict[int, str]] = {
    5: {1: "New", 2: "Potential loyalist", 3: "Potential loyalist", 4: "Champions",
        5: "Champions"},
    4: {1: "Promising", 2: "Potential loyalist", 3: "Loyal", 4: "Loyal", 5: "Champions"},
    3: {1: "About to sleep", 2: "About to sleep", 3: "Need attention", 4: "Loyal", 5: "Loyal"},
    2: {1: "Hibernating", 2: "Hibernating", 3: "At risk", 4: "At risk", 5: "Can't lose them"},
    1: {1: "Lost", 2: "Lost", 3: "At risk", 4: "Can't lose them", 5: "Can't lose them"},
}

_CELL_COLS = ["r_score", "f_score", "m_score"]
_RULE_COLS = ["r_min", "r_max", "f_min", "f_max", "m_min", "m_max"]


def default_segment_table() -> pd.DataFrame:
    """The default 125-cell table: columns ``r_score, f_score, m_score, segment``."""
    rows = []
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        fm = (f + m + 1) // 2
        rows.append((r, f, m, DEFAULT_GRID[r][fm]))
    return pd.DataFrame(rows, columns=[*_CELL_COLS, "segment"])


def _fmt_cells(cells) -> str:
    cells = list(cells)
    shown = ", ".join(f"{r}{f}{m}" for r, f, m in cells[:20])
    return shown + (f" ... ({len(cells)} in all)" if len(cells) > 20 else "")


def validate_segment_table(table: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Check a segment table and return it as one row per cell.

    Parameters
    ----------
    table : DataFrame
        Cells (``r_score, f_score, m_score, segment``) or inclusive range rules
        (``segment, r_min, r_max, f_min, f_max, m_min, m_max``).
    bins : int, default 5
        Scores run from 1 to ``bins``; the table must cover ``bins**3`` cells.

    Returns
    -------
    DataFrame
        ``r_score, f_score, m_score, segment``, one row per cell, sorted by code.

    Raises
    ------
    DataValidationError
        When a cell is matched by no row or by more than one row (the message lists the cells
        as codes such as ``"125"``), a score is out of range or a segment name is missing.
    """
    if not isinstance(table, pd.DataFrame):
        raise DataValidationError("segment table: must be a DataFrame", column="segment",
                                  rule="DataFrame")
    if "segment" not in table.columns:
        raise DataValidationError("segment table: needs a 'segment' column", column="segment",
                                  rule="required column")
    if table["segment"].isna().any() or (table["segment"].astype(str).str.strip() == "").any():
        bad = table.index[table["segment"].isna()
                          | (table["segment"].astype(str).str.strip() == "")][:5].tolist()
        raise DataValidationError(f"segment table: empty segment names in rows {bad}",
                                  column="segment", rule="not empty", rows=bad)
    score_range = np.arange(1, bins + 1)
    hits: dict[tuple[int, int, int], list[str]] = {}
    if set(_CELL_COLS) <= set(table.columns):
        for r, f, m, seg in table[[*_CELL_COLS, "segment"]].itertuples(index=False):
            hits.setdefault((int(r), int(f), int(m)), []).append(str(seg))
    elif set(_RULE_COLS) <= set(table.columns):
        for row in table[["segment", *_RULE_COLS]].itertuples(index=False):
            seg, r0, r1, f0, f1, m0, m1 = row
            for cell in itertools.product(score_range[(score_range >= r0) & (score_range <= r1)],
                                          score_range[(score_range >= f0) & (score_range <= f1)],
                                          score_range[(score_range >= m0) & (score_range <= m1)]):
                hits.setdefault(tuple(int(c) for c in cell), []).append(str(seg))
    else:
        raise DataValidationError(
            "segment table: needs columns r_score, f_score, m_score, segment (cells) or "
            "segment, r_min, r_max, f_min, f_max, m_min, m_max (range rules)",
            column="segment", rule="required column")
    all_cells = set(itertools.product(score_range.tolist(), repeat=3))
    outside = sorted(set(hits) - all_cells)
    missing = sorted(all_cells - set(hits))
    double = sorted(c for c, segs in hits.items() if len(segs) > 1 and c in all_cells)
    problems = []
    if outside:
        problems.append(f"cells outside 1..{bins}: {_fmt_cells(outside)}")
    if missing:
        problems.append(f"{len(missing)} unmatched cell(s): {_fmt_cells(missing)}")
    if double:
        detail = "; ".join(f"{r}{f}{m} -> {hits[(r, f, m)]}" for r, f, m in double[:5])
        problems.append(f"{len(double)} cell(s) matched more than once: {detail}"
                        + (" ..." if len(double) > 5 else ""))
    if problems:
        raise DataValidationError(
            "segment table: every R-F-M cell must map to exactly one segment; "
            + "; ".join(problems),
            column="segment", rule="one segment per cell",
            rows=[f"{r}{f}{m}" for r, f, m in (missing + double)[:5]])
    cells = sorted(all_cells)
    return pd.DataFrame([(*c, hits[c][0]) for c in cells], columns=[*_CELL_COLS, "segment"])


def segment_lookup(table: pd.DataFrame, bins: int = 5) -> np.ndarray:
    """A ``(bins+1, bins+1, bins+1)`` object array: ``lookup[r, f, m]`` is the segment name."""
    cells = validate_segment_table(table, bins)
    lut = np.empty((bins + 1,) * 3, dtype=object)
    lut[cells["r_score"], cells["f_score"], cells["m_score"]] = cells["segment"].to_numpy()
    return lut
