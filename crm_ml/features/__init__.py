"""Customer features at an as_of date, built from transactions (+ interactions, customers).

Names are loaded lazily from their modules: ``customer_summary`` (summary.py, the single pass
shared by RFM and CLV) and ``build`` / ``FEATURE_DESCRIPTIONS`` / ``describe_feature`` (snapshot.py).
Both count purchases, orders and spend with :mod:`crm_ml.features.facts` (the one source of
those rules, also used by :func:`crm_ml.forecast.sales_series`).
"""

from __future__ import annotations

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "customer_summary": "crm_ml.features.summary",
    "build": "crm_ml.features.snapshot",
    "FEATURE_DESCRIPTIONS": "crm_ml.features.snapshot",
    "describe_feature": "crm_ml.features.snapshot",
    "feature_names": "crm_ml.features.snapshot",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
