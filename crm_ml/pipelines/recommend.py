"""Recommendation pipeline: evaluated on a held-out window against popular items, refitted.

Timeline: the :class:`~crm_ml.recommend.Recommender` (settings of ``[recommend]``) is fitted
on the history up to ``as_of - recommend.horizon_days`` and evaluated on the purchases of the
window after it (:func:`crm_ml.recommend.report.holdout_evaluation`); the production model is
then refitted on everything up to ``as_of``, logged with one call, carded and added to the
release plan as ``crm-recommend``; ``recommendations.csv`` holds the top ``recommend.k`` of
every customer. Transactions without ``product_id`` skip the step with one line: nothing is
registered for it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.model_names import RECOMMEND
from crm_ml.output_files import write_atomic
from crm_ml.pipelines import _cards, _logging

#: The line (and summary entry) of a run whose transactions name no product.
NO_PRODUCTS = ("the transactions have no product_id, so no recommendations were trained "
               "(nothing registered as crm-recommend)")


def has_products(tx: pd.DataFrame) -> bool:
    """Whether ``tx`` names a product on at least one row."""
    return "product_id" in tx.columns and bool(tx["product_id"].notna().any())


def _segments(data, column: str | None, say) -> tuple[pd.DataFrame | None, str | None]:
    """The customers frame and segment column to fit with, or (None, None) (said why)."""
    if column is None:
        return None, None
    customers = getattr(data, "customers", None)
    if customers is None or column not in customers.columns:
        say(f"  recommend: no customer column {column!r}, so new customers get popular "
            "items overall (not per segment)")
        return None, None
    return customers, column


def run(data, context) -> dict:
    """Fit, evaluate and document the recommender on ``data``; add it to ``context.plan``.

    Returns ``{"skipped": ...}`` (and registers nothing) when the transactions carry no
    ``product_id``.
    """
    tx = data.transactions
    if not has_products(tx):
        context.say(f"  recommend: {NO_PRODUCTS}")
        return {"skipped": NO_PRODUCTS}
    from crm_ml.recommend import Recommender, model_card
    from crm_ml.recommend.evaluation import lists_by_customer, recall_at_k
    from crm_ml.recommend.report import holdout_evaluation, window_truth
    from crm_ml.tracking import start_run
    from crm_ml.tracking.autologging import paused

    rc = context.config.recommend
    as_of = pd.Timestamp(data.as_of)
    eval_at = as_of - pd.Timedelta(days=rc.horizon_days)
    from crm_ml.recommend.baskets import purchase_lines

    if purchase_lines(tx, eval_at).empty:
        why = (f"no purchase line names a product on or before {eval_at.date()} (as_of minus "
               f"recommend.horizon_days = {rc.horizon_days}), so the recommender cannot be "
               "evaluated; nothing registered as crm-recommend")
        context.say(f"  recommend: {why}")
        return {"skipped": why}
    customers, segment_column = _segments(data, rc.segment_column, context.say)
    settings = {"method": rc.method, "half_life_days": rc.half_life_days,
                "backtest_days": rc.backtest_days, "segment_column": segment_column}
    with paused():
        evaluated = Recommender(**settings).fit(tx, eval_at, customers=customers)
        evaluation = holdout_evaluation(evaluated, tx, horizon_days=rc.horizon_days, k=rc.k)
        model = Recommender(**settings).fit(tx, as_of, customers=customers)
    recs = model.recommend(k=rc.k)

    # champion/challenger: each version recommends to the evaluated customers from their
    # histories up to the window's start; recall@k on what they bought in the window. (The
    # new version was refitted on data that includes the window, as a champion from an
    # earlier run may have been: the comparison favours neither.)
    _, history, truth = window_truth(tx, eval_at, rc.horizon_days)
    history = history[["customer_id", "product_id", "timestamp"]]
    if segment_column is not None:
        seg = customers.drop_duplicates("customer_id").set_index("customer_id")[segment_column]
        history = history.assign(segment=history["customer_id"].map(seg))

    def score_fn(pyfunc_model) -> float:
        out = pyfunc_model.unwrap_python_model().predict(None, history, params={"k": rc.k})
        return recall_at_k(lists_by_customer(out), truth, rc.k)

    with start_run("recommend", run_name="recommend-model", data=tx) as run:
        logged = _logging.log_recommender(model, run, evaluation)
        card = model_card(model, evaluation, name=RECOMMEND, run_id=run.run_id)
    _cards.document(card, data, context.config, ("recommend",))
    context.plan.add(RECOMMEND, logged.model_uri, run_id=run.run_id, score_fn=score_fn,
                     higher_is_better=True, card=card)
    write_atomic(recs, Path(context.output_dir) / "recommendations.csv", index=False)
    ratio = (evaluation["recall_at_k"] / evaluation["baseline_recall_at_k"]
             if evaluation["baseline_recall_at_k"] > 0 else None)
    return {
        "method": model.method_,
        "customers": int(recs["customer_id"].nunique()),
        "products": int(len(model.products_)),
        f"recall_at_{rc.k}": round(float(evaluation["recall_at_k"]), 4),
        f"popular_recall_at_{rc.k}": round(float(evaluation["baseline_recall_at_k"]), 4),
        "recall_ratio_to_popular": None if ratio is None else round(float(ratio), 2),
        "coverage": round(float(evaluation["coverage"]), 3),
        "customers_evaluated": int(evaluation["n_customers"]),
        "grade": card.grade,
        "promoted": None,             # filled in by the runner's release
        "registered_version": None,
    }

