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


@pytest.fixture(autouse=True)
def _restore_tracking_switches():
    """Give every test the session's tracking settings back (configure(), autolog())."""
    import dataclasses

    from crm_ml.tracking import autologging, runs

    saved = dataclasses.replace(runs._settings), dataclasses.replace(autologging._autolog)
    yield
    runs._settings.__dict__.update(vars(saved[0]))
    autologging._autolog.__dict__.update(vars(saved[1]))


@pytest.fixture()
def small_dataset():
    """A small built-in dataset (same seed every time)."""
    from crm_ml.datasets import make_crm_dataset

    return make_crm_dataset(n_customers=800, seed=1)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory, _isolated_environment):
    """`crm-ml demo` run once on 1,500 customers in the session's MLflow store.

    Registers the production model names (crm-churn, crm-clv, crm-segments, ...), which no
    other test uses, so scoring tests can load their champions.
    """
    from crm_ml.demo import run_demo

    root = tmp_path_factory.mktemp("demo")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        summary = run_demo(output=root / "output", models_dir=root / "models",
                           n_customers=1500, seed=0, echo=False)
    finally:
        os.chdir(cwd)
    return {"root": root, "output": root / "output", "models": root / "models",
            "data": root / "output" / "data", "summary": summary}
