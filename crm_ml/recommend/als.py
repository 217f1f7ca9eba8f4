"""Implicit-feedback matrix factorisation (Hu, Koren & Volinsky 2008) with ``implicit``.

The confidence of a (customer, product) cell is ``1 + alpha * weight`` (weight: the
recency-weighted purchase count); implicit 0.7 takes the customers x products CSR matrix of
confidences. A customer's factors are recomputed from their history with the fitted product
factors (one exact least-squares step), so any history -- also one not seen in fit -- is scored
the same way.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _model(factors: int, regularization: float, iterations: int, random_state,
           num_threads: int):
    from implicit.cpu.als import AlternatingLeastSquares

    return AlternatingLeastSquares(factors=factors, regularization=regularization, alpha=1.0,
                                   iterations=iterations, random_state=random_state,
                                   num_threads=num_threads, calculate_training_loss=False)


def confidence(history: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """``1 + alpha * weight`` on the stored cells (the rest stay 0: confidence 1, preference 0)."""
    c = sp.csr_matrix(history, dtype=np.float32, copy=True)
    c.data = 1.0 + alpha * c.data
    return c


def fit_item_factors(history: sp.csr_matrix, factors: int = 64, regularization: float = 10.0,
                     iterations: int = 15, alpha: float = 1.0, random_state=0,
                     num_threads: int = 1, show_progress: bool = False) -> np.ndarray:
    """Product factors of an ALS model fitted on ``history`` (customers x products).

    Returns
    -------
    ndarray
        ``(n_products, factors)`` float32.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit's own threads; BLAS threads only slow it
        model = _model(factors, regularization, iterations, random_state, num_threads)
        model.fit(confidence(history, alpha), show_progress=show_progress)
    return np.ascontiguousarray(model.item_factors, dtype=np.float32)


def user_factors(history: sp.csr_matrix, item_factors: np.ndarray, regularization: float,
                 alpha: float, num_threads: int = 1) -> np.ndarray:
    """Factors of each row of ``history`` given fixed product factors (exact least squares)."""
    n = history.shape[0]
    f = item_factors.shape[1]
    if n == 0:
        return np.zeros((0, f), dtype=np.float32)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        model = _model(f, regularization, 1, 0, num_threads)
        model.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
        out = model.recalculate_user(np.arange(n), confidence(history, alpha))
    return np.asarray(out, dtype=np.float32).reshape(n, f)


def scores(history: sp.csr_matrix, item_factors: np.ndarray, regularization: float,
           alpha: float) -> np.ndarray:
    """Dense predicted preference (customers x products) for one batch of customers."""
    u = user_factors(history, item_factors, regularization, alpha)
    return u @ item_factors.T


def normalized(item_factors: np.ndarray) -> np.ndarray:
    """Product factors scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(item_factors, axis=1)
    norms[norms == 0] = 1.0
    return (item_factors / norms[:, None]).astype(np.float32)


#: up to this many products the product x product cosine table is kept (<= 100 MB)
COSINE_TABLE_MAX = 5000
_CHUNK = 65536


def cosine_table(unit: np.ndarray) -> np.ndarray | None:
    """All products' pairwise factor cosines, or None for a catalogue too large to keep."""
    if unit.shape[0] > COSINE_TABLE_MAX:
        return None
    return unit @ unit.T


def pair_similarity(unit: np.ndarray, owned: np.ndarray, target: np.ndarray,
                    table: np.ndarray | None = None) -> np.ndarray:
    """Cosine of the factors of ``owned[i]`` and ``target[i]`` (the ALS reason).

    ``unit`` are the unit-length factors (:func:`normalized`); ``table`` their cosine table
    when kept (a lookup), else the dot products are taken in chunks (bounded memory).
    """
    if table is not None:
        return table[owned, target]
    out = np.empty(len(owned), dtype=np.float32)
    for start in range(0, len(owned), _CHUNK):
        stop = start + _CHUNK
        out[start:stop] = np.einsum("ij,ij->i", unit[owned[start:stop]],
                                    unit[target[start:stop]])
    return out
