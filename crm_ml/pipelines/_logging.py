"""One logging call per model: the pipelines log each chosen model here, and only here.

Each function logs a fitted model into ``run`` (parameters, fitted facts, metrics, aggregate
tables, plots and the pyfunc model; never customer rows or ids) and returns its
:class:`~crm_ml.tracking.models.ModelLogResult`. Registration is left to the pipeline's
release plan (``registered_name=None``).

TODO(merge): the model modules' ``log_model(model, *, run=None, registered_name=None,
include_model=True)`` are being written on other branches; until they are merged each
function falls back to the module's older logging, and :func:`untracked` switches off the
logging that estimators still do inside ``fit``. Remove every ``except ImportError`` branch
and :func:`untracked` at the merge.
"""

from __future__ import annotations

import inspect
import tempfile
from pathlib import Path

import pandas as pd


def untracked(cls, **params):
    """``cls(**params)``, with the estimator's own in-``fit`` logging off where it still has it.

    TODO(merge): remove (after the merge ``fit`` does not log inside :func:`paused
    <crm_ml.tracking.autolog.paused>`); call ``cls(**params)``.
    """
    if "track" in inspect.signature(cls).parameters:
        params["track"] = False
    return cls(**params)


def untracked_call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with ``track=False`` where ``fn`` still takes it.

    TODO(merge): remove, as :func:`untracked`.
    """
    if "track" in inspect.signature(fn).parameters:
        kwargs["track"] = False
    return fn(*args, **kwargs)


def log_churn(model, run):
    """Log a fitted :class:`~crm_ml.churn.ChurnModel` into ``run``."""
    try:
        from crm_ml.churn import log_model
    except ImportError:  # TODO(merge): remove fallback
        from crm_ml.churn.pyfunc import log_churn_model

        params = {k: v for k, v in model.get_params().items() if k != "track"}
        params.update(n_estimators_fitted=model.n_estimators_, num_leaves_fitted=model.num_leaves_,
                      max_depth_fitted=model.max_depth_, n_features=model.n_features_in_)
        run.log_params(params)
        run.log_metrics({f"cv_{k}": v for k, v in model.cv_metrics_.items()})
        run.log_dict({"features": model.feature_names_in_,
                      "dropped": model.preprocessor_.dropped_}, "features.json")
        return log_churn_model(model, run, registered_name=None)
    return log_model(model, run=run)


def log_clv(model, run, *, horizon: float, discount_rate: float, margin: float):
    """Log a fitted :class:`~crm_ml.clv.CLVModel` into ``run``; its pyfunc predicts
    ``horizon`` periods with ``discount_rate`` and ``margin`` by default."""
    try:
        from crm_ml.clv import log_model
    except ImportError:  # TODO(merge): remove fallback
        from crm_ml.clv.pyfunc import log_clv_model

        run.log_params({"purchase_model": model.purchase_model, "time_unit": model.time_unit,
                        "horizon": horizon, "discount_rate": discount_rate, "margin": margin})
        return log_clv_model(run, model, registered_name=None, horizon=horizon,
                             discount_rate=discount_rate, margin=margin)
    # TODO(merge): the registered pyfunc must default to the config's horizon, discount rate
    # and margin (``crm-ml score`` uses them): pass them if the new log_model takes them
    return log_model(model, run=run)


def log_segments(segmenter, run):
    """Log a fitted :class:`~crm_ml.segmentation.Segmenter` into ``run``."""
    try:
        from crm_ml.segmentation import log_model
    except ImportError:  # TODO(merge): remove fallback
        segmenter.log_to(run)
        return segmenter.log_model(run, registered_name=None)
    return log_model(segmenter, run=run)


def log_forecaster(forecaster, run, *, backtest_mase: float):
    """Log a fitted :class:`~crm_ml.forecast.ARIMAForecaster` into ``run`` (its backtest MASE
    is also logged as the run's ``backtest_mase`` metric by the pipeline)."""
    try:
        from crm_ml.forecast import log_model
    except ImportError:  # TODO(merge): remove fallback
        from crm_ml.forecast.pyfunc import ForecastPyfunc, forecast_signature, save_forecaster
        from crm_ml.tracking import log_pyfunc_model

        with tempfile.TemporaryDirectory() as tmp:
            path = save_forecaster(forecaster, Path(tmp) / "forecaster.json")
            return log_pyfunc_model(
                run, ForecastPyfunc(), artifacts={"forecaster": str(path)},
                input_example=pd.DataFrame({"h": [3], "level": [80]}),
                signature=forecast_signature(),
                metadata={"backtest_mase": backtest_mase, "model": forecaster.model_})
    return log_model(forecaster, run=run)


def log_rfm_scorer(scorer, run) -> None:
    """Log a fitted :class:`~crm_ml.rfm.RFMScorer` (parameters and cut points) into ``run``."""
    try:
        from crm_ml.rfm import log_model
    except ImportError:  # TODO(merge): remove fallback
        run.log_params({"bins": scorer.bins})
        run.log_table(scorer.edges_table(), "rfm_cut_points")
        run.log_dict(scorer.to_dict(), "rfm_scorer.json")
        return None
    return log_model(scorer, run=run, include_model=False)
