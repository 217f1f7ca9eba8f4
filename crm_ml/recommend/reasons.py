"""Why a product is recommended: the owned product behind it, or its popularity.

For item_knn the reason names the customer's product that contributes most to the
recommended product's score (``weight x similarity``); for ALS the customer's product whose
factors are most similar to it. Everything is vectorised over (customer, recommended product)
pairs, so reasons cost about as much as the scores themselves.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.sparse as sp

#: reason kinds (codes in the ``kind`` arrays)
OWNED, SEGMENT, POPULAR = 0, 1, 2


def best_owned(history: sp.csr_matrix, rows: np.ndarray, items: np.ndarray,
               pair_value: Callable[[np.ndarray, np.ndarray], np.ndarray],
               use_weight: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """For each recommended ``(rows[e], items[e])`` the owned product that explains it best.

    Parameters
    ----------
    history : csr_matrix
        The batch's customers x products weights (sorted indices).
    rows, items : ndarray of int
        Row in ``history`` and product code of each recommendation.
    pair_value : callable
        ``(owned codes, target codes) -> similarity`` for arrays of pairs.
    use_weight : bool
        Multiply the similarity by the owned product's weight (item_knn's contribution).

    Returns
    -------
    (ndarray, ndarray)
        Position in ``history.data`` of the best owned product (-1: none) and its value.
        Ties go to the lowest product code (products are sorted by id).
    """
    n = len(rows)
    best = np.full(n, -1, dtype=np.int64)
    value = np.zeros(n, dtype=np.float32)
    if n == 0:
        return best, value
    start = history.indptr[rows].astype(np.int64)
    counts = (history.indptr[rows + 1] - history.indptr[rows]).astype(np.int64)
    has = counts > 0
    if not has.any():
        return best, value
    e_idx = np.repeat(np.arange(n), counts)
    offsets = np.cumsum(counts) - counts
    pos = np.arange(counts.sum()) - np.repeat(offsets, counts) + np.repeat(start, counts)
    contrib = pair_value(history.indices[pos], items[e_idx]).astype(np.float64)
    if use_weight:
        contrib = contrib * history.data[pos]
    seg_starts = offsets[has]
    top = np.maximum.reduceat(contrib, seg_starts)
    at_top = contrib == np.repeat(top, counts[has])
    first = np.minimum.reduceat(np.where(at_top, pos, np.iinfo(np.int64).max), seg_starts)
    best[has] = first
    value[has] = top
    return best, value


def texts(kind: np.ndarray, owned: np.ndarray, owned_day: np.ndarray, segment: np.ndarray,
          segment_column: str | None) -> pd.Series:
    """Reason sentences for arrays of kinds, owned product ids, purchase days and segments.

    ``owned_day`` is days since 1970-01-01 (negative: unknown date).
    """
    kind = np.asarray(kind)
    out = np.full(len(kind), "popular right now", dtype=object)
    own = kind == OWNED
    if own.any():
        days = np.asarray(owned_day)[own]
        dated = days >= 0
        date_text = np.full(len(days), "", dtype=object)
        if dated.any():
            date_text[dated] = (" on " + pd.Series(
                pd.to_datetime(days[dated], unit="D").strftime("%Y-%m-%d"))).to_numpy()
        out[own] = ("often bought with " + pd.Series(np.asarray(owned)[own], dtype=object)
                    + ", which you bought" + pd.Series(date_text, dtype=object)).to_numpy()
    seg = kind == SEGMENT
    if seg.any():
        label = f"{segment_column} " if segment_column else ""
        out[seg] = ("popular in your segment (" + label
                    + pd.Series(np.asarray(segment)[seg], dtype=object).astype(str)
                    + ")").to_numpy()
    return pd.Series(out, dtype=object)
