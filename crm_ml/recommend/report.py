"""The held-out evaluation a pipeline logs and cards: metrics, recall@k curve, plots.

:func:`holdout_evaluation` is :meth:`Recommender.evaluate` plus what the card and MLflow
show besides: recall@k for k = 1..``max_k`` of the model and of popular items on the same
customers, and each customer's recall@k (for bootstrap intervals; positional, no ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["holdout_evaluation", "plot_recall_curve", "plot_top_products", "recall_curve",
           "window_truth"]


def _segment_frame(model) -> pd.DataFrame | None:
    """The customers' segments the model was fitted with, as a ``customers`` frame."""
    seg = getattr(model, "customer_segments_", None)
    if model.segment_column is None or seg is None:
        return None
    return pd.DataFrame({"customer_id": seg.index, model.segment_column: seg.to_numpy()})


def _per_customer_recall(lists: dict, truth: dict, max_k: int) -> np.ndarray:
    """customers x k: ``hits in the top k / min(k, |truth|)`` (the definition of
    :func:`crm_ml.recommend.recall_at_k`), customers in the order of ``truth``."""
    out = np.zeros((len(truth), max_k))
    ks = np.arange(1, max_k + 1)
    for i, (customer, bought) in enumerate(truth.items()):
        ranked = list(lists.get(customer, []))[:max_k]
        hits = np.cumsum([p in bought for p in ranked]) if ranked else np.zeros(0)
        hits = np.concatenate([hits, np.full(max_k - len(hits), hits[-1] if len(hits) else 0)])
        out[i] = hits / np.minimum(ks, len(bought))
    return out


def window_truth(tx: pd.DataFrame, as_of, horizon_days: int = 90):
    """The evaluation data of :meth:`Recommender.evaluate` for a window.

    Returns
    -------
    (DataFrame, DataFrame, dict)
        The purchase lines up to ``as_of``; those of the evaluated customers (the history
        they are recommended from); and the truth, customer -> set of products bought in
        the ``horizon_days`` after ``as_of`` that they had not bought before (customers with
        a history and a non-empty set only).
    """
    from crm_ml.data.windows import as_of_day, future, history_end, utc_naive
    from crm_ml.recommend.baskets import purchase_lines
    from crm_ml.recommend.model import _truth

    day = as_of_day(as_of)
    lines = purchase_lines(tx)
    past = lines[utc_naive(lines["timestamp"]) < history_end(day)]
    truth = _truth(past, future(lines, day, int(horizon_days)), exclude_purchased=True)
    return past, past[past["customer_id"].isin(list(truth))], truth


def recall_curve(model, tx: pd.DataFrame, horizon_days: int = 90, max_k: int = 20) -> dict:
    """Recall@k for k = 1..``max_k`` of ``model`` and of popular items on the window after
    the model's ``as_of_``, with the customers, truth and baseline of
    :meth:`Recommender.evaluate` (default ``exclude_purchased=True``).

    Returns
    -------
    dict
        ``curve``: DataFrame ``k, model, popular``; ``matrices``: ``{"model", "popular"}`` ->
        customers x k array of each evaluated customer's recall@k (positional, no ids);
        ``n_customers``.
    """
    from crm_ml.recommend.evaluation import lists_by_customer
    from crm_ml.recommend.model import Recommender

    day = pd.Timestamp(model.as_of_)
    past, history, truth = window_truth(tx, day, horizon_days)
    popular = Recommender(**{**model.get_params(), "method": "popular"})
    popular.fit(past, day, customers=_segment_frame(model))
    matrices = {}
    for name, rec in (("model", model), ("popular", popular)):
        lists = lists_by_customer(rec.recommend_for(history, k=max_k)) if truth else {}
        matrices[name] = _per_customer_recall(lists, truth, max_k)
    mean = {name: m.mean(axis=0) if len(m) else np.full(max_k, np.nan)
            for name, m in matrices.items()}
    curve = pd.DataFrame({"k": np.arange(1, max_k + 1), **mean})
    sizes = history.groupby("customer_id")["product_id"].nunique()
    n_products = sizes.reindex(list(truth)).fillna(0).to_numpy(dtype=np.int64)
    return {"curve": curve, "matrices": matrices, "n_customers": len(truth),
            "history_products": n_products}


def holdout_evaluation(model, tx: pd.DataFrame, horizon_days: int = 90, k: int = 10,
                       max_k: int = 20) -> dict:
    """:meth:`Recommender.evaluate` on the ``horizon_days`` after the model's ``as_of_``,
    plus the recall@k curve and each customer's recall@k.

    Parameters
    ----------
    model : Recommender
        Fitted on the history up to the window's start (nothing after it was seen).
    tx : DataFrame
        Transactions covering the window.
    horizon_days, k : int
        The window and the metrics' cut-off.
    max_k : int, default 20
        Length of the recall@k curve (at least ``k``).

    Returns
    -------
    dict
        The keys of :meth:`Recommender.evaluate` and ``horizon_days``, ``window_start``,
        ``window_end``, ``recall_curve`` (DataFrame ``k, model, popular``) and
        ``per_customer_recall`` (DataFrame ``model, popular, history_products``: each
        evaluated customer's recall@k and number of distinct products bought before the
        window; positional, no ids).
    """
    max_k = max(int(max_k), int(k))
    day = pd.Timestamp(model.as_of_)
    out = dict(model.evaluate(tx, horizon_days=horizon_days, k=k))
    rc = recall_curve(model, tx, horizon_days, max_k)
    out.update(horizon_days=int(horizon_days), window_start=str(day.date()),
               window_end=str((day + pd.Timedelta(days=int(horizon_days))).date()),
               recall_curve=rc["curve"],
               per_customer_recall=pd.DataFrame(
                   {**{name: m[:, int(k) - 1] for name, m in rc["matrices"].items()},
                    "history_products": rc["history_products"]}))
    return out


def plot_recall_curve(curve: pd.DataFrame):
    """Recall@k of the model and of popular items against k (a matplotlib Figure)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(curve["k"], curve["model"], marker="o", ms=3, label="model")
    ax.plot(curve["k"], curve["popular"], marker="o", ms=3, ls="--", label="popular items")
    ax.set_xlabel("k (recommendations per customer)")
    ax.set_ylabel("recall@k")
    ax.set_title("Held-out recall@k: model vs popular items")
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_top_products(model, n: int = 20):
    """Share of the popularity score held by the ``n`` most popular products (a Figure).

    How concentrated demand is: when a few products hold most of it, popular items are a
    strong baseline.
    """
    import matplotlib.pyplot as plt

    pop = model.popular_.astype(float)
    total = pop.sum()
    share = (pop / total if total > 0 else pop * 0).sort_values(ascending=False).head(n)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(range(len(share)), share.to_numpy())
    ax.set_xticks(range(len(share)))
    ax.set_xticklabels([_tick_label(p) for p in share.index], rotation=90, fontsize=7)
    ax.set_ylabel("share of popularity")
    ax.set_title(f"Top {len(share)} products: {share.sum():.0%} of popularity")
    fig.tight_layout()
    return fig


def _tick_label(product, width: int = 40) -> str:
    """A product id as matplotlib draws it literally (``$`` would start math text, which can
    fail to parse), cut to ``width`` characters so a 10,000-character id stays on the plot."""
    text = str(product)
    if len(text) > width:
        text = text[:width - 1] + "…"
    return text.replace("$", r"\$")
