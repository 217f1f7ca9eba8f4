"""Log a fitted :class:`~crm_ml.recommend.Recommender` to MLflow: ``log_model``.

Aggregates only, never customer rows or ids: parameters, the evaluation on the held-out window
(model and popular baseline at ``k``, coverage), the automatic method choice's backtest table,
two plots (recall@k for k = 1..20, model vs popular; the top products' share of purchases) and
the ``crm-recommend`` pyfunc model, saved with ``include_histories=False``: the logged model
holds product statistics only, and callers send each customer's recent products
(:mod:`crm_ml.recommend.pyfunc`).
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pandas as pd

from crm_ml.tracking.autologging import model_run
from crm_ml.tracking.models import ModelLogResult

__all__ = ["evaluation_metrics", "log_model"]

#: evaluation keys logged as metrics (each also with the ``baseline_`` prefix where present)
EVALUATION_KEYS = ("recall_at_k", "precision_at_k", "ndcg_at_k", "map_at_k", "coverage",
                   "baseline_recall_at_k", "baseline_precision_at_k", "baseline_ndcg_at_k",
                   "baseline_map_at_k", "baseline_coverage", "n_customers", "k",
                   "horizon_days")
#: Products shown on the top-products plot.
TOP_PRODUCTS = 20


def _params(model) -> dict:
    params = {k: (json.dumps(list(v)) if isinstance(v, list | tuple) else v)
              for k, v in model.get_params().items()}
    params.update({"chosen_method": model.method_, "n_products": int(len(model.products_)),
                   "n_customers": int(model.n_customers_),
                   "as_of": str(pd.Timestamp(model.as_of_).date())})
    return params


def evaluation_metrics(evaluation: dict | None) -> dict[str, float]:
    """The numeric metrics of an evaluation dict (:meth:`Recommender.evaluate` or
    :func:`crm_ml.recommend.report.holdout_evaluation`), by their MLflow names.

    The ratio ``recall_ratio_to_popular`` (model recall@k / popular recall@k) is added when
    both are present and the baseline's is positive.
    """
    if not evaluation:
        return {}
    out = {}
    for key in EVALUATION_KEYS:
        value = evaluation.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and math.isfinite(float(value)):
            out[key] = float(value)
    if out.get("baseline_recall_at_k", 0) > 0 and "recall_at_k" in out:
        out["recall_ratio_to_popular"] = out["recall_at_k"] / out["baseline_recall_at_k"]
    return out


def backtest_table(model) -> pd.DataFrame | None:
    """The automatic method choice's backtest (one row per candidate method), or None.

    Only method names and metrics: the table holds no customer or product id.
    """
    table = getattr(model, "backtest_", None)
    if table is None or len(table) == 0:
        return None
    table = table.reset_index() if table.index.name is not None else table.reset_index(drop=True)
    keep = [c for c in table.columns
            if c == "method" or pd.api.types.is_numeric_dtype(table[c])]
    return table[keep]


def _backtest_metrics(table: pd.DataFrame | None) -> dict[str, float]:
    if table is None or "method" not in table.columns:
        return {}
    out = {}
    for _, row in table.iterrows():
        for c in table.columns:
            if c != "method" and pd.notna(row[c]):
                out[f"backtest_{row['method']}_{c}"] = row[c]
    return out


def _log_plots(model, evaluation: dict | None, run) -> None:
    import matplotlib.pyplot as plt

    from crm_ml.recommend.report import plot_recall_curve, plot_top_products

    figures = {"top_products_share": plot_top_products(model, TOP_PRODUCTS)}
    curve = (evaluation or {}).get("recall_curve")
    if curve is not None and len(curve):
        figures["recall_at_k"] = plot_recall_curve(curve)
    for name, fig in figures.items():
        run.log_figure(fig, name)
        plt.close(fig)


def log_model(model, *, run=None, registered_name: str | None = None,
              include_model: bool = True, evaluation: dict | None = None) -> ModelLogResult:
    """Log a fitted recommender: parameters, evaluation, backtest, plots and the pyfunc model.

    Parameters
    ----------
    model : Recommender
        Fitted. It is not modified.
    run : TrackedRun, optional
        The run to log into; default the active MLflow run, else a new ``recommend`` run
        (see :func:`crm_ml.tracking.model_run`).
    registered_name : str, optional
        Register the pyfunc model under this name (e.g.
        :data:`crm_ml.model_names.RECOMMEND`); the new version gets the ``challenger`` alias.
    include_model : bool, default True
        Log the pyfunc model (``recommend``); False logs parameters, metrics and artifacts
        only.
    evaluation : dict, optional
        :meth:`Recommender.evaluate` output (or
        :func:`crm_ml.recommend.report.holdout_evaluation`, which adds the recall@k curve
        plotted as ``plots/recall_at_k.png``), logged as metrics.

    Returns
    -------
    crm_ml.tracking.ModelLogResult
        ``model_uri`` None when no model was logged; every field None when tracking is off.

    Raises
    ------
    crm_ml.NotFittedError
        ``model`` is not fitted.
    """
    if not hasattr(model, "method_"):
        from crm_ml.errors import NotFittedError

        raise NotFittedError("Recommender is not fitted: call fit(tx, as_of) before log_model")
    with model_run("recommend", run, run_name=f"recommender-{model.method}") as r:
        if not r.active:
            return ModelLogResult(None, None, None)
        r.log_params(_params(model))
        table = backtest_table(model)
        r.log_metrics({**evaluation_metrics(evaluation), **_backtest_metrics(table)})
        if table is not None:
            r.log_table(table, "recommend_backtest")
        curve = (evaluation or {}).get("recall_curve")
        if curve is not None:
            r.log_table(pd.DataFrame(curve).reset_index(drop=True), "recommend_recall_curve")
        _log_plots(model, evaluation, r)
        if not include_model:
            return ModelLogResult(None, None, r.run_id)
        from crm_ml.recommend.pyfunc import (
            RecommendPyfuncModel,
            input_example,
            save_artifacts,
            signature,
        )
        from crm_ml.tracking.models import log_pyfunc_model

        with tempfile.TemporaryDirectory() as tmp:
            return log_pyfunc_model(r, RecommendPyfuncModel(),
                                    artifacts=save_artifacts(model, Path(tmp)),
                                    input_example=input_example(model),
                                    signature=signature(model), name="recommend",
                                    registered_name=registered_name,
                                    metadata={"module": "recommend",
                                              "method": model.method_})
