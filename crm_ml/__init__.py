"""crm_ml: scores and forecasts from CRM data.

Submodules are imported on first use, so ``import crm_ml as cm`` stays fast and
``cm.churn`` only pulls in LightGBM when it is needed.
"""

from __future__ import annotations

import importlib

from crm_ml._logging import logger
from crm_ml._progress import set_progress
from crm_ml.errors import (
    CrmMlError,
    DataValidationError,
    ModelFilesError,
    ModelNotFoundError,
    UntrustedModelError,
)

__version__ = "0.1.0"

_SUBMODULES = {
    "data", "datasets", "features", "rfm", "churn", "clv", "forecast", "segmentation",
    "explain", "tracking", "cards", "scoring", "cli", "demo", "serve", "pipelines",
    "model_names", "recommend", "kpi", "campaigns",
}
_SERVE = {"predict_churn", "predict_clv", "assign_segment", "recommend_products",
          "predict_uplift"}

__all__ = [
    "CrmMlError",
    "DataValidationError",
    "ModelFilesError",
    "ModelNotFoundError",
    "NotFittedError",
    "UntrustedModelError",
    "logger",
    "set_progress",
    "__version__",
    *sorted(_SERVE),
    *sorted(_SUBMODULES),
]


def __getattr__(name: str):
    if name == "NotFittedError":  # a scikit-learn subclass, built on first use
        from crm_ml import errors

        return errors.NotFittedError
    if name in _SUBMODULES:
        return importlib.import_module(f"crm_ml.{name}")
    if name in _SERVE:
        return getattr(importlib.import_module("crm_ml.serve"), name)
    raise AttributeError(f"module 'crm_ml' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
