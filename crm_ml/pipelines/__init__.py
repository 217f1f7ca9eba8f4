"""Training pipelines: one per model, a typed config, one runner shared by demo, train, tests.

``crm_ml.pipelines.run_steps(data, modules, config=TrainConfig(), ...)`` runs the pipelines
(:mod:`~crm_ml.pipelines.rfm`, :mod:`~crm_ml.pipelines.churn`, :mod:`~crm_ml.pipelines.clv`,
:mod:`~crm_ml.pipelines.recommend`, :mod:`~crm_ml.pipelines.forecast`,
:mod:`~crm_ml.pipelines.campaigns` when campaign contacts are given) and registers their
models together;
:class:`~crm_ml.pipelines.config.TrainConfig` holds every setting (``crm-ml train --config``).
"""

from crm_ml._lazy import lazy_dir, lazy_exports

_EXPORTS = {
    "TrainConfig": "crm_ml.pipelines.config",
    "ChurnConfig": "crm_ml.pipelines.config",
    "CLVConfig": "crm_ml.pipelines.config",
    "ForecastConfig": "crm_ml.pipelines.config",
    "SegmentationConfig": "crm_ml.pipelines.config",
    "RFMConfig": "crm_ml.pipelines.config",
    "RecommendConfig": "crm_ml.pipelines.config",
    "CampaignsConfig": "crm_ml.pipelines.config",
    "ConfigError": "crm_ml.pipelines.config",
    "demo_config": "crm_ml.pipelines.config",
    "STEPS": "crm_ml.pipelines.runner",
    "StepContext": "crm_ml.pipelines.runner",
    "run_steps": "crm_ml.pipelines.runner",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(globals(), __all__)
