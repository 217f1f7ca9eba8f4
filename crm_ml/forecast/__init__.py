"""crm_ml.forecast: sales series and automatic (seasonal) ARIMA forecasts.

>>> from crm_ml.forecast import sales_series, ARIMAForecaster
>>> y = sales_series(tx, freq="M")                     # doctest: +SKIP
>>> ARIMAForecaster().fit(y).predict(h=12, level=95)   # doctest: +SKIP
"""

from crm_ml.forecast.backtest import BacktestResult, backtest
from crm_ml.forecast.forecaster import ARIMAForecaster
from crm_ml.forecast.many import forecast_many
from crm_ml.forecast.metrics import coverage, mase, smape
from crm_ml.forecast.series import sales_series

__all__ = [
    "ARIMAForecaster",
    "BacktestResult",
    "backtest",
    "coverage",
    "forecast_many",
    "mase",
    "sales_series",
    "smape",
]
