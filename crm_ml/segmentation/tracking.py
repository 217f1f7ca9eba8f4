"""Log a fitted :class:`~crm_ml.segmentation.Segmenter` to MLflow: ``log_model``.

Aggregates only (never customer rows or ids): parameters, the k search, silhouette, segment
sizes and shares, stability, the segment profile, names and two plots, and the
``crm-segments`` pyfunc model (input: customer feature table; output: ``segment``,
``segment_name``; scaling + clusters in skops, label map and names in JSON).
"""

from __future__ import annotations

import json
import tempfile

import pandas as pd

from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

__all__ = ["log_model"]


def _params(model) -> dict:
    params = {k: (json.dumps(list(v)) if isinstance(v, list | tuple) else v)
              for k, v in model.get_params().items()}
    params.update({"features_used": ",".join(map(str, model.features_)),
                   "transforms": json.dumps(model.transforms_)})
    n = getattr(model, "_n_fitted", None)
    if n is not None:
        params["n_customers"] = n
    return params


def _metrics(model) -> dict:
    metrics = {"k": model.n_segments_, "silhouette": model.silhouette_}
    for _, row in model.k_scores_.iterrows():
        for c in ("silhouette", "bic"):
            if c in row and pd.notna(row[c]):
                metrics[f"k_{c}_{int(row['k'])}"] = row[c]
    prof = model.profile()
    for s, row in prof.iterrows():
        for c in ("size", "share"):
            if c in prof:
                metrics[f"segment_{s}_{c}"] = row[c]
    if getattr(model, "stability_", None):
        metrics["stability_ari_mean"] = model.stability_["ari_mean"]
        metrics["stability_ari_min"] = model.stability_["ari_min"]
    return metrics


def _log_plots(model, run) -> None:
    import matplotlib.pyplot as plt

    plots = [("k_scores", model.plot_k_scores)]
    if hasattr(model, "_Z_sample"):  # a loaded model has no customer sample to project
        plots.insert(0, ("segment_projection", model.plot_projection))
    for name, plot in plots:
        fig = plot()
        run.log_figure(fig, name)
        plt.close(fig)


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True) -> ModelLogResult:
    """Log a fitted segmenter: parameters, metrics, profile, plots and the pyfunc model.

    Parameters
    ----------
    model : Segmenter
        Fitted. It is not modified.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new ``segmentation``
        run (see :func:`crm_ml.tracking.model_run`).
    registered_name : str, optional
        Register the pyfunc model under this name (e.g.
        :data:`crm_ml.model_names.SEGMENTS`); the new version gets the ``challenger`` alias.
    include_model : bool, default True
        Log the pyfunc model (``segments``); False logs parameters, metrics and artifacts
        only.

    Returns
    -------
    crm_ml.tracking.ModelLogResult
        ``model_uri`` None when no model was logged; every field None when tracking is off.

    Raises
    ------
    crm_ml.NotFittedError
        ``model`` is not fitted.
    """
    model._check()
    with model_run("segmentation", run, run_name=f"segmenter-{model.method}") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params(_params(model))
        r.log_metrics(_metrics(model))
        r.log_table(model.profile(), "segment_profile")
        r.log_dict({int(k): v for k, v in model.names_.items()}, "segment_names.json")
        _log_plots(model, r)
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        from crm_ml.segmentation.pyfunc import SegmentsModel
        from crm_ml.tracking.models import log_pyfunc_model

        with tempfile.TemporaryDirectory() as tmp:
            paths = model.save(tmp)
            return log_pyfunc_model(r, SegmentsModel(),
                                    artifacts={k: str(v) for k, v in paths.items()},
                                    input_example=model.synthetic_example(),
                                    name="segments", registered_name=registered_name)
