"""Churn: labels, a calibrated LightGBM / random forest model, evaluation, reasons, backtests.

``make_labels`` and ``ChurnModel`` are the entry points (see DESIGN.md); ``log_model`` logs a
fitted model to MLflow and ``model_card`` describes it. LightGBM is only imported when a
model is fitted, MLflow only when something is logged.
"""

from crm_ml._lazy import lazy_dir, lazy_exports
from crm_ml.churn.backtest import backtest
from crm_ml.churn.card import churn_card, model_card
from crm_ml.churn.evaluation import (
    calibration_table,
    decile_table,
    evaluate_predictions,
    evaluation_figures,
)
from crm_ml.churn.labels import make_labels
from crm_ml.churn.model import ChurnModel
from crm_ml.churn.policy import contact_rate_threshold, expected_profit, profit_threshold
from crm_ml.churn.targets import POSITIVE_LABELS
from crm_ml.churn.tracking import log_model

__all__ = ["ChurnModel", "POSITIVE_LABELS", "backtest", "calibration_table", "churn_card",
           "contact_rate_threshold", "decile_table", "evaluate_predictions",
           "evaluation_figures", "expected_profit", "log_model", "make_labels", "model_card",
           "profit_threshold"]

# submodules such as crm_ml.churn.pyfunc load on first access
__getattr__ = lazy_exports(__name__, {})
__dir__ = lazy_dir(globals(), __all__)
