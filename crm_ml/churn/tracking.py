"""Log a fitted ChurnModel to MLflow: parameters, held-out metrics, tables, plots, the model.

``ChurnModel.fit`` logs nothing by itself; this is what runs when the user asks for it, with
:func:`log_model`, :func:`crm_ml.tracking.autolog` or a fit inside an active MLflow run.
"""

from __future__ import annotations

from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

__all__ = ["log_model"]


def _params(model) -> dict:
    params = model.get_params()
    params.update({"n_estimators_fitted": model.n_estimators_,
                   "num_leaves_fitted": model.num_leaves_, "max_depth_fitted": model.max_depth_,
                   "min_samples_leaf_fitted": getattr(model, "min_samples_leaf_", None),
                   "models_averaged": model.n_bagged_, "n_features": model.n_features_in_,
                   "n_rows": getattr(model, "n_train_", None),
                   "classes": [str(c) for c in model.classes_],
                   "pos_label": str(model.pos_label_)})
    return params


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True) -> ModelLogResult:
    """Log a fitted :class:`~crm_ml.churn.ChurnModel` to MLflow.

    Logs the parameters (``get_params()`` plus fitted facts: trees, leaves or depth, models
    averaged, features, rows, classes and the churn label), the held-out (out-of-fold)
    metrics as ``cv_roc_auc`` ... (computed on ``oof_proba_``: out-of-fold scores, each fold
    calibrated by a calibrator fitted on the other folds only, so ``cv_brier``, ``cv_log_loss``
    and ``cv_expected_calibration_error`` are held-out calibration, never the calibrator
    graded on its own fit data), the out-of-fold decile and calibration tables and ROC/PR/calibration/gains plots
    (``cv_*``; absent when the model was fitted with ``calibrate=False`` or loaded from
    files), ``features.json`` (input, encoded and dropped columns) and, with
    ``include_model``, the MLflow pyfunc model (:mod:`crm_ml.churn.pyfunc`) with a
    synthetic input example. No customer row or id is logged.

    Parameters
    ----------
    model : ChurnModel
        A fitted model; it is not modified.
    run : crm_ml.tracking.TrackedRun, optional
        The run to log into. Default: the active MLflow run, else a new run
        (:func:`crm_ml.tracking.model_run`).
    registered_name : str, optional
        Also register the pyfunc model under this name (e.g.
        :data:`crm_ml.model_names.CHURN`); the new version gets the ``challenger`` alias.
    include_model : bool, default True
        Log the pyfunc model (False: parameters, metrics, tables and plots only).

    Returns
    -------
    crm_ml.tracking.ModelLogResult
        ``model_uri`` and ``registered_version`` (None without a model or registration) and
        ``run_id`` (all None when tracking is off).
    """
    model._check_fitted()
    with model_run("churn", run, run_name=f"churn-{model.algorithm}") as tracked:
        if not tracked.active:
            return ModelLogResult(None, None, None)
        tracked.log_params(_params(model))
        cv_metrics = getattr(model, "cv_metrics_", None) or {}
        tracked.log_metrics({f"cv_{k}": v for k, v in cv_metrics.items()})
        pre = model.preprocessor_
        tracked.log_dict({"features": model.feature_names_in_,
                          "encoded_features": pre.feature_names_out_,
                          "dropped": pre.dropped_}, "features.json")
        oof = getattr(model, "oof_proba_", None)
        labels = getattr(model, "_oof_labels", None)
        if oof is not None and labels is not None:
            from crm_ml.churn.evaluation import evaluate_predictions, evaluation_figures

            p = oof.to_numpy()
            ev = evaluate_predictions(labels, p)
            tracked.log_table(ev["deciles"], "cv_deciles")
            tracked.log_table(ev["calibration"], "cv_calibration")
            for name, fig in evaluation_figures(labels, p, model.algorithm).items():
                tracked.log_figure(fig, f"cv_{name}")
        if not include_model:
            return ModelLogResult(None, None, tracked.run_id)
        from crm_ml.churn.pyfunc import log_churn_model

        logged = log_churn_model(model, tracked, registered_name=registered_name)
        return ModelLogResult(logged.model_uri, logged.registered_version, tracked.run_id)
