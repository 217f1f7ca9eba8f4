"""Product recommendations: association rules and next products for each customer, with reasons.

>>> rules = cm.recommend.association_rules(tx, min_support=0.01, min_confidence=0.1)
>>> r = cm.recommend.Recommender().fit(tx, as_of)              # popular | item_knn | als | auto
>>> r.recommend(customers=None, k=10)                          # customer_id, rank, product_id, score, reason
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "association_rules": "crm_ml.recommend.rules",
    "purchase_lines": "crm_ml.recommend.baskets",
    "basket_matrix": "crm_ml.recommend.baskets",
    "customer_product_matrix": "crm_ml.recommend.baskets",
    "Recommender": "crm_ml.recommend.model",
    "recall_at_k": "crm_ml.recommend.evaluation",
    "precision_at_k": "crm_ml.recommend.evaluation",
    "ndcg_at_k": "crm_ml.recommend.evaluation",
    "map_at_k": "crm_ml.recommend.evaluation",
    "coverage": "crm_ml.recommend.evaluation",
    "ranking_metrics": "crm_ml.recommend.evaluation",
    "holdout_last": "crm_ml.recommend.evaluation",
    "log_model": "crm_ml.recommend.tracking",
    "model_card": "crm_ml.recommend.card",
    "holdout_evaluation": "crm_ml.recommend.report",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
