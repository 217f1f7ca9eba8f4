"""Choosing the CLV approach inside ``fit``: a backtest on the calibration history only.

With ``W`` the selection window (``window_days``, default a third of the history, at most
182 days), ``t1 = as_of - W`` and ``t2 = t1 - W``: the purchase and spend models refitted at
``t1`` rank the spend in ``(t1, as_of]`` by expected purchases x expected spend; a booster
trained on (features at ``t2``, spend in ``(t2, t1]``) ranks it from the features at ``t1``
(:mod:`crm_ml.clv.hybrid`). An inner refit that does not converge is retried with a small
penalizer (only its ranking is used). The hybrid is chosen when its normalised Gini is at least the
probabilistic one's. Its production booster is then trained on features at
``as_of - F`` and spend in ``(as_of - F, as_of]``, with ``F`` half the history (at most 365
days) unless ``window_days`` is given. Every date used is on or before ``as_of``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.clv import _data, hybrid
from crm_ml.clv._fitting import CLVConvergenceError
from crm_ml.data.windows import history
from crm_ml.errors import CrmMlError, DataValidationError

MIN_WINDOW_DAYS = 28
MAX_WINDOW_DAYS = 365
MAX_SELECTION_DAYS = 182
#: penalizer of an inner refit that did not converge unpenalised (only ranks are used)
RETRY_PENALIZER = 1e-3


def _probabilistic_at(model, tx: pd.DataFrame, day: pd.Timestamp):
    """A probabilistic copy of ``model`` fitted on ``tx`` up to ``day`` (warnings muted)."""
    params = {**model.get_params(), "method": "probabilistic"}
    copy = type(model)(**params)
    past = history(tx, day)
    if past.empty:
        raise DataValidationError(f"transactions: no purchases on or before {day.date()}",
                                  column="timestamp", rule="history not empty")
    summary = _data.summarise(past, day, model.time_unit, model.zero_amount)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            copy._fit(summary, day, {})
        except CLVConvergenceError:
            if model.penalizer >= RETRY_PENALIZER:
                raise
            copy = type(model)(**{**params, "penalizer": RETRY_PENALIZER})
            copy._fit(summary, day, {})
    return copy


def _features_at(copy, window_days: int) -> pd.DataFrame:
    unit = _data.TIME_UNIT_DAYS[copy.time_unit]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = copy.predict(horizon=window_days / unit)
    return hybrid.features(pred, copy.summary_, unit)


def _ranks(actual: np.ndarray, predicted) -> dict:
    from scipy.stats import spearmanr

    from crm_ml.clv.validation import gini

    p = np.asarray(predicted, dtype=float)
    rho = spearmanr(p, actual).statistic if np.unique(actual).size > 1 else float("nan")
    return {"gini": float(gini(actual, p)), "spearman": float(rho)}


def fit_method(model, tx: pd.DataFrame, day: pd.Timestamp) -> None:
    """Set ``method_``, ``selection_``, ``booster_`` and ``hybrid_window_days_`` on ``model``.

    ``model`` is already fitted (probabilistic) at ``day``; ``tx`` are its policy-filtered
    transactions up to ``day``.
    """
    span = int((day - tx["timestamp"].min().normalize()).days)
    sel_days = int(model.window_days) if model.window_days else min(MAX_SELECTION_DAYS, span // 3)
    fit_days = int(model.window_days) if model.window_days else min(MAX_WINDOW_DAYS, span // 2)
    forced = model.method == "hybrid"
    if sel_days < MIN_WINDOW_DAYS or 2 * sel_days > span:
        reason = (f"history of {span} days is too short for the inner backtest (two spend "
                  f"windows of {sel_days} days, at least {MIN_WINDOW_DAYS} each)")
        if forced:
            raise DataValidationError(f"transactions: the hybrid CLV cannot be trained: "
                                      f"{reason}", column="timestamp",
                                      rule="enough history for the hybrid")
        model._set_probabilistic(reason)
        return
    t1 = day - pd.Timedelta(days=sel_days)
    t2 = t1 - pd.Timedelta(days=sel_days)
    try:
        m1 = _probabilistic_at(model, tx, t1)
        m2 = _probabilistic_at(model, tx, t2)
    except (CrmMlError, ValueError) as exc:
        if forced:
            raise
        model._set_probabilistic(f"the inner backtest could not be fitted ({exc})")
        return
    X1, X2 = _features_at(m1, sel_days), _features_at(m2, sel_days)
    y1 = hybrid.window_spend(tx, t1, sel_days, X1.index)
    y2 = hybrid.window_spend(tx, t2, sel_days, X2.index)
    scores = {
        "hybrid": _ranks(y1, hybrid.predict_booster(
            hybrid.fit_booster(X2, y2, model.random_state), X1)),
        "probabilistic": _ranks(y1, X1["expected_window_value"]),
        "baseline": _ranks(y1, X1["spend_rate"]),
    }
    use_hybrid = forced or scores["hybrid"]["gini"] >= scores["probabilistic"]["gini"]
    chosen = "hybrid" if use_hybrid else "probabilistic"
    reason = ("method='hybrid'" if forced else
              f"{chosen} ranked spend in ({t1.date()}, {day.date()}] better (Gini "
              f"{scores['hybrid']['gini']:.3f} hybrid vs "
              f"{scores['probabilistic']['gini']:.3f} probabilistic)")
    selection = {"chosen": chosen, "reason": reason, "window_days": sel_days,
                 "as_of": str(day.date()), "features_at": str(t1.date()),
                 "trained_at": str(t2.date()), "customers": int(len(y1)),
                 **{f"{k}_{m}": v[m] for k, v in scores.items() for m in ("gini", "spearman")}}
    if not use_hybrid:
        model._set_probabilistic(reason)
        model.selection_ = selection
        return
    if fit_days == sel_days:
        mf, Xf, yf = m1, X1, y1
    else:
        tf = day - pd.Timedelta(days=fit_days)
        mf = _probabilistic_at(model, tx, tf)
        Xf = _features_at(mf, fit_days)
        yf = hybrid.window_spend(tx, tf, fit_days, Xf.index)
    model.method_ = "hybrid"
    model.booster_ = hybrid.fit_booster(Xf, yf, model.random_state)
    model.hybrid_window_days_ = int(fit_days)
    model.selection_ = {**selection, "booster_window_days": int(fit_days),
                        "booster_customers": int(len(yf))}
