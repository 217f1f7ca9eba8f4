"""Data policy and the per-customer summary the CLV models are fitted on.

Policy (applied before the summary, every dropped row is counted in a report):

- ``amount`` missing (NaN) -> row dropped (``dropped_missing_amount``).
- ``amount < 0`` (returns, refunds) -> row dropped from the purchase history
  (``dropped_returns``): a return is not a purchase occasion, so CLV is *gross* of returns;
  use ``margin`` in :meth:`CLVModel.predict` to net out a return rate.
- ``amount == 0`` -> ``zero_amount="drop"`` (default, the library-wide policy and that of
  :func:`crm_ml.features.customer_summary`): not a purchase occasion, counted in
  ``dropped_zero_amount``. ``zero_amount="occasion"``: a free order still counts as a purchase
  occasion for the purchase model (Fader & Hardie's CDNOW analyses do this; needed to reproduce
  the published CDNOW parameters). Customers whose repeat occasions average to zero spend are
  left out of the Gamma-Gamma fit (which needs positive spend) and get the population mean.
- rows after the ``as_of`` day -> excluded (:func:`crm_ml.data.windows.history`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.windows import as_of_day, history
from crm_ml.errors import DataValidationError

TIME_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 30.4375}
REQUIRED = ("customer_id", "timestamp", "amount")
SUMMARY_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def check_time_unit(time_unit: str) -> float:
    """Days per model period for ``time_unit`` ("D", "W" or "M" = 30.4375 days)."""
    if time_unit not in TIME_UNIT_DAYS:
        raise DataValidationError(
            f"time_unit: must be one of {sorted(TIME_UNIT_DAYS)}, got {time_unit!r}",
            column="time_unit", rule="one of D, W, M")
    return TIME_UNIT_DAYS[time_unit]


def apply_policy(transactions: pd.DataFrame, as_of,
                 zero_amount: str = "drop") -> tuple[pd.DataFrame, dict]:
    """Keep the purchase occasions on or before ``as_of``; return them and a drop report."""
    if zero_amount not in ("drop", "occasion"):
        raise DataValidationError(
            f"zero_amount: must be 'drop' or 'occasion', got {zero_amount!r}",
            column="zero_amount", rule="drop or occasion")
    if not isinstance(transactions, pd.DataFrame):
        raise DataValidationError("transactions: expected a pandas DataFrame",
                                  column=None, rule="DataFrame")
    missing = [c for c in REQUIRED if c not in transactions.columns]
    if missing:
        raise DataValidationError(
            f"transactions: missing required column(s) {missing}; "
            "expected canonical columns customer_id, timestamp, amount "
            "(see crm_ml.data.standardize)", column=missing[0], rule="required column")
    if not pd.api.types.is_datetime64_any_dtype(transactions["timestamp"]):
        raise DataValidationError("timestamp: must be datetime64 (see crm_ml.data.standardize)",
                                  column="timestamp", rule="datetime64",
                                  rows=transactions.head(5))
    tx = history(transactions, as_of)
    n_after = len(transactions) - len(tx)
    amount = pd.to_numeric(tx["amount"], errors="coerce")
    nan = amount.isna().to_numpy()
    neg = (amount < 0).to_numpy()
    zero = (amount == 0).to_numpy()
    keep = ~(nan | neg | (zero if zero_amount == "drop" else False))
    report = {
        "rows_in": int(len(transactions)),
        "rows_after_as_of": int(n_after),
        "dropped_missing_amount": int(nan.sum()),
        "dropped_returns": int(neg.sum()),
        "dropped_zero_amount": int(zero.sum()) if zero_amount == "drop" else 0,
        "zero_amount_kept": int(zero.sum()) if zero_amount == "occasion" else 0,
        "rows_used": int(keep.sum()),
    }
    out = tx.loc[keep, ["customer_id", "timestamp", "amount"]]
    if out.empty:
        raise DataValidationError(
            f"transactions: no purchases on or before as_of {as_of_day(as_of).date()}",
            column="timestamp", rule="history not empty")
    return out, report


def _fallback_summary(tx: pd.DataFrame, as_of, time_unit: str) -> pd.DataFrame:
    """lifetimes-equivalent summary of all given rows (every row is a purchase occasion)."""
    unit = TIME_UNIT_DAYS[time_unit]
    day0 = as_of_day(as_of)
    d = pd.DataFrame({"customer_id": tx["customer_id"].astype(str).to_numpy(),
                      "day": tx["timestamp"].dt.normalize().to_numpy(),
                      "amount": tx["amount"].to_numpy(dtype=float)})
    daily = d.groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    g = daily.groupby("customer_id", sort=True)
    first = g["day"].min()
    last = g["day"].max()
    n_days = g.size()
    total = g["amount"].sum()
    first_amount = g["amount"].first()
    freq = (n_days - 1).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mv = np.where(freq > 0, (total - first_amount) / freq.where(freq > 0, 1.0), 0.0)
    out = pd.DataFrame({
        "first_purchase": first, "last_purchase": last, "n_days": n_days,
        "total_spend": total,
        "frequency": freq,
        "recency": (last - first).dt.days / unit,
        "T": (day0 - first).dt.days / unit,
        "monetary_value": mv,
    })
    out.index.name = "customer_id"
    return out


def summarise(tx: pd.DataFrame, as_of, time_unit: str, zero_amount: str = "drop"
              ) -> pd.DataFrame:
    """Per-customer frequency/recency/T/monetary_value in ``time_unit`` at ``as_of``.

    Uses the shared single-pass :func:`crm_ml.features.customer_summary` (which treats only
    ``amount > 0`` as purchases). With ``zero_amount="occasion"`` zero-amount orders must count
    as occasions, so the local lifetimes-equivalent implementation is used instead.
    """
    if zero_amount == "occasion":
        return _fallback_summary(tx, as_of, time_unit)
    try:
        from crm_ml.features.summary import customer_summary
    except ImportError:
        return _fallback_summary(tx, as_of, time_unit)
    return customer_summary(tx, as_of, time_unit=time_unit, frequency_basis="days")


def check_summary(summary: pd.DataFrame, need_monetary: bool = True) -> pd.DataFrame:
    """Validate a frequency/recency/T(/monetary_value) table; return a float copy."""
    cols = list(SUMMARY_COLUMNS if need_monetary else SUMMARY_COLUMNS[:3])
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise DataValidationError(
            f"summary: missing column(s) {missing}; expected {cols}",
            column=missing[0], rule="required column")
    s = summary[cols].astype(float)
    bad = s[s.isna().any(axis=1)]
    if len(bad):
        raise DataValidationError("summary: missing values", column=str(bad.columns[0]),
                                  rule="no NaN", rows=bad.head(5))
    checks = [
        ("frequency", s["frequency"] < 0, "frequency >= 0"),
        ("frequency", (s["frequency"] % 1) != 0, "frequency is a whole number"),
        ("recency", s["recency"] < 0, "recency >= 0"),
        ("recency", s["recency"] > s["T"] + 1e-9, "recency <= T"),
        ("recency", (s["frequency"] == 0) & (s["recency"] != 0), "recency == 0 when frequency 0"),
        ("T", s["T"] < 0, "T >= 0 (first purchase on or before as_of)"),
    ]
    for col, mask, rule in checks:
        if mask.any():
            raise DataValidationError(f"summary: {col} breaks rule '{rule}'", column=col,
                                      rule=rule, rows=s[mask].head(5))
    return s


def purchase_summary(transactions: pd.DataFrame, as_of, time_unit: str = "W",
                     zero_amount: str = "drop") -> pd.DataFrame:
    """The per-customer table ``CLVModel.fit`` is fitted on, under the same data policy.

    This is also the input of the registered ``crm-clv`` pyfunc model, so scoring with it
    must build its input here (returns dropped, zero amounts per ``zero_amount``).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``monetary_value`` (in
        ``time_unit``) and the other :func:`crm_ml.features.customer_summary` columns.
    """
    check_time_unit(time_unit)
    tx, _ = apply_policy(transactions, as_of, zero_amount)
    return summarise(tx, as_of, time_unit, zero_amount)
