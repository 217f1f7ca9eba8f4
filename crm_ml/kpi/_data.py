"""Checking the inputs of the KPI functions and placing timestamps in periods.

Periods are labelled by their first day (``"M"`` month start, ``"Q"`` quarter start, ``"W"``
the Monday), as in :func:`crm_ml.forecast.sales_series`. History is everything up to the end of
the as_of day (:mod:`crm_ml.data.windows`): nothing after as_of is read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data._validate import check_amounts
from crm_ml.data.windows import as_of_day, history, utc_naive
from crm_ml.errors import DataValidationError

#: user alias -> pandas period alias
FREQS = {"W": "W-SUN", "M": "M", "Q": "Q-DEC"}
#: user alias -> the period in words
PERIOD_NAMES = {"W": "week", "M": "month", "Q": "quarter"}


def check_freq(freq: str) -> str:
    """``freq`` if it is one of :data:`FREQS`, else a :class:`DataValidationError`."""
    if freq not in FREQS:
        raise DataValidationError(f"freq: must be one of {sorted(FREQS)}, got {freq!r}",
                                  column="freq", rule="known frequency")
    return freq


def period_start(ts: pd.Series, freq: str) -> pd.Series:
    """The first day of the period each timestamp falls in."""
    return utc_naive(ts).dt.to_period(FREQS[freq]).dt.start_time


def ordinals(ts: pd.Series, freq: str) -> np.ndarray:
    """The period of each timestamp as an integer (consecutive periods differ by 1)."""
    return np.asarray(utc_naive(ts).dt.to_period(FREQS[freq]).array.asi8, dtype=np.int64)


def period_of(day: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The first day of the period that contains ``day``."""
    return pd.Period(day, FREQS[freq]).start_time


def period_complete(start: pd.Timestamp, freq: str, as_of: pd.Timestamp) -> bool:
    """Whether the period starting on ``start`` has ended by the end of the as_of day."""
    return pd.Period(start, FREQS[freq]).end_time.normalize() <= as_of


def _rows(mask: np.ndarray, index: pd.Index) -> list:
    return index[mask][:5].tolist()


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    """Raise a :class:`DataValidationError` naming the first of ``columns`` missing in ``df``."""
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(f"{what}: must be a pandas DataFrame, got "
                                  f"{type(df).__name__}", column=what, rule="DataFrame")
    for col in columns:
        if col not in df.columns:
            raise DataValidationError(f"{col}: required column is missing from {what} "
                                      f"(columns: {list(map(str, df.columns))[:20]})",
                                      column=col, rule="required column")


def _not_null(df: pd.DataFrame, col: str, what: str) -> None:
    missing = df[col].isna().to_numpy()
    if missing.any():
        rows = _rows(missing, df.index)
        raise DataValidationError(f"{col}: {int(missing.sum())} row(s) of {what} have no {col} "
                                  f"(rows {rows})", column=col, rule="not null", rows=rows)


def _datetime(df: pd.DataFrame, what: str) -> None:
    if not pd.api.types.is_datetime64_any_dtype(df["timestamp"]):
        raise DataValidationError(f"timestamp: {what} timestamps must be datetime64 (use "
                                  "crm_ml.data.standardize)", column="timestamp",
                                  rule="datetime dtype")


def check_transactions(tx: pd.DataFrame, as_of=None) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Canonical transactions up to the end of the as_of day, and the as_of day.

    ``as_of`` defaults to the day of the last transaction. Raises
    :class:`DataValidationError` for missing columns, missing, non-finite or corrupt (beyond
    1e12) values, or no transaction on or before as_of.
    """
    require_columns(tx, ("customer_id", "timestamp", "amount"), "transactions")
    _datetime(tx, "transactions")
    for col in ("customer_id", "timestamp", "amount"):
        _not_null(tx, col, "transactions")
    if not pd.api.types.is_numeric_dtype(tx["amount"]):
        raise DataValidationError("amount: must be numeric", column="amount", rule="numeric")
    check_amounts(tx["amount"])
    if as_of is None:
        if len(tx) == 0:
            raise DataValidationError("transactions: no rows", column="timestamp",
                                      rule="non-empty")
        as_of = utc_naive(tx["timestamp"]).max()
    day = as_of_day(as_of)
    past = history(tx, day)
    if len(past) == 0:
        raise DataValidationError(f"transactions: no transaction on or before as_of {day.date()}",
                                  column="timestamp", rule="non-empty")
    return past, day


def check_range(df: pd.DataFrame, col: str, low: float, high: float, what: str,
                integer: bool = False) -> None:
    """Raise a :class:`DataValidationError` when a non-missing ``df[col]`` is outside
    ``[low, high]`` (or, with ``integer``, not a whole number)."""
    values = pd.to_numeric(df[col], errors="coerce")
    given = df[col].notna().to_numpy()
    v = values.to_numpy(dtype=float)
    bad = given & ~((v >= low) & (v <= high))
    rule = f"{low:g}..{high:g}"
    if integer:
        bad |= given & np.isfinite(v) & (v != np.round(v))
        rule = f"whole number {rule}"
    if bad.any():
        rows = _rows(bad, df.index)
        raise DataValidationError(
            f"{col}: {int(bad.sum())} row(s) of {what} are outside {rule} (rows {rows}, "
            f"values {df[col].to_numpy()[bad][:5].tolist()})", column=col, rule=rule,
            rows=rows)
