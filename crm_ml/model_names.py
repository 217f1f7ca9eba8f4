"""The registered model names, in one place.

Pipelines register under these names, ``crm-ml score`` and :mod:`crm_ml.serve` load from
them, and the model cards are written into folders of the same names.
"""

from __future__ import annotations

CHURN = "crm-churn"
CLV = "crm-clv"
SEGMENTS = "crm-segments"
SALES_FORECAST = "crm-sales-forecast"
RECOMMEND = "crm-recommend"
UPLIFT = "crm-uplift"

#: pipeline module -> registered model name
MODEL_NAMES = {
    "churn": CHURN,
    "clv": CLV,
    "segmentation": SEGMENTS,
    "forecast": SALES_FORECAST,
    "recommend": RECOMMEND,
    "campaigns": UPLIFT,
}

__all__ = ["CHURN", "CLV", "MODEL_NAMES", "RECOMMEND", "SALES_FORECAST", "SEGMENTS", "UPLIFT"]
