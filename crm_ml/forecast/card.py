"""The model card of a sales forecast: the fitted model, its backtest against seasonal naive."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.model_names import SALES_FORECAST

__all__ = ["model_card"]


def model_card(forecaster, backtest, y: pd.Series, *, period: str = "month", h: int = 12,
               level=(80, 95), by: str | None = None, name: str = SALES_FORECAST,
               run_id: str | None = None, figure=None):
    """A model card for a fitted :class:`~crm_ml.forecast.ARIMAForecaster`.

    Parameters
    ----------
    forecaster : ARIMAForecaster
        The fitted model.
    backtest : BacktestResult
        :func:`crm_ml.forecast.backtest` of the same settings on ``y``: its metrics are the
        card's, graded against its seasonal naive baseline.
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

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from crm_ml.cards import ModelCard

    m = backtest.metrics
    windows = int(backtest.windows["origin"].nunique())
    backtest_h = int(backtest.forecasts.groupby(["origin", "model"]).size().max())
    metrics = pd.DataFrame([
        {"metric": "MASE (backtest)", "value": m["mase"]},
        {"metric": "sMAPE % (backtest)", "value": m["smape"]},
        {"metric": "95% interval coverage (backtest)", "value": m["coverage"]},
        {"metric": "seasonal naive MASE", "value": m["snaive_mase"]},
        {"metric": "seasonal naive sMAPE %", "value": m["snaive_smape"]},
    ]).assign(ci_low=np.nan, ci_high=np.nan)
    s = forecaster.summary()
    levels = "/".join(f"{v}%" for v in level)
    adjective = {"day": "Daily"}.get(period, f"{period.capitalize()}ly")
    return ModelCard(
        name=name,
        title=f"{adjective} revenue forecast (automatic seasonal ARIMA)",
        model_details={"algorithm": f"auto.arima ({forecaster.engine} engine) via crm_ml "
                                    "ARIMAForecaster",
                       "model": s["model"], "order": str(s["order"]),
                       "seasonal_order": str(s["seasonal_order"]), "aicc": s["aicc"],
                       "transform": s["transform"], "mlflow_run_id": run_id},
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
        baseline={"metric": "MASE", "model": m["mase"], "baseline": m["snaive_mase"],
                  "baseline_rule": f"seasonal naive: each {period} repeats the same {period} "
                                   "of the previous season", "higher_is_better": False},
        caveats=[f"Backtest: {windows} rolling origins of {backtest_h} {period}s; few "
                 "windows, so metrics are noisy.",
                 f"A half-observed final {period} is dropped before fitting.",
                 "Refit regularly; check the Ljung-Box p-value (residual autocorrelation)."],
        figures={} if figure is None else {"forecast": figure},
    )
