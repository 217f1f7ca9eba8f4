"""Log CLV models and backtests to MLflow, when the user (or a pipeline) asks for it.

:func:`log_model` is the one entry point for a fitted model (``CLVModel`` or
``LightGBMSpendModel``); ``CLVModel.fit`` calls it through
:func:`crm_ml.tracking.autologging.after_fit` only under ``crm_ml.tracking.autolog()`` or inside an
active run. :func:`log_backtest` logs a :func:`crm_ml.clv.backtest` result (holdout metrics,
deciles, plots): backtests never log themselves; the pipelines call it in their run.
Nothing logged here holds customer rows or identifiers.
"""

from __future__ import annotations

import tempfile

import numpy as np

from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

#: holdout metrics of a backtest result logged by :func:`log_backtest`
BACKTEST_METRICS = ("predicted_total", "actual_total", "mae", "spearman", "gini", "value_mae",
                    "value_predicted_total", "value_actual_total")


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True, horizon: float = 52, discount_rate: float = 0.0,
              margin: float = 1.0) -> ModelLogResult:
    """Log a fitted CLV model: parameters, fitted facts, tables and the MLflow pyfunc model.

    Parameters
    ----------
    model : CLVModel or LightGBMSpendModel
        A fitted model; it is not modified.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new run
        (see :func:`crm_ml.tracking.model_run`).
    registered_name : str, optional
        Register the logged model under this name (e.g. :data:`crm_ml.model_names.CLV`);
        the new version gets the ``challenger`` alias.
    include_model : bool, default True
        Also log the model itself. A ``CLVModel`` is logged as the ``crm-clv`` pyfunc
        (parameters as JSON; input frequency, recency, T, monetary_value); a
        ``LightGBMSpendModel`` as its LightGBM booster in LightGBM's text format.
    horizon, discount_rate, margin : float
        ``CLVModel`` only: the pyfunc's default prediction settings (``horizon`` in the
        model's ``time_unit``; callers can override them per request).

    Returns
    -------
    ModelLogResult
        ``model_uri`` and ``registered_version`` are None when no model was logged
        (``include_model=False`` or tracking off).
    """
    from crm_ml.clv.ml import LightGBMSpendModel

    if isinstance(model, LightGBMSpendModel):
        return _log_lightgbm(model, run, registered_name, include_model)
    model._require_fit()
    data_as_of = None if model.as_of_ is None else str(model.as_of_.date())
    with model_run("clv", run, run_name=f"clv-{model.purchase_model}") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params({**model.get_params(), "as_of": data_as_of or "summary"})
        d = model.diagnostics_ if hasattr(model, "diagnostics_") else {}
        metrics = {f"param_{k}": v for k, v in model.params_.items()}
        metrics.update({f"se_{k}": v for k, v in model.standard_errors_.items()
                        if np.isfinite(v)})
        metrics.update({k: float(d[k]) for k in (
            "n_customers", "n_repeat_customers", "purchase_loglik", "spend_loglik",
            "frequency_spend_corr") if k in d})
        metrics.update({f"policy_{k}": float(v) for k, v in d.get("data_policy", {}).items()})
        r.log_metrics(metrics)
        if hasattr(model, "params_table_"):
            r.log_table(model.params_table_, "clv_params")
        if d.get("warnings"):
            r.log_text("\n".join(d["warnings"]), "clv_warnings.txt")
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        from crm_ml.clv.pyfunc import CLVPyfuncModel, input_example, save_artifacts, signature
        from crm_ml.tracking.models import log_pyfunc_model

        with tempfile.TemporaryDirectory() as tmp:
            return log_pyfunc_model(
                r, CLVPyfuncModel(),
                artifacts=save_artifacts(model, tmp, horizon=horizon,
                                         discount_rate=discount_rate, margin=margin),
                input_example=input_example(model.time_unit), signature=signature(model),
                registered_name=registered_name,
                metadata={"module": "clv", "time_unit": model.time_unit})


def _log_lightgbm(model, run, registered_name, include_model) -> ModelLogResult:
    from crm_ml.errors import NotFittedError

    if not hasattr(model, "model_"):
        raise NotFittedError("LightGBMSpendModel is not fitted")
    with model_run("clv", run, run_name="clv-lightgbm") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params(model.get_params())
        r.log_metrics({"label_days": model.label_days_,
                       "n_features": len(model.feature_names_),
                       "prediction_scale": model.prediction_scale_})
        r.log_table(model.feature_importance(), "clv_lightgbm_importance")
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        import mlflow.lightgbm

        from crm_ml.tracking.models import _as_active, default_pip_requirements

        with _as_active(r):
            # the Booster, not the scikit-learn wrapper: MLflow stores a Booster in
            # LightGBM's own text format (the wrapper would be pickled)
            info = mlflow.lightgbm.log_model(
                model.model_.booster_, name="model", input_example=model.input_example(),
                pip_requirements=default_pip_requirements(),
                metadata={"module": "clv", "prediction_scale": model.prediction_scale_,
                          "output": "spend in the label window; multiply by "
                                    "prediction_scale for horizon_days"})
        version = None
        if registered_name:
            from crm_ml.tracking.registry import register

            version = register(info.model_uri, registered_name, run_id=r.run_id)
        return ModelLogResult(info.model_uri, version, r.run_id)


def log_backtest(result: dict, *, run=None, prefix: str = "holdout") -> str | None:
    """Log a :func:`crm_ml.clv.backtest` (or ``validate``) result: metrics, deciles, plots.

    Parameters
    ----------
    result : dict
        The backtest output.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new run.
    prefix : str
        Metric name prefix (``holdout_gini`` ...); the baseline's metrics get ``baseline_``.

    Returns
    -------
    str or None
        The run id (None when tracking is off).
    """
    with model_run("clv", run, run_name="clv-backtest") as r:
        if not r.active:
            return None
        r.log_metrics({f"{prefix}_{k}": result[k] for k in BACKTEST_METRICS if k in result})
        r.log_metrics({"holdout_days": result["holdout_days"],
                       "holdout_customers": result["n_customers"]})
        r.log_metrics({f"baseline_{k}": v for k, v in result.get("baseline", {}).items()})
        if "deciles" in result:
            r.log_table(result["deciles"].reset_index(), f"clv_{prefix}_deciles")
        for name, fig in result.get("figures", {}).items():
            r.log_figure(fig, f"clv_{name}")
        return r.run_id
