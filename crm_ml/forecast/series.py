"""Sales series from canonical transactions: revenue or orders per period, gaps filled with 0.

A period with no transaction is a period with no sales, so it is filled with zero rather than
left out. Periods are labelled by their first day (``"M"`` -> month start, ``"W"`` -> Monday,
``"Q"`` -> quarter start, ``"D"`` -> day), giving an index with a regular frequency that
:class:`~crm_ml.forecast.ARIMAForecaster` reads its season length from.
"""

from __future__ import annotations

import warnings

import pandas as pd

from crm_ml.data.windows import as_of_day, history, utc_naive
from crm_ml.errors import DataValidationError
from crm_ml.features import facts

#: user alias -> (pandas period alias, pandas offset alias of the period start)
FREQS: dict[str, tuple[str, str]] = {
    "D": ("D", "D"),
    "W": ("W-SUN", "W-MON"),
    "M": ("M", "MS"),
    "Q": ("Q-DEC", "QS-JAN"),
}

_VALUES = ("revenue", "orders")


def _period_start(ts: pd.Series, freq: str) -> pd.Series:
    return ts.dt.to_period(FREQS[freq][0]).dt.start_time


def _check(transactions: pd.DataFrame, freq: str, value: str) -> None:
    if freq not in FREQS:
        raise DataValidationError(f"freq: must be one of {sorted(FREQS)}, got {freq!r}",
                                  column="freq", rule="known frequency")
    if value not in _VALUES:
        raise DataValidationError(f"value: must be one of {_VALUES}, got {value!r}",
                                  column="value", rule="known value")
    for col in ("timestamp", "amount"):
        if col not in transactions.columns:
            raise DataValidationError(f"{col}: required column is missing from transactions",
                                      column=col, rule="required column")
    if not pd.api.types.is_datetime64_any_dtype(transactions["timestamp"]):
        raise DataValidationError("timestamp: must be datetime64 (use crm_ml.data.standardize)",
                                  column="timestamp", rule="datetime dtype")
    # a sale that cannot be placed in a period, or of unknown amount, would bias every total
    for col in ("timestamp", "amount"):
        missing = transactions[col].isna().to_numpy()
        if missing.any():
            rows = transactions.index[missing][:5].tolist()
            raise DataValidationError(f"{col}: {int(missing.sum())} transaction(s) have no "
                                      f"{col} (rows {rows})", column=col, rule="not null",
                                      rows=rows)


def sales_series(transactions: pd.DataFrame, freq: str = "M", by=None, value: str = "revenue",
                 *, as_of=None, start=None, drop_partial: bool = True):
    """Revenue or order count per period, with periods without sales filled with zero.

    Parameters
    ----------
    transactions : DataFrame
        Canonical transactions (``timestamp``, ``amount``; ``customer_id``, optional
        ``order_id`` and any column named in ``by``).
    freq : {"M", "W", "Q", "D"}
        Period length. Periods are labelled by their first day (weeks start on Monday).
    by : str, Series or None
        None for one overall series. A column of ``transactions`` (``"region"``,
        ``"channel"``, ``"product_id"``...) or a Series mapping ``customer_id`` to a group
        (e.g. RFM segments) for one series per group. Transactions with no group (a
        missing value, or a customer the Series does not map) form the group ``"unknown"``,
        so every sale is counted in some series.
    value : {"revenue", "orders"}
        ``"revenue"`` is the net sum of ``amount`` (returns subtract); ``"orders"`` counts
        the orders with a positive amount, as :func:`~crm_ml.features.customer_summary`
        does (:mod:`crm_ml.features.facts`): a customer's distinct ``order_id``, or the
        customer's distinct purchase timestamps when there is no ``order_id`` or for rows
        whose ``order_id`` is missing.
    as_of : date-like, optional
        Use only transactions on or before this day; the series ends at the period that
        contains it. Default: the last transaction.
    start : date-like, optional
        First period of every series (default: the first transaction overall).
    drop_partial : bool, default True
        Drop the final period when the data end before that period's last day, so a
        half-observed month does not look like a slump.

    Returns
    -------
    Series or DataFrame
        With ``by=None`` a Series named after ``value`` with a regular DatetimeIndex (every
        period from start to end, zeros where nothing was sold). Otherwise a long DataFrame
        with columns ``series_id``, ``timestamp``, ``y`` - every series spans the same
        periods, ready for :func:`~crm_ml.forecast.forecast_many`.

    Raises
    ------
    DataValidationError
        Unknown ``freq``/``value``, missing columns, missing timestamps or amounts, or no
        transactions in the window.
    """
    _check(transactions, freq, value)
    tx = transactions
    if isinstance(tx["timestamp"].dtype, pd.DatetimeTZDtype):  # periods in UTC, like as_of
        tx = tx.assign(timestamp=utc_naive(tx["timestamp"]))
    if as_of is not None:
        tx = history(tx, as_of)
        end_day = as_of_day(as_of)
    else:
        end_day = tx["timestamp"].max().normalize() if len(tx) else None
    if len(tx) == 0:
        raise DataValidationError("transactions: no rows in the requested window",
                                  column="timestamp", rule="non-empty")
    period = _period_start(tx["timestamp"], freq)
    if by is None:
        group = pd.Series("all", index=tx.index)
    elif isinstance(by, str):
        if by not in tx.columns:
            raise DataValidationError(f"{by}: column named in `by` is missing from transactions",
                                      column=by, rule="required column")
        group = tx[by].astype("string").fillna("unknown")
    elif isinstance(by, pd.Series):
        group = tx["customer_id"].map(by).astype("string").fillna("unknown")
    else:
        raise DataValidationError("by: must be None, a column name or a Series keyed by "
                                  "customer_id", column="by", rule="type")

    frame = pd.DataFrame({"series_id": group.to_numpy(), "timestamp": period.to_numpy()},
                         index=tx.index)
    if value == "revenue":
        frame["y"] = tx["amount"].astype(float)
        agg = frame.groupby(["series_id", "timestamp"], sort=True)["y"].sum()
    else:
        pos = (tx["amount"] > 0).to_numpy()
        frame = frame.loc[pos].assign(key=facts.row_order_keys(tx, pos))
        agg = frame.groupby(["series_id", "timestamp"], sort=True)["key"].nunique().astype(float)

    offset = FREQS[freq][1]
    first = _period_start(pd.Series([pd.Timestamp(start)]), freq)[0] if start is not None \
        else period.min()
    last = _period_start(pd.Series([end_day]), freq)[0]
    if drop_partial:
        period_last_day = (pd.Period(last, FREQS[freq][0]).end_time).normalize()
        if end_day < period_last_day:
            last = last - pd.tseries.frequencies.to_offset(offset)
    if last < first:
        raise DataValidationError("transactions: less than one complete period of data",
                                  column="timestamp", rule="at least one complete period")
    periods = pd.date_range(first, last, freq=offset)
    trailing = int((periods > period.max()).sum())
    if trailing >= 2:  # one quiet period happens; several usually mean the data stop early
        warnings.warn(f"sales_series: the transactions end on {tx['timestamp'].max().date()}, "
                      f"so the last {trailing} periods up to as_of are zeros; a forecast will "
                      "read them as a collapse in sales", UserWarning, stacklevel=2)
    ids = sorted(agg.index.get_level_values(0).unique()) if len(agg) else ["all"]
    full = agg.reindex(pd.MultiIndex.from_product([ids, periods],
                                                  names=["series_id", "timestamp"]),
                       fill_value=0.0)
    if by is None:
        s = full.xs("all", level="series_id") if "all" in ids else pd.Series(0.0, index=periods)
        s = s.astype(float)
        s.index = pd.DatetimeIndex(s.index, freq=offset, name="timestamp")
        s.name = value
        return s
    out = full.rename("y").reset_index()
    out["series_id"] = out["series_id"].astype(str)
    return out
