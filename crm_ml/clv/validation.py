"""Backtest of CLV predictions (Fader, Hardie & Lee 2005 calibration/holdout style).

:func:`backtest` refits the model on the history up to ``as_of``; for every customer of that
history it predicts the repeat purchases and the spend of the holdout
``(as_of, as_of + horizon_days]`` and these are compared with what happened.
:func:`validate` is the older spelling with ``calibration_end`` / ``holdout_end`` dates (same
results). Nothing is logged here: a pipeline (or the user) logs a result with
:func:`crm_ml.clv.tracking.log_backtest`. Keys of the result:

- ``predicted_total`` / ``actual_total``: repeat purchase occasions (distinct purchase days) in
  the holdout, summed over customers; ``mae``: mean absolute error per customer of the same;
- ``spearman``: rank correlation of predicted holdout value (the model's undiscounted ``clv``
  at margin 1: expected purchases x expected spend when probabilistic, the spend booster's
  value when hybrid) with actual holdout spend;
- ``gini``: normalised Gini of predicted value against actual spend (1 = perfect ranking,
  0 = random);
- ``deciles``: customers split into ten groups by predicted value (10 = highest), predicted and
  actual purchases and spend per group;
- ``baseline``: the same metrics for "past average spend carried forward" (each customer's
  spend per day over the calibration history times the holdout length).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.clv import _data
from crm_ml.data.windows import as_of_day, future
from crm_ml.errors import DataValidationError


def gini(actual, predicted) -> float:
    """Normalised Gini coefficient of ``predicted`` as a ranking of ``actual`` (1 = perfect)."""
    a = np.asarray(actual, dtype=float)
    p = np.asarray(predicted, dtype=float)

    def _g(score):
        order = np.lexsort((np.arange(len(a)), -score))
        s = a[order]
        total = s.sum()
        if total == 0:
            return 0.0
        cum = np.cumsum(s) / total
        return float(cum.sum() / len(a) - (len(a) + 1) / (2 * len(a)))

    best = _g(a)
    return float(_g(p) / best) if best != 0 else float("nan")


def value_metrics(actual: pd.Series, predicted: pd.Series) -> dict:
    """spearman, gini, value_mae and totals of a predicted vs actual spend."""
    from scipy.stats import spearmanr

    rho = spearmanr(predicted, actual).statistic if actual.nunique() > 1 else float("nan")
    return {
        "spearman": float(rho),
        "gini": gini(actual, predicted),
        "value_mae": float(np.mean(np.abs(predicted - actual))),
        "value_predicted_total": float(predicted.sum()),
        "value_actual_total": float(actual.sum()),
    }


def decile_table(frame: pd.DataFrame, by: str, columns: list[str]) -> pd.DataFrame:
    """Sum of ``columns`` per decile of ``frame[by]`` (decile 10 = highest)."""
    rank = frame[by].rank(method="first")
    dec = np.ceil(rank / len(frame) * 10).clip(1, 10).astype(int)
    out = frame.groupby(dec)[columns].sum()
    out.insert(0, "customers", frame.groupby(dec).size())
    out.index.name = "decile"
    return out


def holdout_actuals(transactions: pd.DataFrame, calibration_end, holdout_end,
                    customers: pd.Index, zero_amount: str = "drop") -> pd.DataFrame:
    """Actual holdout repeat purchases (distinct purchase days) and spend per customer."""
    days = (as_of_day(holdout_end) - as_of_day(calibration_end)).days
    if days <= 0:
        raise DataValidationError("holdout_end: must be after calibration_end",
                                  column="holdout_end", rule="> calibration_end")
    tx, _ = _data.apply_policy(transactions, holdout_end, zero_amount)
    hold = future(tx, calibration_end, days)
    hold = hold[hold["customer_id"].astype(str).isin(customers)]
    day = hold["timestamp"].dt.normalize()
    g = pd.DataFrame({"customer_id": hold["customer_id"].astype(str), "day": day,
                      "amount": hold["amount"]}).groupby("customer_id")
    out = pd.DataFrame({"actual_purchases": g["day"].nunique(), "actual_value": g["amount"].sum()})
    out = out.reindex(customers).fillna(0.0)
    out.index.name = "customer_id"
    return out


def backtest(model, transactions: pd.DataFrame, as_of, horizon_days: int,
             plots: bool = True) -> dict:
    """Fit a copy of ``model`` on history up to ``as_of``; score it on the next ``horizon_days``.

    Parameters
    ----------
    model : CLVModel
        Unfitted or fitted; only its parameters are used (it is not modified). The refit runs
        under :func:`crm_ml.tracking.autologging.paused` (it is not logged).
    transactions : DataFrame
        Canonical transactions covering history and holdout.
    as_of : date-like
        Last day of the history the copy is fitted on.
    horizon_days : int
        Holdout length: the holdout is ``(as_of, as_of + horizon_days]``.
    plots : bool
        Add ``figures`` (tracking plot and calibration-vs-holdout plot).

    Returns
    -------
    dict
        predicted_total, actual_total, mae, spearman, gini, value_mae, value_predicted_total,
        value_actual_total, n_customers, holdout_days, as_of, holdout_end, deciles (DataFrame),
        baseline (dict of the same metrics for past average spend carried forward),
        per_customer (DataFrame), calibration_summary (the per-customer summary at ``as_of``),
        params, figures.

    Raises
    ------
    DataValidationError
        ``horizon_days`` is not a whole number of days > 0.
    """
    from sklearn.base import clone

    from crm_ml.tracking.autologging import paused

    days = _horizon_days(horizon_days)
    cal_day = as_of_day(as_of)
    hold_day = cal_day + pd.Timedelta(days=days)
    unit = _data.TIME_UNIT_DAYS[model.time_unit]
    cal = clone(model)
    with paused():
        cal.fit(transactions, cal_day)
    pred = cal.predict(horizon=days / unit)
    act = holdout_actuals(transactions, cal_day, hold_day, pred.index, model.zero_amount)
    summ = cal.summary_
    per = pd.DataFrame({
        "frequency": summ["frequency"].reindex(pred.index),
        "predicted_purchases": pred["expected_purchases"],
        "actual_purchases": act["actual_purchases"],
        # the model's own undiscounted value (expected purchases x expected spend when
        # probabilistic, the spend booster's when hybrid)
        "predicted_value": pred["clv"],
        "actual_value": act["actual_value"],
    })
    tenure = (cal_day - pd.to_datetime(summ["first_purchase"]).dt.normalize()).dt.days
    spend = summ["total_spend"].clip(lower=0) if "total_spend" in summ else 0.0
    per["baseline_value"] = (spend / (tenure + 1) * days).reindex(pred.index)
    out = {
        "predicted_total": float(per["predicted_purchases"].sum()),
        "actual_total": float(per["actual_purchases"].sum()),
        "mae": float((per["predicted_purchases"] - per["actual_purchases"]).abs().mean()),
        **value_metrics(per["actual_value"], per["predicted_value"]),
        "n_customers": int(len(per)),
        "holdout_days": int(days),
        "as_of": cal_day,
        "holdout_end": hold_day,
    }
    out["deciles"] = decile_table(per, "predicted_value", [
        "predicted_purchases", "actual_purchases", "predicted_value", "actual_value"])
    out["baseline"] = value_metrics(per["actual_value"], per["baseline_value"])
    out["per_customer"] = per
    out["calibration_summary"] = summ
    out["params"] = dict(cal.params_)
    out["method"] = getattr(cal, "method_", "probabilistic")
    out["selection"] = dict(getattr(cal, "selection_", {}))
    if plots:
        from crm_ml.clv.plots import calibration_holdout_plot, tracking_plot

        out["figures"] = {
            "tracking": tracking_plot(cal, transactions, cal_day, hold_day),
            "calibration_holdout": calibration_holdout_plot(per),
        }
    return out


def validate(model, transactions: pd.DataFrame, calibration_end, holdout_end,
             plots: bool = True) -> dict:
    """Alias of :func:`backtest`: ``as_of=calibration_end``, holdout up to ``holdout_end``.

    Parameters
    ----------
    model : CLVModel
    transactions : DataFrame
    calibration_end, holdout_end : date-like
        Last day of the calibration history and of the holdout.
    plots : bool

    Returns
    -------
    dict
        As :func:`backtest` with ``horizon_days = holdout_end - calibration_end`` (days).
    """
    return backtest(model, transactions, calibration_end,
                    holdout_days(calibration_end, holdout_end), plots=plots)


def holdout_days(calibration_end, holdout_end) -> int:
    """Days from ``calibration_end`` to ``holdout_end``; DataValidationError unless > 0."""
    days = (as_of_day(holdout_end) - as_of_day(calibration_end)).days
    if days <= 0:
        raise DataValidationError("holdout_end: must be after calibration_end",
                                  column="holdout_end", rule="> calibration_end")
    return days


def _horizon_days(value) -> int:
    """``value`` as a whole number of days > 0, else DataValidationError."""
    try:
        days = float(value)
    except (TypeError, ValueError):
        days = float("nan")
    if not (np.isfinite(days) and days > 0 and days == int(days)):
        raise DataValidationError(f"horizon_days: must be a whole number of days > 0, got "
                                  f"{value!r}", column="horizon_days", rule="integer > 0")
    return int(days)
