"""Campaigns: the contacts contract, campaign results (lift, ROI) and uplift data.

>>> contacts = cm.data.standardize(raw_contacts, kind="contacts")   # or ds.campaigns
>>> cm.campaigns.campaign_summary(contacts, tx, window_days=30)      # lift, intervals, ROI
>>> X, treated, y = cm.campaigns.uplift_frame(ds)                    # ready for an uplift model
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "campaign_summary": "crm_ml.campaigns.summary",
    "conversions": "crm_ml.campaigns.outcomes",
    "newcombe_interval": "crm_ml.campaigns.summary",
    "welch_interval": "crm_ml.campaigns.summary",
    "uplift_frame": "crm_ml.campaigns.frame",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
