"""crm_ml's hand-written ARIMA engine: numba-compiled estimation and an auto.arima search.

See ``README.md`` in this folder for the design. Entry points:

* :func:`auto_arima` / :func:`akaike_average` / :func:`fit_arima` / :func:`forecast`
  (:mod:`crm_ml.forecast.arima.fast`): one model, the order search, the averaged forecast;
* :class:`FastArimaEngine`, :class:`BaggedArimaEngine`, :class:`AutoArimaEngine`
  (statsforecast) and :class:`SimpleEngine` (fallbacks) (:mod:`crm_ml.forecast.arima.engines`):
  the engines :class:`~crm_ml.forecast.ARIMAForecaster` drives.

Names load on first use, so importing the package does not compile the numba kernels.
"""

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "ArimaFit": "crm_ml.forecast.arima.fast",
    "akaike_average": "crm_ml.forecast.arima.fast",
    "auto_arima": "crm_ml.forecast.arima.fast",
    "averaged_forecast": "crm_ml.forecast.arima.fast",
    "fit_arima": "crm_ml.forecast.arima.fast",
    "forecast": "crm_ml.forecast.arima.fast",
    "AutoArimaEngine": "crm_ml.forecast.arima.engines",
    "BaggedArimaEngine": "crm_ml.forecast.arima.engines",
    "FastArimaEngine": "crm_ml.forecast.arima.engines",
    "SimpleEngine": "crm_ml.forecast.arima.engines",
    "bld_mbb_bootstraps": "crm_ml.forecast.arima.bootstrap",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
