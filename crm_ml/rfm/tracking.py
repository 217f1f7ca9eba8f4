"""Log a fitted :class:`~crm_ml.rfm.RFMScorer` to MLflow: ``log_model``.

Aggregates only: the parameters, the cut points (``tables/rfm_cut_points.csv``) and the
segment table (``tables/rfm_segment_table.csv``). RFM has no pyfunc model: the "model" is
the scorer's JSON spec (:meth:`RFMScorer.save`), logged as an MLflow logged model named
``rfm_scorer`` (artifact ``rfm_scorer.json``; rebuild it with ``RFMScorer.load``) and as the
run artifact ``rfm_scorer.json``. It cannot be registered or served with
``mlflow.pyfunc.load_model``. Segment shares of a scored table are logged by
``crm_ml.rfm.demo.log_rfm``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from crm_ml.errors import CrmMlError
from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

__all__ = ["log_model"]

#: Name of the logged model (and of its JSON file) in the run.
MODEL_NAME = "rfm_scorer"


def _params(scorer) -> dict:
    params = scorer.get_params()
    seg = params.get("segments")
    params["segments"] = "default" if seg is None else f"custom table ({len(seg)} rows)"
    params["n_customers"] = int(scorer.n_customers_)
    return params


def _log_spec_model(scorer, run) -> str:
    """Log the JSON spec as an MLflow logged model of ``run``; return its ``models:/`` URI."""
    import mlflow

    client = mlflow.MlflowClient()
    experiment_id = client.get_run(run.run_id).info.experiment_id
    model = client.create_logged_model(experiment_id, name=MODEL_NAME, source_run_id=run.run_id,
                                       model_type="crm_ml.rfm.RFMScorer (JSON spec)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            scorer.save(Path(tmp) / f"{MODEL_NAME}.json")
            client.log_model_artifacts(model.model_id, tmp)
    except BaseException:
        client.finalize_logged_model(model.model_id, "FAILED")
        raise
    client.finalize_logged_model(model.model_id, "READY")
    return f"models:/{model.model_id}"


def log_model(scorer, *, run=None, registered_name: str | None = None,
              include_model: bool = True) -> ModelLogResult:
    """Log a fitted RFM scorer: parameters, cut points, segment table and its JSON spec.

    Parameters
    ----------
    scorer : RFMScorer
        Fitted. It is not modified.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new ``rfm`` run (see
        :func:`crm_ml.tracking.model_run`).
    registered_name : None
        RFM has no registered pyfunc model, so no name can be given (kept for the argument
        order every ``log_model`` shares).
    include_model : bool, default True
        Log the JSON spec as the logged model ``rfm_scorer`` (see the module docstring).

    Returns
    -------
    crm_ml.tracking.ModelLogResult
        ``model_uri`` (``models:/<id>`` of the JSON spec) None when no model was logged;
        every field None when tracking is off.

    Raises
    ------
    crm_ml.NotFittedError
        ``scorer`` is not fitted.
    crm_ml.CrmMlError
        ``registered_name`` was given.
    """
    scorer._check_fitted()
    if registered_name is not None:
        raise CrmMlError("RFM scorers have no registered pyfunc model: log_model(scorer) "
                         "logs the JSON spec without registering it; drop registered_name")
    with model_run("rfm", run, run_name="rfm-scorer") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params(_params(scorer))
        r.log_metrics({"n_customers": scorer.n_customers_})
        r.log_table(scorer.edges_table(), "rfm_cut_points")
        r.log_table(scorer.segment_table_, "rfm_segment_table")
        r.log_dict(scorer.to_dict(), f"{MODEL_NAME}.json")
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        uri = _log_spec_model(scorer, r)
        r.set_tags({f"model.{MODEL_NAME}.uri": uri})
        return ModelLogResult(uri, None, r.run_id)
