"""Log a fitted :class:`~crm_ml.campaigns.UpliftModel` to MLflow: ``log_model``.

Aggregates only (never customer rows or ids): parameters, the cross-fitted Qini coefficient
per method, the held-out evaluation when given (Qini coefficient and AUUC of the model, of
response targeting and of random targeting, the decile table, the Qini plot), and the
``crm-uplift`` pyfunc model (LightGBM text files + JSON).
"""

from __future__ import annotations

import tempfile

from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

__all__ = ["log_model"]


def _metrics(model, evaluation) -> dict:
    metrics = {f"cv_qini_{m}": v for m, v in model.cv_scores_.items()}
    metrics["train_observed_uplift"] = model.observed_uplift_
    if evaluation is not None:
        for k, v in evaluation.to_dict().items():
            if v is not None:
                metrics[f"holdout_{k}"] = v
    return metrics


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True, evaluation=None) -> ModelLogResult:
    """Log a fitted uplift model: parameters, metrics, Qini plot and the pyfunc model.

    Parameters
    ----------
    model : UpliftModel
        Fitted. It is not modified.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new ``campaigns`` run.
    registered_name : str, optional
        Register the pyfunc model under this name (:data:`crm_ml.model_names.UPLIFT`); the
        new version gets the ``challenger`` alias.
    include_model : bool, default True
        Log the pyfunc model (``uplift``).
    evaluation : UpliftEvaluation, optional
        Held-out evaluation (:meth:`UpliftModel.evaluate`): its numbers, decile table and
        Qini plot are logged too.

    Returns
    -------
    crm_ml.tracking.ModelLogResult

    Raises
    ------
    crm_ml.NotFittedError
        ``model`` is not fitted.
    """
    model._check_fitted()
    with model_run("campaigns", run, run_name=f"uplift-{model.method_}") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params({**{k: v for k, v in model.get_params().items()
                         if k != "allow_columns"},
                      "method_fitted": model.method_, "n_train": model.n_train_,
                      "features_used": ",".join(model.encoder_.columns_)})
        r.log_metrics(_metrics(model, evaluation))
        if evaluation is not None:
            import matplotlib.pyplot as plt

            r.log_table(evaluation.deciles, "uplift_by_decile")
            fig = evaluation.plot()
            r.log_figure(fig, "qini_curves")
            plt.close(fig)
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        from crm_ml.campaigns.pyfunc import UpliftPyfuncModel
        from crm_ml.tracking.models import log_pyfunc_model

        with tempfile.TemporaryDirectory() as tmp:
            paths = model.save(tmp)
            return log_pyfunc_model(r, UpliftPyfuncModel(), artifacts=paths,
                                    input_example=model.synthetic_example(),
                                    name="uplift", registered_name=registered_name)
