"""The held-out evaluation a pipeline logs and cards: metrics, recall@k curve, plots.

:func:`holdout_evaluation` is :meth:`Recommender.evaluate` plus what the card and MLflow
show besides: recall@k for k = 1..``max_k`` of the model and of popular items on the same
customers, and each customer's recall@k (for bootstrap intervals; an array, no ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["holdout_evaluation", "plot_recall_curve", "plot_top_products", "recall_curve"]


def _truth(tx: pd.DataFrame, start, end) -> pd.Series:
    """Products each customer bought in ``(start, end]`` (customer -> set of product ids)."""
    from crm_ml.recommend.baskets import purchase_lines

    lines = purchase_lines(tx, as_of=end)
    lines = lines[pd.to_datetime(lines["timestamp"]).dt.normalize() > pd.Timestamp(start)]
    return lines.groupby("customer_id")["product_id"].agg(set)


def _recall_matrix(recs: pd.DataFrame, truth: pd.Series, max_k: int) -> np.ndarray:
    """customers x k: recall@k (hits in the top k / products bought) per customer."""
    out = np.zeros((len(truth), max_k))
    blocks = dict(tuple(recs.groupby("customer_id", sort=False)))
    for i, (customer, bought) in enumerate(truth.items()):
        block = blocks.get(customer)
        if block is None or not bought:
            continue
        ranked = block.sort_values("rank")["product_id"].astype(str).to_numpy()[:max_k]
        hits = np.cumsum(np.isin(ranked, list(bought)))
        hits = np.concatenate([hits, np.full(max_k - len(hits), hits[-1] if len(hits) else 0)])
        out[i] = hits / len(bought)
    return out


def recall_curve(model, tx: pd.DataFrame, as_of=None, horizon_days: int = 90,
                 max_k: int = 20, customers: pd.DataFrame | None = None) -> dict:
    """Recall@k for k = 1..``max_k``, of ``model`` and of popular items, on one window.

    The customers are those with a purchase both on or before ``as_of`` (default the
    model's) and in the ``horizon_days`` after it; the truth is what they bought in the
    window. Popular items are a ``method="popular"`` recommender fitted on the same history.

    Returns
    -------
    dict
        ``curve``: DataFrame ``k, model, popular``; ``per_customer``: DataFrame
        ``model, popular`` (recall@k at every k of the curve is its column mean... at
        ``max_k``), positional, without ids; ``n_customers``.
    """
    from crm_ml.recommend.baskets import purchase_lines
    from crm_ml.recommend.model import Recommender

    as_of = pd.Timestamp(model.as_of_ if as_of is None else as_of)
    end = as_of + pd.Timedelta(days=int(horizon_days))
    truth = _truth(tx, as_of, end)
    seen = pd.Index(purchase_lines(tx, as_of)["customer_id"].unique())
    truth = truth[truth.index.isin(seen)]
    popular = Recommender(method="popular", segment_column=model.segment_column,
                          half_life_days=model.half_life_days)
    popular.fit(tx, as_of, customers=customers)
    ids = list(truth.index)
    curves = {}
    for name, rec in (("model", model), ("popular", popular)):
        recs = rec.recommend(customers=ids, k=max_k) if ids else None
        curves[name] = (_recall_matrix(recs, truth, max_k) if ids
                        else np.zeros((0, max_k)))
    curve = pd.DataFrame({"k": np.arange(1, max_k + 1),
                          "model": curves["model"].mean(axis=0) if ids else np.nan,
                          "popular": curves["popular"].mean(axis=0) if ids else np.nan})
    return {"curve": curve, "matrices": curves, "n_customers": len(ids)}


def holdout_evaluation(model, tx: pd.DataFrame, as_of=None, horizon_days: int = 90,
                       k: int = 10, max_k: int = 20,
                       customers: pd.DataFrame | None = None) -> dict:
    """:meth:`Recommender.evaluate` on ``(as_of, as_of + horizon_days]``, plus the curve.

    Parameters
    ----------
    model : Recommender
        Fitted at ``as_of`` (default its ``as_of_``); nothing after it was seen in fit.
    tx : DataFrame
        Transactions covering the window.
    horizon_days, k : int
        The window and the metrics' cut-off.
    max_k : int, default 20
        Length of the recall@k curve (at least ``k``).
    customers : DataFrame, optional
        The customer attributes the model was fitted with (segments of the baseline).

    Returns
    -------
    dict
        The keys of :meth:`Recommender.evaluate` and ``horizon_days``, ``window_start``,
        ``window_end``, ``recall_curve`` (DataFrame ``k, model, popular``) and
        ``per_customer_recall`` (DataFrame ``model, popular``: each evaluated customer's
        recall@k, positional, no ids).
    """
    as_of = pd.Timestamp(model.as_of_ if as_of is None else as_of)
    max_k = max(int(max_k), int(k))
    out = dict(model.evaluate(tx, as_of=as_of, horizon_days=horizon_days, k=k))
    rc = recall_curve(model, tx, as_of, horizon_days, max_k, customers=customers)
    out.update(horizon_days=int(horizon_days), window_start=str(as_of.date()),
               window_end=str((as_of + pd.Timedelta(days=int(horizon_days))).date()),
               recall_curve=rc["curve"],
               per_customer_recall=pd.DataFrame({name: m[:, k - 1] if len(m) else []
                                                 for name, m in rc["matrices"].items()}))
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
    ax.set_xticklabels([str(p) for p in share.index], rotation=90, fontsize=7)
    ax.set_ylabel("share of popularity")
    ax.set_title(f"Top {len(share)} products: {share.sum():.0%} of popularity")
    fig.tight_layout()
    return fig
