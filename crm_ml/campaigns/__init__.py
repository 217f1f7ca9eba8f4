"""Campaigns: the contacts contract, campaign results (lift, ROI), uplift models and targeting.

>>> X, treated, y = cm.campaigns.uplift_frame(ds)                       # ready for an uplift model
>>> u = cm.campaigns.UpliftModel().fit(X, treated, y); u.predict(X)    # uplift per customer
>>> cm.campaigns.targeting(u.predict(X), value=40.0, cost=1.5)          # ranked by incremental profit
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "campaign_summary": "crm_ml.campaigns.summary",
    "conversions": "crm_ml.campaigns.outcomes",
    "newcombe_interval": "crm_ml.campaigns.summary",
    "welch_interval": "crm_ml.campaigns.summary",
    "uplift_frame": "crm_ml.campaigns.frame",
    "UpliftModel": "crm_ml.campaigns.uplift",
    "UpliftEvaluation": "crm_ml.campaigns.evaluation",
    "auuc": "crm_ml.campaigns.evaluation",
    "qini_coefficient": "crm_ml.campaigns.evaluation",
    "qini_curve": "crm_ml.campaigns.evaluation",
    "uplift_by_decile": "crm_ml.campaigns.evaluation",
    "uplift_curve": "crm_ml.campaigns.evaluation",
    "targeting": "crm_ml.campaigns.profit",
    "log_model": "crm_ml.campaigns.tracking",
    "model_card": "crm_ml.campaigns.card",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
