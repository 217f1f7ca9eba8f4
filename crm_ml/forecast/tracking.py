"""``log_model``: a fitted ARIMAForecaster to MLflow, when the user asks for it.

Called explicitly (``crm_ml.forecast.log_model(f)``) or by ``fit`` under
:func:`crm_ml.tracking.autolog` / inside an active run. Logs only aggregates: the chosen
model, information criteria, residual diagnostics, backtest metrics, plots and the pyfunc
model (whose state holds the aggregate series it was fitted on, never customer rows).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from crm_ml.forecast.arima.engines import BaggedArimaEngine, FastArimaEngine
from crm_ml.forecast.backtest import backtest
from crm_ml.tracking.autologging import model_run, paused
from crm_ml.tracking.models import ModelLogResult


def _params(model, summary: dict) -> dict:
    params = {**model.get_params(),
              "season_length_": model.season_length_, "model": summary["model"],
              "order": summary["order"], "seasonal_order": summary["seasonal_order"],
              "lambda": summary["lambda"], "fallback": summary["fallback"],
              "n_obs": summary["n_obs"], "frequency": model.freq_,
              "exog": ",".join(model.exog_columns_)}
    if "weights" in summary:  # a CombinationForecaster: its members and their weights
        params.update({f"weight_{k}": v for k, v in summary["weights"].items()})
        params.update({f"member_{k}": v for k, v in summary["members"].items()})
        return params
    if isinstance(model.engine_, BaggedArimaEngine):
        params["n_bagged_"] = model.engine_.n_bagged_
    elif isinstance(model.engine_, FastArimaEngine):
        params["n_averaged_"] = model.engine_.n_averaged_
    return params


def _backtest(model, windows: int):
    """Rolling-origin backtest of the model's settings (horizon one season), or None when
    the series is too short, it has regressors or ``windows`` is 0."""
    h = model.season_length_ if model.season_length_ > 1 else 4
    if not windows or model.exog_columns_ or \
            len(model.y_) < max(getattr(model, "min_obs", 6), 2) + h * windows:
        return None
    return backtest(model.y_, h=h, n_windows=windows, level=95, estimator=model)


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True, backtest_windows: int = 2) -> ModelLogResult:
    """Log a fitted :class:`~crm_ml.forecast.ARIMAForecaster` (or
    :class:`~crm_ml.forecast.CombinationForecaster`) to MLflow.

    Logs the parameters (``get_params()`` plus the chosen model, order, Box-Cox lambda,
    fallback), metrics (AICc, AIC, BIC, sigma2, the Ljung-Box p-value of the residuals and
    the rolling-origin backtest's MASE/sMAPE/coverage beside the seasonal naive's), the
    forecast and backtest plots and windows, and - with ``include_model`` - the MLflow
    pyfunc model (input ``h`` and optional ``level``). The model is not modified; the
    backtest refits run under :func:`crm_ml.tracking.paused` (they log nothing).

    Parameters
    ----------
    model : ARIMAForecaster
        A fitted forecaster.
    run : TrackedRun, optional
        The run to log into; default: the active MLflow run, else a new run.
    registered_name : str, optional
        Register the pyfunc model under this name (e.g.
        :data:`crm_ml.model_names.SALES_FORECAST`); the new version gets the ``challenger``
        alias.
    include_model : bool, default True
        Also log the pyfunc model.
    backtest_windows : int, default 2
        Rolling-origin windows (horizon one season) of the logged backtest; 0 skips it.

    Returns
    -------
    ModelLogResult
        ``model_uri`` (None without ``include_model`` or with tracking off),
        ``registered_version`` and ``run_id``.
    """
    import matplotlib.pyplot as plt

    model._check_fitted()
    summary = model.summary()
    arima = summary.get("arima", summary)  # a combination: its ARIMA member's criteria
    metrics = {k: arima[k] for k in ("aicc", "aic", "bic", "sigma2") if k in arima}
    lb = arima.get("ljung_box", ())
    if len(lb):
        metrics["ljung_box_pvalue"] = float(lb["lb_pvalue"].iloc[-1])
    with model_run("forecast", run, run_name=type(model).__name__) as tracked:
        if not tracked.active:
            return ModelLogResult(None, None, None)
        with paused():
            bt = _backtest(model, backtest_windows)
        if bt is not None:
            metrics.update({f"backtest_{k}": v for k, v in bt.scores().items()})
        tracked.log_params(_params(model, summary))
        tracked.set_tags({"forecast.freq": model.freq_})
        tracked.log_metrics(metrics)
        figures, last_forecast = [], model.last_forecast_
        try:
            # a model with regressors cannot forecast before it is given their future values
            needs_future_X = bool(model.exog_columns_) and model.is_arima_
            if not needs_future_X:
                figures.append(model.plot(h=max(2 * model.season_length_, 8)))
            elif hasattr(model, "_plot_in_sample"):
                figures.append(model._plot_in_sample())
            if figures:
                tracked.log_figure(figures[-1], "forecast")
            if bt is not None:
                tracked.log_table(bt.windows, "backtest_windows")
                figures.append(bt.plot())
                tracked.log_figure(figures[-1], "backtest")
        finally:
            model.last_forecast_ = last_forecast  # plotting forecasts; the model stays as it was
            for fig in figures:
                plt.close(fig)
        uri = version = None
        if include_model:
            uri, version = _log_pyfunc(model, tracked, registered_name, bt)
        return ModelLogResult(uri, version, tracked.run_id)


def _log_pyfunc(model, tracked, registered_name, bt):
    from crm_ml.forecast.pyfunc import ForecastPyfunc, forecast_signature
    from crm_ml.tracking.models import log_pyfunc_model

    metadata = {"model": model.model_}
    if bt is not None:
        metadata["backtest_mase"] = bt.metrics["mase"]
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp) / "forecaster.json")
        logged = log_pyfunc_model(tracked, ForecastPyfunc(),
                                  artifacts={"forecaster": str(path)},
                                  input_example=pd.DataFrame({"h": [3], "level": [80]}),
                                  registered_name=registered_name,
                                  signature=forecast_signature(), metadata=metadata)
    return logged.model_uri, logged.registered_version
