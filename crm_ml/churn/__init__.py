"""Churn: labels, a calibrated LightGBM / random forest model, evaluation, reasons, backtests.

``make_labels`` and ``ChurnModel`` are the entry points (see DESIGN.md); LightGBM is only
imported when a model is fitted.
"""

from crm_ml.churn.backtest import backtest
from crm_ml.churn.evaluation import (
    calibration_table,
    decile_table,
    evaluate_predictions,
    evaluation_figures,
)
from crm_ml.churn.labels import make_labels
from crm_ml.churn.model import ChurnModel
from crm_ml.churn.policy import contact_rate_threshold, expected_profit, profit_threshold

__all__ = ["ChurnModel", "backtest", "calibration_table", "contact_rate_threshold",
           "decile_table", "evaluate_predictions", "evaluation_figures", "expected_profit",
           "make_labels", "profit_threshold"]
