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
- customers left with no purchase occasion (only returns, zero amounts under the default
  policy, or missing amounts) have no first purchase to model from: they are left out of the
  summary, counted in ``customers_without_purchase`` and, in :meth:`CLVModel.fit` and
  :func:`purchase_summary`, reported by a :class:`crm_ml.data.DataPolicyWarning`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.data.quality import DataPolicyWarning
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


def apply_policy(transactions: pd.DataFrame, as_of, zero_amount: str = "drop",
                 warn: bool = False) -> tuple[pd.DataFrame, dict]:
    """Keep the purchase occasions on or before ``as_of``; return them and a drop report.

    The report counts dropped rows per rule and ``customers_without_purchase``: customers
    with history rows none of which is a purchase occasion (left out of the summary). With
    ``warn=True`` a :class:`crm_ml.data.DataPolicyWarning` names how many and a few of them.
    """
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
    # only customers with a dropped row can be left without purchases: scan for those few
    dropped_ids = pd.unique(tx["customer_id"].to_numpy()[~keep])
    kept_ids = out["customer_id"]
    left_out = pd.Index(dropped_ids).difference(
        pd.unique(kept_ids[kept_ids.isin(dropped_ids)].to_numpy()), sort=False)
    report["customers_without_purchase"] = int(len(left_out))
    if warn and len(left_out):
        warnings.warn(
            f"{len(left_out)} customer(s) have no purchase on or before "
            f"{as_of_day(as_of).date()} (only returns, zero or missing amounts) and are left "
            f"out of the CLV summary (no first purchase to model from), e.g. "
            f"{list(left_out[:5])}; counted in customers_without_purchase",
            DataPolicyWarning, stacklevel=3)
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
    """Validate a frequency/recency/T(/monetary_value) table; return a float copy.

    Raises
    ------
    DataValidationError
        Naming the first column that breaks a rule (required column, no missing values,
        finite, frequency a whole number >= 0, 0 <= recency <= T, monetary_value >= 0), the
        rule and up to five offending rows.
    """
    cols = list(SUMMARY_COLUMNS if need_monetary else SUMMARY_COLUMNS[:3])
    missing = [c for c in cols if c not in summary.columns]
    if missing:
        raise DataValidationError(
            f"summary: missing column(s) {missing}; expected {cols}",
            column=missing[0], rule="required column")
    s = summary[cols].astype(float)
    checks = [(c, s[c].isna(), "no missing values") for c in cols]
    checks += [(c, np.isinf(s[c]), "finite") for c in cols]
    checks += [
        ("frequency", s["frequency"] < 0, "frequency >= 0"),
        ("frequency", (s["frequency"] % 1) != 0, "frequency is a whole number"),
        ("recency", s["recency"] < 0, "recency >= 0"),
        ("recency", s["recency"] > s["T"] + 1e-9, "recency <= T"),
        ("recency", (s["frequency"] == 0) & (s["recency"] != 0), "recency == 0 when frequency 0"),
        ("T", s["T"] < 0, "T >= 0 (first purchase on or before as_of)"),
    ]
    if need_monetary:  # returns are not purchases: mean repeat spend cannot be negative
        checks.append(("monetary_value", s["monetary_value"] < 0, "monetary_value >= 0"))
    for col, mask, rule in checks:
        if mask.any():
            raise DataValidationError(
                f"summary: {col} breaks rule '{rule}' in {int(mask.sum())} row(s); offending "
                f"rows: {list(s.index[mask.to_numpy()][:5])}", column=col, rule=rule,
                rows=s[mask].head(5))
    return s


def purchase_summary(transactions: pd.DataFrame, as_of, time_unit: str = "W",
                     zero_amount: str = "drop") -> pd.DataFrame:
    """The per-customer table ``CLVModel.fit`` is fitted on, under the same data policy.

    This is also the input of the registered ``crm-clv`` pyfunc model, so scoring with it
    must build its input here (returns dropped, zero amounts per ``zero_amount``). Customers
    without any purchase occasion are left out with a :class:`crm_ml.data.DataPolicyWarning`.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: ``frequency``, ``recency``, ``T``, ``monetary_value`` (in
        ``time_unit``) and the other :func:`crm_ml.features.customer_summary` columns.
    """
    check_time_unit(time_unit)
    tx, _ = apply_policy(transactions, as_of, zero_amount, warn=True)
    return summarise(tx, as_of, time_unit, zero_amount)
