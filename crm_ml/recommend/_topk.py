"""Top-k per row of a dense score block, ties broken by column (products sorted by id)."""

from __future__ import annotations

import numpy as np


def top_k(key: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``k`` largest finite entries of each row of ``key``.

    Returns
    -------
    (rows, cols, ranks)
        One entry per pick, ordered by row then rank (1..); a row with fewer than ``k`` finite
        entries gets fewer picks. Equal values are ranked by column.
    """
    n, p = key.shape
    kk = int(min(k, p))
    if n == 0 or kk <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    thr = np.partition(key, p - kk, axis=1)[:, p - kk] if kk < p else key.min(axis=1)
    mask = (key >= thr[:, None]) & np.isfinite(key)
    r, c = np.nonzero(mask)
    v = key[r, c]
    order = np.lexsort((c, -v, r))
    r, c = r[order], c[order]
    first = np.searchsorted(r, r, side="left")
    rank = np.arange(len(r)) - first + 1
    keep = rank <= kk
    return r[keep], c[keep], rank[keep]
