"""The ``crm-recommend`` model card, graded against popular items.

Every statement is computed from the numbers beside it: the grade compares recall@k with the
popular-items baseline measured on the same customers and window (shared grading of
:mod:`crm_ml.cards`); "Model vs popular items" gives the recall ratio and each metric's pair;
the method choice section is the backtest table the automatic choice used.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crm_ml.model_names import RECOMMEND

__all__ = ["comparison_table", "model_card"]

#: (evaluation key, label) of the metrics on the card, in order.
METRICS = (("recall_at_k", "recall"), ("precision_at_k", "precision"), ("ndcg_at_k", "ndcg"),
           ("map_at_k", "map"), ("coverage", "catalogue coverage"))
BASELINE_RULE = ("popular items: the products bought most in the same history (recency "
                 "weighted), the same list for every customer, minus what they bought")
SECTION_COMPARISON = "Model vs popular items"
SECTION_CHOICE = "Method chosen in fit (time-split backtest inside the history)"
SECTION_PROTOCOL = "Evaluation protocol"


def _ratio(model: float, baseline: float) -> float:
    return model / baseline if baseline > 0 else (math.inf if model > 0 else math.nan)


def comparison_table(evaluation: dict) -> pd.DataFrame:
    """One row per metric: ``metric, model, popular, ratio`` (model / popular)."""
    k = int(evaluation["k"])
    rows = []
    for key, label in METRICS:
        m, b = float(evaluation[key]), float(evaluation[f"baseline_{key}"])
        name = label if key == "coverage" else f"{label}@{k}"
        rows.append({"metric": name, "model": m, "popular": b, "ratio": _ratio(m, b)})
    return pd.DataFrame(rows)


def comparison_text(evaluation: dict) -> str:
    """The headline sentences, each from the numbers it quotes."""
    t = comparison_table(evaluation).set_index("metric")
    k = int(evaluation["k"])
    r = t.loc[f"recall@{k}"]
    lines = [f"recall@{k}: model {r['model']:.4f}, popular items {r['popular']:.4f}, "
             f"ratio {r['ratio']:.2f}."]
    for name in (f"ndcg@{k}", f"map@{k}", f"precision@{k}"):
        row = t.loc[name]
        lines.append(f"{name}: model {row['model']:.4f}, popular items "
                     f"{row['popular']:.4f}, ratio {row['ratio']:.2f}.")
    c = t.loc["catalogue coverage"]
    lines.append(f"catalogue coverage: model {c['model']:.4f}, popular items "
                 f"{c['popular']:.4f} (share of the products seen in fit that are "
                 f"recommended to at least one evaluated customer).")
    return "\n".join(lines)


def _metrics(evaluation: dict, n_boot: int) -> pd.DataFrame:
    from crm_ml.cards import bootstrap_ci

    k = int(evaluation["k"])
    per = evaluation.get("per_customer_recall")
    rows = []
    for key, label in METRICS:
        name = label if key == "coverage" else f"{label}@{k}"
        for who, prefix in (("model", ""), ("popular items", "baseline_")):
            ci = (math.nan, math.nan)
            column = "model" if who == "model" else "popular"
            if key == "recall_at_k" and per is not None and len(per):
                values = np.asarray(per[column], dtype=float)
                ci = bootstrap_ci(lambda a, _b: float(np.mean(a)), values, values,
                                  n_boot=n_boot)
            rows.append({"metric": f"{name} ({who})",
                         "value": float(evaluation[f"{prefix}{key}"]),
                         "ci_low": ci[0], "ci_high": ci[1]})
    return pd.DataFrame(rows)


#: History sizes (distinct products bought before the window) of the card's slices.
SLICES = ((1, 1, "1 product"), (2, 4, "2-4 products"), (5, None, "5+ products"))


def slice_table(evaluation: dict) -> pd.DataFrame | None:
    """Recall@k of the model and of popular items per history size (customers evaluated)."""
    per = evaluation.get("per_customer_recall")
    if per is None or "history_products" not in per or not len(per):
        return None
    k = int(evaluation["k"])
    rows = []
    for low, high, label in SLICES:
        n = per["history_products"]
        part = per[(n >= low) & ((n <= high) if high is not None else True)]
        if len(part):
            rows.append({"slice": f"history of {label}", "customers": int(len(part)),
                         f"recall@{k} (model)": float(part["model"].mean()),
                         f"recall@{k} (popular items)": float(part["popular"].mean())})
    return pd.DataFrame(rows)


def model_card(model, evaluation: dict, *, name: str = RECOMMEND, run_id: str | None = None,
               registered_version: str | None = None, n_boot: int = 200):
    """The :class:`crm_ml.cards.ModelCard` of a fitted :class:`Recommender`.

    Parameters
    ----------
    model : Recommender
        The production model (fitted at the training ``as_of``).
    evaluation : dict
        :meth:`Recommender.evaluate` of the same settings fitted before the window (or
        :func:`crm_ml.recommend.report.holdout_evaluation`, which adds the recall@k curve and
        per-customer recall for the intervals).
    name : str
        Card name (the registered model name).
    run_id, registered_version : str, optional
        The MLflow run and registry version shown on the card.
    n_boot : int
        Bootstrap resamples of the recall interval (over evaluated customers).

    Returns
    -------
    crm_ml.cards.ModelCard
    """
    from crm_ml.cards import ModelCard
    from crm_ml.recommend.report import plot_recall_curve, plot_top_products
    from crm_ml.recommend.tracking import backtest_table

    k = int(evaluation["k"])
    extra = {SECTION_COMPARISON: comparison_text(evaluation),
             SECTION_PROTOCOL: protocol_text(model, evaluation)}
    table = backtest_table(model)
    if table is not None:
        extra[SECTION_CHOICE] = (f"Used: {model.method_}.\n" + table.to_string(
            index=False, float_format=lambda v: f"{v:.4g}"))
    else:
        extra[SECTION_CHOICE] = f"Used: {model.method_} (set by the method parameter)."
    figures = {"top_products_share": plot_top_products(model)}
    curve = evaluation.get("recall_curve")
    if curve is not None and len(curve):
        figures = {"recall_at_k": plot_recall_curve(curve), **figures}
    params = model.get_params()
    return ModelCard(
        name=name,
        title=f"Product recommendations ({model.method_})",
        model_details={"algorithm": model.method_, "method_parameter": params.get("method"),
                       "k_neighbors": params.get("k_neighbors"),
                       "half_life_days": params.get("half_life_days"),
                       "factors": params.get("factors"),
                       "segment_column": params.get("segment_column"),
                       "random_state": params.get("random_state"),
                       "mlflow_run_id": run_id, "registered_version": registered_version},
        intended_use=("Suggest the next products for each customer (cross-sell in marketing "
                      "and sales tools), each with a reason; rank which products to show."),
        out_of_scope=("Not a forecast of demand or revenue; not for pricing or credit "
                      "decisions; products never sold before the training day cannot be "
                      "recommended (no cold-start for new products)."),
        data={"as_of": str(pd.Timestamp(model.as_of_).date()),
              "customers_fitted": int(model.n_customers_),
              "products_fitted": int(len(model.products_)),
              "evaluation_window": _window(evaluation),
              "customers_evaluated": int(evaluation.get("n_customers", 0)),
              "truth": "products bought in the evaluation window, new to the customer"},
        metrics=_metrics(evaluation, n_boot),
        baseline={"metric": f"recall@{k}", "model": float(evaluation["recall_at_k"]),
                  "baseline": float(evaluation["baseline_recall_at_k"]),
                  "baseline_rule": BASELINE_RULE, "higher_is_better": True},
        slices=slice_table(evaluation),
        caveats=caveats(model, evaluation),
        figures=figures,
        extra_sections=extra,
    )


def _window(evaluation: dict) -> str | None:
    if "window_start" in evaluation:
        return (f"({evaluation['window_start']}, {evaluation['window_end']}], "
                f"{evaluation['horizon_days']} days")
    return None


def protocol_text(model, evaluation: dict) -> str:
    """How the numbers were measured (from the evaluation's window and counts)."""
    k = int(evaluation["k"])
    window = _window(evaluation) or "the days after the evaluation fit"
    start = evaluation.get("window_start")
    fitted = pd.Timestamp(model.as_of_).date()
    if start is not None and pd.Timestamp(model.as_of_) > pd.Timestamp(start):
        refit = (f"The model on this card was then refitted with the same settings on "
                 f"everything up to {fitted}.")
    else:
        refit = f"The model on this card is the one evaluated (fitted up to {fitted})."
    return (f"The settings were fitted on the history up to the window's start and "
            f"recommended {k} products to each of the {int(evaluation.get('n_customers', 0)):,} "
            f"customers who bought both before and in the window {window}; the truth is the "
            f"products each bought in the window that they had not bought before. Popular "
            f"items were fitted on the same history and scored on the same customers. {refit}")


def caveats(model, evaluation: dict) -> list[str]:
    """The card's limits, the numeric ones computed from ``evaluation``."""
    k = int(evaluation["k"])
    out = []
    ratio = _ratio(float(evaluation["recall_at_k"]), float(evaluation["baseline_recall_at_k"]))
    if math.isfinite(ratio) and ratio < 1.5:
        out.append(f"recall@{k} is {ratio:.2f} times that of popular items, below the 1.5x "
                   f"target: on this data the personal signal is weak; consider "
                   f"method='popular' (simpler) or more history.")
    out += [
        "Products never bought before the training day are never recommended; a new product "
        "appears only after a refit.",
        "Customers with no purchase history get popular items (of their segment, when a "
        "segment column is set).",
        "The registered model holds product statistics only, no customer id: callers send "
        "each customer's recent products (see crm_ml.recommend.pyfunc).",
        "Measured on one window; seasonality and campaigns change what sells. Refit monthly.",
        "A hit is a recommended product the customer bought in the window anyway (nobody was "
        "shown the list): recall measures how well the list anticipates purchases, not the "
        "effect of showing it; measure that with a campaign and a control group.",
    ]
    return out
