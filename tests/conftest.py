"""Shared test setup: isolated MLflow store, no progress bars, headless plots."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    """Point MLflow at a throwaway SQLite store and silence progress bars for the session."""
    root = tmp_path_factory.mktemp("mlflow")
    old = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "CRM_ML_PROGRESS")}
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    os.environ["CRM_ML_PROGRESS"] = "0"
    from crm_ml.tracking import runs

    runs._settings.tracking_uri = None
    runs._settings.enabled = None
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture()
def small_dataset():
    """A small built-in dataset (same seed every time)."""
    from crm_ml.datasets import make_crm_dataset

    return make_crm_dataset(n_customers=800, seed=1)
