"""One logging call per model: the pipelines log each chosen model here, and only here.

Each function logs a fitted model into ``run`` through its module's ``log_model``
(parameters, fitted facts, metrics, aggregate tables, plots and the pyfunc model; never
customer rows or ids) and returns its :class:`~crm_ml.tracking.models.ModelLogResult`.
Registration is left to the pipeline's release plan (``registered_name=None``).
"""

from __future__ import annotations


def log_churn(model, run):
    """Log a fitted :class:`~crm_ml.churn.ChurnModel` into ``run``."""
    from crm_ml.churn import log_model

    return log_model(model, run=run)


def log_clv(model, run, *, horizon: float, discount_rate: float, margin: float):
    """Log a fitted :class:`~crm_ml.clv.CLVModel` into ``run``; its pyfunc predicts
    ``horizon`` periods with ``discount_rate`` and ``margin`` by default (what
    ``crm-ml score`` uses)."""
    from crm_ml.clv import log_model

    return log_model(model, run=run, horizon=horizon, discount_rate=discount_rate,
                     margin=margin)


def log_segments(segmenter, run):
    """Log a fitted :class:`~crm_ml.segmentation.Segmenter` into ``run``."""
    from crm_ml.segmentation import log_model

    return log_model(segmenter, run=run)


def log_forecaster(forecaster, run):
    """Log a fitted :class:`~crm_ml.forecast.ARIMAForecaster` into ``run``.

    The pipeline runs and logs its own backtest (horizon and windows from its config), so
    the module's default one is skipped.
    """
    from crm_ml.forecast import log_model

    return log_model(forecaster, run=run, backtest_windows=0)


def log_rfm_scorer(scorer, run):
    """Log a fitted :class:`~crm_ml.rfm.RFMScorer` (parameters, cut points, segment table)
    into ``run``."""
    from crm_ml.rfm import log_model

    return log_model(scorer, run=run, include_model=False)


def log_recommender(model, run, evaluation: dict):
    """Log a fitted :class:`~crm_ml.recommend.Recommender` and its held-out ``evaluation``
    (metrics, recall@k curve) into ``run``; the pyfunc holds no customer histories."""
    from crm_ml.recommend import log_model

    return log_model(model, run=run, evaluation=evaluation)
