"""Item-item cosine similarity over customers, and item-kNN scores.

``similarity(X)[j, i]`` is how strongly owning product ``j`` points to product ``i``: the
cosine of the two products' customer columns (who bought them, 0/1), shrunk towards 0 when
few customers support it; only the ``k_neighbors`` most similar products of each ``j`` are
kept, and each row is scaled to sum to 1, so every owned product casts the same total vote.
A customer's score for ``i`` is ``sum_j W[c, j] * S[j, i]`` over the products ``j`` they own,
with ``W`` their recency-weighted purchases: recency says what the customer is into now, the
similarity what goes together (over all history). These choices were tuned on MovieLens 100k
(``benchmarks/bench_recommend.py``; decision log): similarity on recency-weighted columns and
asymmetric cosines were worse, row scaling and a small shrinkage slightly better.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: cells of the dense item x item block handled at a time (about 128 MB of float64)
_BLOCK_CELLS = 1 << 24


def similarity(matrix: sp.csr_matrix, k_neighbors: int = 50, shrinkage: float = 0.0,
               normalization: float = 0.5, binary: bool = True,
               row_normalize: bool = True) -> sp.csr_matrix:
    """Top-``k_neighbors`` cosine similarity of the columns of ``matrix``.

    Parameters
    ----------
    matrix : csr_matrix
        Customers x products, non-negative weights.
    k_neighbors : int
        Neighbours kept per product (the rest are set to 0).
    shrinkage : float
        Added to the denominator (``sim = dot / (|a| |b| + shrinkage)``): damps similarities
        resting on few shared customers.
    normalization : float
        Exponent ``a`` of the asymmetric cosine ``dot / (|j|^(2a) |i|^(2-2a))``: 0.5 is the
        plain cosine; larger values divide less by the recommended product's norm and so
        favour popular products.
    binary : bool
        Compare the 0/1 ownership columns (default) rather than the weights.
    row_normalize : bool
        Scale each product's kept neighbours to sum to 1.

    Returns
    -------
    csr_matrix
        Products x products, float32, zero diagonal, at most ``k_neighbors`` entries a row.
    """
    x = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    if binary:
        x.data[:] = 1.0
    n = x.shape[1]
    k = int(max(0, min(k_neighbors, n - 1)))
    if n == 0 or k == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    gram = (x.T @ x).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float64)
    left = np.power(norms, 2 * normalization)
    right = np.power(norms, 2 - 2 * normalization)
    rows, cols, vals = [], [], []
    block_rows = max(1, _BLOCK_CELLS // n)
    for start in range(0, n, block_rows):
        stop = min(n, start + block_rows)
        block = gram[start:stop].toarray().astype(np.float64)
        denom = np.outer(left[start:stop], right) + shrinkage
        with np.errstate(divide="ignore", invalid="ignore"):
            block = np.where(denom > 0, block / denom, 0.0)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        v = np.take_along_axis(block, top, axis=1)
        r = np.repeat(np.arange(start, stop), k)
        keep = v.ravel() > 0
        rows.append(r[keep])
        cols.append(top.ravel()[keep])
        vals.append(v.ravel()[keep])
    s = sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                       (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    s.sum_duplicates()
    if row_normalize:
        sums = np.asarray(s.sum(axis=1)).ravel()
        s = (sp.diags(np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)) @ s).tocsr()
        s = s.astype(np.float32)
    s.sort_indices()
    return s


def scores(history: sp.csr_matrix, sim: sp.csr_matrix) -> np.ndarray:
    """Dense ``history @ sim`` (customers x products) for one batch of customers."""
    return np.asarray((history @ sim).toarray(), dtype=np.float32)


def pair_similarity(sim: sp.csr_matrix, owned: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``sim[owned[i], target[i]]`` for arrays of product codes (0 where not stored)."""
    s = sim if sim.has_sorted_indices else sim.sorted_indices()
    n = s.shape[1]
    keys = np.repeat(np.arange(s.shape[0], dtype=np.int64), np.diff(s.indptr)) * n \
        + s.indices.astype(np.int64)
    query = owned.astype(np.int64) * n + target.astype(np.int64)
    pos = np.searchsorted(keys, query)
    pos_c = np.minimum(pos, max(len(keys) - 1, 0))
    found = (pos < len(keys)) & (keys[pos_c] == query) if len(keys) else np.zeros(
        len(query), dtype=bool)
    out = np.zeros(len(query), dtype=np.float32)
    out[found] = s.data[pos_c[found]]
    return out
