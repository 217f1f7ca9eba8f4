"""MLflow tracking, model registry and pyfunc models for every crm_ml model."""

from crm_ml.tracking.autologging import autolog, autolog_enabled, fit_is_logged, model_run
from crm_ml.tracking.models import (
    CHALLENGER,
    CHAMPION,
    ModelLogResult,
    default_pip_requirements,
    log_pyfunc_model,
)
from crm_ml.tracking.registry import (
    find_in_run_artifacts,
    get_version,
    load_model,
    model_uri,
    promote,
    register,
)
from crm_ml.tracking.release import Candidate, ReleasePlan
from crm_ml.tracking.runs import (
    TrackedRun,
    configure,
    data_fingerprint,
    describe_data,
    start_run,
    tracking_enabled,
    tracking_uri,
)
from crm_ml.tracking.serialization import (
    TRUSTED_TYPES,
    load_json,
    load_lightgbm,
    load_sklearn,
    save_json,
    save_lightgbm,
    save_sklearn,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Candidate",
    "ModelLogResult",
    "TRUSTED_TYPES",
    "TrackedRun",
    "autolog",
    "autolog_enabled",
    "configure",
    "data_fingerprint",
    "default_pip_requirements",
    "describe_data",
    "find_in_run_artifacts",
    "fit_is_logged",
    "get_version",
    "load_json",
    "load_lightgbm",
    "load_model",
    "load_sklearn",
    "log_pyfunc_model",
    "model_run",
    "model_uri",
    "promote",
    "register",
    "ReleasePlan",
    "save_json",
    "save_lightgbm",
    "save_sklearn",
    "start_run",
    "tracking_enabled",
    "tracking_uri",
]
