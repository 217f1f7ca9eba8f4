"""Campaigns: uplift models (whom does a contact change?), Qini evaluation and targeting.

>>> u = cm.campaigns.UpliftModel().fit(X, treated, y); u.predict(X)    # uplift per customer
>>> u.evaluate(X_test, treated_test, y_test).plot()                     # Qini: model vs response vs random
>>> cm.campaigns.targeting(u.predict(X), value=clv, cost=1.5)           # ranked by incremental profit
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
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
