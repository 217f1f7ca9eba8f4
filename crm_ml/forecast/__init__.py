"""crm_ml.forecast: sales series, automatic (seasonal) ARIMA and ARIMA+ETS+Theta combination forecasts.

>>> from crm_ml.forecast import sales_series, ARIMAForecaster
>>> y = sales_series(tx, freq="M")                     # doctest: +SKIP
>>> f = ARIMAForecaster().fit(y)                       # doctest: +SKIP
>>> f.predict(h=12, level=95)                          # doctest: +SKIP
>>> crm_ml.forecast.log_model(f)                       # doctest: +SKIP

The hand-written ARIMA engine lives in :mod:`crm_ml.forecast.arima` (see its README.md).
"""

from crm_ml.forecast.backtest import BacktestResult, backtest
from crm_ml.forecast.card import model_card
from crm_ml.forecast.combination import CombinationForecaster
from crm_ml.forecast.forecaster import ARIMAForecaster
from crm_ml.forecast.many import forecast_many
from crm_ml.forecast.metrics import coverage, mase, smape
from crm_ml.forecast.series import sales_series
from crm_ml.forecast.tracking import log_model

__all__ = [
    "ARIMAForecaster",
    "BacktestResult",
    "CombinationForecaster",
    "backtest",
    "coverage",
    "forecast_many",
    "log_model",
    "mase",
    "model_card",
    "sales_series",
    "smape",
]
