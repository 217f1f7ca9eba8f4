"""The model card of a sales forecast: the fitted model, its backtest against the baseline
actually used (seasonal naive, or naive when the history holds fewer than two seasons), and
ARIMA's own backtest beside a combination's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.model_names import SALES_FORECAST

__all__ = ["model_card"]


def model_card(forecaster, backtest, y: pd.Series, *, period: str = "month", h: int = 12,
               level=(80, 95), by: str | None = None, name: str = SALES_FORECAST,
               run_id: str | None = None, figure=None, arima_backtest=None):
    """A model card for a fitted :class:`~crm_ml.forecast.ARIMAForecaster` or
    :class:`~crm_ml.forecast.CombinationForecaster`.

    Parameters
    ----------
    forecaster : ARIMAForecaster or CombinationForecaster
        The fitted model.
    backtest : BacktestResult
        :func:`crm_ml.forecast.backtest` of the same model on ``y``: its metrics are the
        card's, graded against the baseline that backtest used (seasonal naive, or naive
        when a training window holds fewer than two seasons - named on the card).
    y : Series
        The series the model was fitted on.
    period : str, default "month"
        The series' period in words (``"day"``, ``"week"``, ``"month"``, ``"quarter"``).
    h : int, default 12
        Periods forecast ahead (the intended use).
    level : tuple of int, default (80, 95)
        Interval levels forecast (the intended use).
    by : str, optional
        The column per whose values series are forecast too (the intended use).
    name : str, default "crm-sales-forecast"
        Registered model name.
    run_id : str, optional
        MLflow run the model was logged in.
    figure : matplotlib Figure, optional
        The forecast plot.
    arima_backtest : BacktestResult, optional
        ARIMA's backtest on the same windows, reported beside the model's (when the model is
        not ARIMA itself, e.g. the combination chosen as champion over ARIMA).

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from crm_ml.cards import ModelCard

    m = backtest.metrics
    windows = int(backtest.windows["origin"].nunique())
    backtest_h = int(backtest.forecasts.groupby(["origin", "model"]).size().max())
    base = backtest.baseline
    label = {"arima": "ARIMA", "combination": "combination"}.get(backtest.model, "model")
    level_bt = m.get("level", 95)
    rows = [{"metric": f"{label} MASE (backtest)", "value": m["mase"]},
            {"metric": f"{label} sMAPE % (backtest)", "value": m["smape"]},
            {"metric": f"{label} {level_bt}% interval coverage (backtest)",
             "value": m["coverage"]}]
    if arima_backtest is not None and backtest.model != "arima":
        a = arima_backtest.metrics
        rows += [{"metric": "ARIMA MASE (backtest)", "value": a["mase"]},
                 {"metric": "ARIMA sMAPE % (backtest)", "value": a["smape"]},
                 {"metric": f"ARIMA {a.get('level', 95)}% interval coverage (backtest)",
                  "value": a["coverage"]}]
    rows += [{"metric": f"{base} MASE", "value": m["baseline_mase"]},
             {"metric": f"{base} sMAPE %", "value": m["baseline_smape"]}]
    metrics = pd.DataFrame(rows).assign(ci_low=np.nan, ci_high=np.nan)
    if base == "seasonal naive":
        rule = f"seasonal naive: each {period} repeats the same {period} of the previous season"
    else:
        rule = (f"naive: each {period} repeats the last observed {period} (fewer than two "
                "full seasons of history in a backtest window, so not seasonal naive)")
    same = float(m.get("same_as_baseline", 0.0))
    n_same = int(round(same * windows))
    caveats = []
    if n_same:
        caveats.append(f"In {n_same} of {windows} backtest window(s) the model's forecast was "
                       f"the {base} forecast itself, so those windows cannot show an "
                       "improvement over the baseline.")
        if n_same == windows:
            rule += (f"; the model's forecast equals this baseline in every window, so it "
                     f"is not shown to be better than {base}")
    s = forecaster.summary()
    levels = "/".join(f"{v}%" for v in level)
    adjective = {"day": "Daily"}.get(period, f"{period.capitalize()}ly")
    combined = "weights" in s
    if combined:
        a = s["arima"]
        title = f"{adjective} revenue forecast (ARIMA + ETS + Theta combination)"
        details = {"algorithm": "equal-weight combination via crm_ml CombinationForecaster"
                                if len(set(s["weights"].values())) == 1 else
                                "weighted combination via crm_ml CombinationForecaster",
                   "model": s["model"],
                   "weights": ", ".join(f"{k} {w:.2f}" for k, w in s["weights"].items()),
                   "arima_member": a.get("model"), "aicc": a.get("aicc"),
                   "mlflow_run_id": run_id}
    else:
        title = f"{adjective} revenue forecast (automatic seasonal ARIMA)"
        details = {"algorithm": f"auto.arima ({forecaster.engine} engine) via crm_ml "
                                "ARIMAForecaster",
                   "model": s["model"], "order": str(s["order"]),
                   "seasonal_order": str(s["seasonal_order"]), "aicc": s["aicc"],
                   "transform": s["transform"], "mlflow_run_id": run_id}
    return ModelCard(
        name=name,
        title=title,
        model_details=details,
        intended_use=f"Planning revenue: a point forecast with {levels} intervals per "
                     f"{period}, {h} {period}s ahead"
                     + (f", overall and per {by}." if by else ", overall."),
        out_of_scope="Per-customer predictions (see CLV); horizons far beyond the backtested "
                     f"{backtest_h} {period}s; periods with known one-off events not given "
                     "as exogenous regressors.",
        data={"series": f"net revenue per {period} (returns subtracted), zero-filled",
              "start": str(y.index[0].date()), "end": str(y.index[-1].date()),
              f"{period}s": len(y)},
        metrics=metrics,
        baseline={"metric": "MASE", "model": m["mase"], "baseline": m["baseline_mase"],
                  "baseline_rule": rule, "higher_is_better": False},
        caveats=caveats + [
            f"Backtest: {windows} rolling origins of {backtest_h} {period}s; few windows, so "
            "metrics are noisy.",
            f"A half-observed final {period} is dropped before fitting.",
            "Refit regularly; check the Ljung-Box p-value (residual autocorrelation)."],
        figures={} if figure is None else {"forecast": figure},
    )
