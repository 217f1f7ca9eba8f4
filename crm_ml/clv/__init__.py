"""Customer lifetime value: BG/NBD, MBG/NBD or Pareto/NBD with Gamma-Gamma (via lifetimes).

``CLVModel`` fits and predicts; ``backtest`` checks it on the ``horizon_days`` after an
``as_of`` (``validate`` is the older calibration/holdout spelling); ``LightGBMSpendModel`` is the
machine-learning alternative backtested the same way (``backtest_ml``); ``value_at_risk`` ranks
customers by CLV x churn probability; ``log_model`` logs a fitted model to MLflow and
``model_card`` builds its card. Names (and submodules such as ``crm_ml.clv.pyfunc``) load
lazily.
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "CLVModel": "crm_ml.clv.model",
    "assign_tiers": "crm_ml.clv.model",
    "purchase_summary": "crm_ml.clv._data",
    "purchase_features": "crm_ml.clv.features",
    "CLVAssumptionWarning": "crm_ml.clv._fitting",
    "CLVConvergenceError": "crm_ml.clv._fitting",
    "backtest": "crm_ml.clv.validation",
    "validate": "crm_ml.clv.validation",
    "gini": "crm_ml.clv.validation",
    "LightGBMSpendModel": "crm_ml.clv.ml",
    "backtest_ml": "crm_ml.clv.ml",
    "validate_ml": "crm_ml.clv.ml",
    "value_at_risk": "crm_ml.clv.risk",
    "load_cdnow_sample": "crm_ml.clv.datasets",
    "model_card": "crm_ml.clv.card",
    "build_card": "crm_ml.clv.card",
    "log_model": "crm_ml.clv.tracking",
    "log_backtest": "crm_ml.clv.tracking",
    "save_pyfunc": "crm_ml.clv.pyfunc",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
