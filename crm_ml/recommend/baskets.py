"""Purchase lines, baskets and the sparse matrices every recommender is built on.

A *purchase line* is a transaction row with a product and a positive amount (a return is not
a purchase; a zero amount is a free line and counts as a purchase when it names a product).
A *basket* is an order (``order_id``), or, without order ids, a customer's purchases on one
calendar day, or a customer's whole history (``basket="customer"``). A product appears once
per basket however many lines name it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crm_ml.data.windows import history
from crm_ml.errors import DataValidationError

BASKET_KINDS = ("order", "customer_day", "customer")


def require_products(tx: pd.DataFrame) -> None:
    """Raise :class:`~crm_ml.errors.DataValidationError` unless ``tx`` names products.

    Parameters
    ----------
    tx : DataFrame
        Transactions in the canonical form.

    Raises
    ------
    DataValidationError
        When the ``product_id`` column (or ``customer_id``/``timestamp``) is missing, or no
        row names a product.
    """
    for column in ("customer_id", "timestamp", "product_id"):
        if column not in tx.columns:
            hint = (" Recommendations need the product of each transaction line: map your "
                    "product/SKU column to product_id (crm_ml.data.standardize(..., "
                    "product_id='StockCode'))." if column == "product_id" else "")
            raise DataValidationError(
                f"{column}: column is missing; the transactions have "
                f"{sorted(map(str, tx.columns))}.{hint}", column=column, rule="required column")
    if len(tx) and tx["product_id"].isna().all():
        raise DataValidationError(
            "product_id: every value is empty, so no purchase names a product",
            column="product_id", rule="at least one product", rows=list(tx.index[:5]))


def purchase_lines(tx: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Purchase lines of ``tx`` up to ``as_of``: rows with a product and a non-negative amount.

    Parameters
    ----------
    tx : DataFrame
        Transactions: ``customer_id``, ``timestamp``, ``product_id``; optional ``amount``
        (negative = return, dropped) and ``order_id``.
    as_of : date-like, optional
        Keep rows on or before this day only (nothing after it is read).

    Returns
    -------
    DataFrame
        ``customer_id``, ``timestamp``, ``product_id`` (str) and ``order_id`` when present;
        rows without a customer, timestamp or product are dropped.
    """
    require_products(tx)
    if as_of is not None:
        tx = history(tx, as_of)
    keep = tx["product_id"].notna() & tx["customer_id"].notna() & tx["timestamp"].notna()
    if "amount" in tx.columns:
        keep &= ~(pd.to_numeric(tx["amount"], errors="coerce") < 0)
    columns = [c for c in ("customer_id", "timestamp", "product_id", "order_id")
               if c in tx.columns]
    lines = tx.loc[keep, columns].copy()
    lines["product_id"] = lines["product_id"].astype(str)
    return lines.reset_index(drop=True)


@dataclass
class SparseInteractions:
    """A sparse 0/1 (or weighted) matrix with the labels of its rows and columns."""

    matrix: sp.csr_matrix     #: rows x products
    rows: pd.Index            #: row labels (basket keys or customer ids)
    products: pd.Index        #: column labels (product ids, sorted)


def basket_keys(lines: pd.DataFrame, basket: str = "order") -> pd.Series:
    """One key per purchase line naming its basket.

    ``"order"`` uses ``order_id`` within the customer, falling back to the customer-day when
    there is no ``order_id`` column or for lines without one; ``"customer_day"`` and
    ``"customer"`` force those definitions.
    """
    if basket not in BASKET_KINDS:
        raise ValueError(f"basket must be one of {BASKET_KINDS}, got {basket!r}")
    customer = lines["customer_id"].astype(str)
    if basket == "customer":
        return customer

    def day(rows: pd.Series) -> pd.Series:
        return (customer[rows] + "|"
                + pd.to_datetime(lines.loc[rows, "timestamp"]).dt.strftime("%Y-%m-%d"))

    if basket == "customer_day" or "order_id" not in lines.columns:
        return day(slice(None))
    order = lines["order_id"]
    keys = customer + "|o" + order.astype(str)
    missing = order.isna()
    if missing.any():  # formatting days is slow: only for the lines that need them
        keys[missing] = day(missing)
    return keys


def _binary_matrix(row_codes: np.ndarray, col_codes: np.ndarray, n_rows: int, n_cols: int,
                   weights: np.ndarray | None = None) -> sp.csr_matrix:
    data = np.ones(len(row_codes), dtype=np.float32) if weights is None else weights
    m = sp.csr_matrix((data, (row_codes, col_codes)), shape=(n_rows, n_cols),
                      dtype=np.float32)
    m.sum_duplicates()
    if weights is None:
        m.data[:] = 1.0  # a product counts once per row however many lines name it
    return m


def basket_matrix(tx: pd.DataFrame, basket: str = "order", as_of=None) -> SparseInteractions:
    """The basket x product 0/1 matrix of the purchase lines up to ``as_of``.

    Parameters
    ----------
    tx : DataFrame
        Transactions with ``product_id`` (see :func:`purchase_lines`).
    basket : {"order", "customer_day", "customer"}
        What one basket is (see :func:`basket_keys`).
    as_of : date-like, optional
        Only lines on or before this day.

    Returns
    -------
    SparseInteractions
    """
    lines = purchase_lines(tx, as_of)
    keys = basket_keys(lines, basket)
    row_codes, rows = pd.factorize(keys, sort=False)
    col_codes, products = pd.factorize(lines["product_id"], sort=True)
    matrix = _binary_matrix(row_codes, col_codes, len(rows), len(products))
    return SparseInteractions(matrix, pd.Index(rows, name="basket"),
                              pd.Index(products, name="product_id"))


def customer_product_matrix(tx: pd.DataFrame, as_of=None, half_life_days: float | None = None,
                            products: pd.Index | None = None) -> SparseInteractions:
    """The customer x product matrix: 1 per product bought, or a recency-weighted count.

    Parameters
    ----------
    tx : DataFrame
        Transactions with ``product_id`` (see :func:`purchase_lines`).
    as_of : date-like, optional
        Only lines on or before this day; also the reference day of the recency weights
        (the last line's day when not given).
    half_life_days : float, optional
        When given, each line weighs ``0.5 ** (age_days / half_life_days)`` and a cell is
        the sum over the customer's lines of that product; otherwise cells are 0/1.
    products : Index, optional
        Fix the columns (products not in it are dropped); default: every product seen.

    Returns
    -------
    SparseInteractions
        Rows are customer ids (in order of first appearance), columns product ids.
    """
    lines = purchase_lines(tx, as_of)
    if products is not None:
        lines = lines[lines["product_id"].isin(products)]
        col_codes = pd.Index(products).get_indexer(lines["product_id"])
        products = pd.Index(products, name="product_id")
    else:
        col_codes, products = pd.factorize(lines["product_id"], sort=True)
        products = pd.Index(products, name="product_id")
    row_codes, rows = pd.factorize(lines["customer_id"], sort=False)
    weights = None
    if half_life_days is not None:
        if not half_life_days > 0:
            raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")
        ts = pd.to_datetime(lines["timestamp"])
        ref = pd.Timestamp(as_of) + pd.Timedelta(days=1) if as_of is not None else ts.max()
        age = ((ref - ts).dt.total_seconds() / 86400.0).clip(lower=0).to_numpy()
        weights = np.power(0.5, age / half_life_days).astype(np.float32)
    matrix = _binary_matrix(row_codes, col_codes, len(rows), len(products), weights)
    return SparseInteractions(matrix, pd.Index(rows, name="customer_id"), products)
