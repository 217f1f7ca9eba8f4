"""MLflow tracking, model registry and pyfunc models for every crm_ml model."""

from crm_ml.tracking.runs import (
    TrackedRun,
    configure,
    data_fingerprint,
    describe_data,
    start_run,
    tracking_enabled,
    tracking_uri,
)

__all__ = [
    "TrackedRun",
    "configure",
    "data_fingerprint",
    "describe_data",
    "start_run",
    "tracking_enabled",
    "tracking_uri",
]
