"""Association rules between products: "customers who bought X also bought Y".

One product -> one product rules, computed exactly from sparse matrices: the basket x product
0/1 matrix ``X`` gives every product's basket count (its column sums) and every pair's
(``X.T @ X`` over the frequent products), so a million baskets take seconds. The numbers are
those of mlxtend's ``fpgrowth`` + ``association_rules`` restricted to 1 -> 1 rules (a test
checks every one of them).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crm_ml.data.windows import history
from crm_ml.recommend.baskets import BASKET_KINDS, basket_matrix, require_products

RULE_COLUMNS = ["antecedent", "consequent", "support", "confidence", "lift", "leverage",
                "conviction", "n_baskets"]


def _fraction(name: str, value) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1], got {value!r}") from None
    if not 0 < v <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return v


def _min_count(min_support: float, n_baskets: int) -> int:
    """Baskets a product or pair needs: ceil(min_support x n), float noise rounded away
    (0.07 x 100 is 7.000000000000001 in floating point and must ask for 7, not 8)."""
    return max(1, math.ceil(round(min_support * n_baskets, 9)))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "antecedent": pd.Series(dtype=object), "consequent": pd.Series(dtype=object),
        **{c: pd.Series(dtype=float) for c in RULE_COLUMNS[2:-1]},
        "n_baskets": pd.Series(dtype=np.int64)})


def _missing_products(tx: pd.DataFrame, as_of) -> int:
    """Purchase rows (up to as_of) without a product: ignored, and counted."""
    rows = history(tx, as_of) if as_of is not None else tx
    missing = rows["product_id"].isna()
    if "amount" in rows.columns:
        missing &= ~(pd.to_numeric(rows["amount"], errors="coerce") < 0)
    return int(missing.sum())


def association_rules(tx: pd.DataFrame, min_support: float = 0.01, min_confidence: float = 0.1,
                      min_lift: float = 1.0, basket: str = "order", as_of=None,
                      max_rules: int | None = None) -> pd.DataFrame:
    """Product -> product association rules mined from baskets.

    For a rule A -> C over ``n`` baskets, with ``n_A``, ``n_C`` and ``n_AC`` the baskets
    holding A, C and both:

    - ``support`` = n_AC / n, ``confidence`` = n_AC / n_A,
      ``lift`` = confidence / (n_C / n);
    - ``leverage`` = support - (n_A / n)(n_C / n);
    - ``conviction`` = (1 - n_C / n) / (1 - confidence), ``inf`` (``np.inf``) when the
      confidence is 1 (C is in every basket holding A). Replace it before writing to
      formats without infinity, e.g. ``rules.replace(np.inf, np.nan)`` for JSON.

    Parameters
    ----------
    tx : DataFrame
        Transactions: ``customer_id``, ``timestamp``, ``product_id``; optional ``amount``
        (negative rows are returns and are not purchases) and ``order_id``.
    min_support : float in (0, 1]
        A product, and a pair, must be in at least ``ceil(min_support * n)`` baskets.
    min_confidence : float in (0, 1]
        Keep rules whose confidence is at least this.
    min_lift : float, default 1.0
        Keep rules whose lift is at least this (>= 0; 1 = no better than chance).
    basket : {"order", "customer_day", "customer"}
        What one basket is: ``"order"`` = one ``order_id`` of one customer (lines without an
        order id, or all lines when there is no ``order_id`` column, fall back to the
        customer's purchases on that calendar day); ``"customer_day"`` forces the
        customer-day; ``"customer"`` is each customer's whole history ("bought X, at some
        time also bought Y"). A product counts once per basket however many lines name it.
    as_of : date-like, optional
        Only baskets of purchases on or before this day.
    max_rules : int, optional
        Keep only the first ``max_rules`` rules (by lift, then confidence).

    Returns
    -------
    DataFrame
        Columns ``antecedent, consequent, support, confidence, lift, leverage, conviction,
        n_baskets`` (product ids as str; ``n_baskets`` = baskets holding both), sorted by
        lift, then confidence, descending (ties by support, then ids). Empty, with these
        columns, when no rule passes. ``attrs`` holds ``n_baskets`` (all baskets),
        ``n_products`` (distinct products bought), ``n_frequent_products``,
        ``n_missing_product`` (purchase rows without a product id, ignored), ``basket`` and
        the thresholds.

    Raises
    ------
    DataValidationError
        When ``product_id`` (or ``customer_id``/``timestamp``) is missing.
    ValueError
        When ``min_support`` or ``min_confidence`` is outside (0, 1], ``min_lift`` is negative
        or not a number, ``max_rules`` is not a positive integer, or ``basket`` is unknown.

    Examples
    --------
    >>> rules = cm.recommend.association_rules(tx, min_support=0.001, min_confidence=0.1)
    >>> rules.head()          # antecedent, consequent, support, confidence, lift, ...
    """
    min_support = _fraction("min_support", min_support)
    min_confidence = _fraction("min_confidence", min_confidence)
    try:
        min_lift = float(min_lift)
    except (TypeError, ValueError):
        raise ValueError(f"min_lift must be a number >= 0, got {min_lift!r}") from None
    if not (min_lift >= 0 and math.isfinite(min_lift)):
        raise ValueError(f"min_lift must be a finite number >= 0, got {min_lift!r}")
    if max_rules is not None and (isinstance(max_rules, bool) or not isinstance(
            max_rules, (int, np.integer)) or max_rules < 1):
        raise ValueError(f"max_rules must be a positive integer or None, got {max_rules!r}")
    if basket not in BASKET_KINDS:
        raise ValueError(f"basket must be one of {BASKET_KINDS}, got {basket!r}")
    require_products(tx)

    baskets = basket_matrix(tx, basket=basket, as_of=as_of)
    X = baskets.matrix.tocsr()
    n = X.shape[0]
    attrs = {"n_baskets": int(n), "n_products": int(X.shape[1]), "n_frequent_products": 0,
             "n_missing_product": _missing_products(tx, as_of), "basket": basket,
             "min_support": min_support, "min_confidence": min_confidence,
             "min_lift": min_lift}
    rules = _empty()
    if n:
        rules = _mine(X, baskets.products, min_support, min_confidence, min_lift, attrs)
    if max_rules is not None:
        rules = rules.head(int(max_rules))
    rules = rules.reset_index(drop=True)
    rules.attrs = attrs
    return rules


def _mine(X: sp.csr_matrix, products: pd.Index, min_support: float, min_confidence: float,
          min_lift: float, attrs: dict) -> pd.DataFrame:
    n = X.shape[0]
    min_count = _min_count(min_support, n)
    item_count = np.bincount(X.indices, minlength=X.shape[1]).astype(np.int64)
    frequent = np.flatnonzero(item_count >= min_count)
    attrs["n_frequent_products"] = int(len(frequent))
    if len(frequent) < 2:
        return _empty()
    Xf = X[:, frequent].astype(np.int32)
    Xf = Xf[np.diff(Xf.indptr) >= 2]  # a basket with fewer than two such products adds no pair
    pairs = sp.triu(Xf.T @ Xf, k=1).tocoo()
    keep = pairs.data >= min_count
    i, j, n_ab = pairs.row[keep], pairs.col[keep], pairs.data[keep].astype(np.int64)
    # both directions of every frequent pair
    a = np.concatenate([i, j])
    c = np.concatenate([j, i])
    n_ab = np.concatenate([n_ab, n_ab])
    n_a, n_c = item_count[frequent][a], item_count[frequent][c]
    support = n_ab / n
    confidence = n_ab / n_a
    s_c = n_c / n
    lift = confidence / s_c
    keep = (confidence >= min_confidence) & (lift >= min_lift)
    a, c, n_ab, n_a, support, confidence, s_c, lift = (
        v[keep] for v in (a, c, n_ab, n_a, support, confidence, s_c, lift))
    leverage = support - (n_a / n) * s_c
    certain = n_ab == n_a
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(certain, np.inf, (1 - s_c) / (1 - confidence))
    ids = products.to_numpy(dtype=object)
    ante, cons = ids[frequent[a]], ids[frequent[c]]
    order = np.lexsort((cons.astype(str), ante.astype(str), -support, -confidence, -lift))
    return pd.DataFrame({
        "antecedent": ante[order], "consequent": cons[order],
        "support": support[order], "confidence": confidence[order], "lift": lift[order],
        "leverage": leverage[order], "conviction": conviction[order],
        "n_baskets": n_ab[order]}, columns=RULE_COLUMNS)
