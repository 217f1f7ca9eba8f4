"""Ranking metrics for recommendations, and the last-purchases holdout split.

Definitions (one customer; ``rec`` the top-k list, ``truth`` the set of products bought in the
test period, ``hits`` the recommended products in ``truth``; every metric is then averaged
over the customers with a non-empty ``truth``):

- ``recall@k = hits / min(k, |truth|)``: the share of what *could* be hit in k slots (Liang et
  al. 2018, "Variational autoencoders for collaborative filtering"); it equals the usual
  ``hits / |truth|`` whenever ``|truth| <= k`` and reaches 1 for a perfect list otherwise.
  The popular baseline and every method are scored with this same definition.
- ``precision@k = hits / k``.
- ``NDCG@k``: DCG with gain 1 per hit at rank r discounted by ``1 / log2(r + 1)``, divided by
  the DCG of a perfect list (``min(k, |truth|)`` hits at the top).
- ``MAP@k``: the mean over customers of ``AP@k = sum_r precision@r * hit_r / min(k, |truth|)``.
- ``coverage``: the share of the catalogue recommended to at least one customer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError


def _pairs(recommended, truth) -> list[tuple[list, set]]:
    """Aligned (list, set) pairs: mappings are aligned on truth's keys; sequences by position."""
    if isinstance(truth, (Mapping, pd.Series)):
        keys = list(truth.keys())
        get = recommended.get if isinstance(recommended, (Mapping, pd.Series)) else None
        if get is None:
            raise DataValidationError("recommended: give a mapping customer -> list when truth "
                                      "is a mapping", column="recommended", rule="aligned")
        out = [(list(_as_list(get(key))), set(_as_list(truth[key]))) for key in keys]
    else:
        recs, truths = list(recommended), list(truth)
        if len(recs) != len(truths):
            raise DataValidationError(
                f"recommended: {len(recs)} lists for {len(truths)} truth sets",
                column="recommended", rule="one list per truth set")
        out = [(list(_as_list(r)), set(_as_list(t))) for r, t in zip(recs, truths, strict=True)]
    return [(r, t) for r, t in out if t]


def _as_list(x) -> Iterable:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return []
    return x


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataValidationError(f"k: must be an integer >= 1, got {k!r}", column="k",
                                  rule="integer >= 1")
    return int(k)


def _per_customer(recommended, truth, k: int) -> np.ndarray:
    """(n, 4) array: recall, precision, ndcg, ap per customer with a non-empty truth."""
    k = _check_k(k)
    rows = []
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    for rec, true in _pairs(recommended, truth):
        rec = rec[:k]
        hit = np.array([p in true for p in rec], dtype=float)
        ideal = min(k, len(true))
        hits = hit.sum()
        dcg = float((hit * discount[:len(hit)]).sum())
        idcg = float(discount[:ideal].sum())
        prec_at = np.cumsum(hit) / np.arange(1, len(hit) + 1) if len(hit) else hit
        rows.append((hits / ideal, hits / k, dcg / idcg, float((prec_at * hit).sum()) / ideal))
    return np.asarray(rows, dtype=float).reshape(-1, 4)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def recall_at_k(recommended, truth, k: int = 10) -> float:
    """Mean ``hits / min(k, |truth|)`` over customers with a non-empty truth.

    Parameters
    ----------
    recommended : sequence of lists, or mapping customer -> list
        Each customer's recommendations, best first.
    truth : sequence of sets, or mapping customer -> set
        What each customer bought in the test period (aligned with ``recommended``; with
        mappings, on truth's keys). Customers with an empty truth are left out.
    k : int

    Returns
    -------
    float
        NaN when no customer has a truth.
    """
    return _mean(_per_customer(recommended, truth, k)[:, 0])


def precision_at_k(recommended, truth, k: int = 10) -> float:
    """Mean ``hits / k`` (see :func:`recall_at_k` for the arguments)."""
    return _mean(_per_customer(recommended, truth, k)[:, 1])


def ndcg_at_k(recommended, truth, k: int = 10) -> float:
    """Mean normalised discounted cumulative gain at k (binary gains; see the module)."""
    return _mean(_per_customer(recommended, truth, k)[:, 2])


def map_at_k(recommended, truth, k: int = 10) -> float:
    """Mean average precision at k, normalised by ``min(k, |truth|)`` (see the module)."""
    return _mean(_per_customer(recommended, truth, k)[:, 3])


def coverage(recommended, catalogue: Sequence | int) -> float:
    """Share of the catalogue recommended to at least one customer.

    Parameters
    ----------
    recommended : iterable of lists, or mapping customer -> list
    catalogue : sequence of product ids, or int
        The products that could be recommended (or their number).

    Returns
    -------
    float
    """
    lists = recommended.values() if isinstance(recommended, (Mapping, pd.Series)) \
        else recommended
    seen = set()
    for rec in lists:
        seen.update(_as_list(rec))
    if isinstance(catalogue, (int, np.integer)):
        n = int(catalogue)
    else:
        catalogue = set(catalogue)
        seen &= catalogue
        n = len(catalogue)
    return len(seen) / n if n else float("nan")


def ranking_metrics(recommended, truth, k: int = 10, catalogue=None) -> dict:
    """All metrics at once: ``recall_at_k, precision_at_k, ndcg_at_k, map_at_k, coverage,
    n_customers`` (coverage only when ``catalogue`` is given; over the customers scored)."""
    per = _per_customer(recommended, truth, k)
    out = {"recall_at_k": _mean(per[:, 0]), "precision_at_k": _mean(per[:, 1]),
           "ndcg_at_k": _mean(per[:, 2]), "map_at_k": _mean(per[:, 3])}
    if catalogue is not None:
        if isinstance(truth, (Mapping, pd.Series)) and isinstance(recommended,
                                                                    (Mapping, pd.Series)):
            scored = {key: recommended.get(key) for key in truth.keys() if truth[key]}
        else:
            scored = recommended
        out["coverage"] = coverage(scored, catalogue)
    out["n_customers"] = int(len(per))
    return out


def lists_by_customer(recs: pd.DataFrame) -> dict:
    """``{customer_id: [product_id, ...]}`` from a recommendation frame (in rank order)."""
    if recs.empty:
        return {}
    ordered = recs.sort_values(["customer_id", "rank"], kind="stable")
    return ordered.groupby("customer_id", sort=False)["product_id"].agg(list).to_dict()


def holdout_last(tx: pd.DataFrame, fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each customer's last ``fraction`` of purchase lines off as a test set.

    Lines are ordered by timestamp (equal timestamps keep their order in ``tx``); a customer
    with ``n`` lines has ``floor(fraction * n)`` of them held out, so a customer with fewer
    than ``1 / fraction`` lines stays wholly in training.

    Parameters
    ----------
    tx : DataFrame
        Purchase lines with ``customer_id``, ``timestamp`` (and ``product_id``).
    fraction : float
        Share held out, in (0, 1); rows without a customer or timestamp are left out of
        both parts.

    Returns
    -------
    (DataFrame, DataFrame)
        ``(train, test)``, the rows of ``tx`` (same columns and index).
    """
    if not 0 < fraction < 1:
        raise DataValidationError(f"fraction: must be in (0, 1), got {fraction!r}",
                                  column="fraction", rule="0 < fraction < 1")
    for column in ("customer_id", "timestamp"):
        if column not in tx.columns:
            raise DataValidationError(f"{column}: column is missing", column=column,
                                      rule="required column")
    tx = tx[tx["customer_id"].notna() & tx["timestamp"].notna()]
    codes = pd.factorize(tx["customer_id"])[0]
    order = np.lexsort((np.arange(len(tx)), tx["timestamp"].to_numpy(), codes))
    sorted_codes = codes[order]
    starts = np.searchsorted(sorted_codes, sorted_codes, side="left")
    position = np.arange(len(order)) - starts
    size = np.bincount(codes, minlength=1)[sorted_codes]
    n_test = np.floor(fraction * size + 1e-9).astype(int)
    is_test = np.zeros(len(tx), dtype=bool)
    is_test[order] = position >= size - n_test
    return tx[~is_test], tx[is_test]
