"""Top-k per row of a dense score block, ties broken by column (products sorted by id)."""

from __future__ import annotations

import numpy as np


def _exact(key: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every entry >= the row's k-th value, sorted by (-value, column): handles ties."""
    p = key.shape[1]
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
    if kk == p:
        return _exact(key, kk)
    idx = np.argpartition(-key, kk - 1, axis=1)[:, :kk]
    vals = np.take_along_axis(key, idx, axis=1)
    thr = vals.min(axis=1)
    # rows where the k-th value is tied with an entry left out, or not finite: exact path
    slow = ((key >= thr[:, None]).sum(axis=1) > kk) | ~np.isfinite(thr)
    order = np.lexsort((idx, -vals), axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    fast = np.flatnonzero(~slow)
    rows = np.repeat(fast, kk)
    cols = idx[fast].ravel()
    ranks = np.tile(np.arange(1, kk + 1), len(fast))
    if slow.any():
        sr = np.flatnonzero(slow)
        r2, c2, k2 = _exact(key[sr], kk)
        rows = np.concatenate([rows, sr[r2]])
        cols = np.concatenate([cols, c2])
        ranks = np.concatenate([ranks, k2])
        order = np.lexsort((ranks, rows))
        rows, cols, ranks = rows[order], cols[order], ranks[order]
    return rows.astype(np.int64), cols.astype(np.int64), ranks.astype(np.int64)
