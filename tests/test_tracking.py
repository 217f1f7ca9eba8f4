"""Tracking runs: off means nothing written; on means a tagged run in the store."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
import pytest

import crm_ml
from crm_ml import tracking
from crm_ml.tracking import runs


@pytest.fixture()
def own_store(tmp_path, monkeypatch):
    """A tracking store of this test only, in tmp_path (settings restored afterwards)."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setattr(runs, "_settings", runs._Settings())
    yield tmp_path, uri


def _tx():
    return pd.DataFrame({
        "customer_id": ["a", "a", "b"],
        "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-05"]),
        "amount": [10.0, 20.0, 5.0],
    })


def test_disabled_tracking_writes_nothing(own_store, monkeypatch):
    root, _ = own_store
    monkeypatch.chdir(root)
    tracking.configure(enabled=False)
    assert not tracking.tracking_enabled()
    with tracking.start_run("churn", params={"k": 1}, data=_tx()) as run:
        assert not run.active and run.run_id is None
        run.log_metrics({"auc": 0.8})
        run.log_table(pd.DataFrame({"x": [1]}), "t")
        fig, ax = plt.subplots()
        run.log_figure(fig, "f")
        res = tracking.log_pyfunc_model(run, object(), artifacts={},
                                        input_example=pd.DataFrame({"x": [1.0]}))
    assert res == tracking.ModelLogResult(None, None)
    assert list(root.iterdir()) == []


def test_env_switch_disables_tracking(own_store, monkeypatch):
    monkeypatch.setenv("CRM_ML_TRACKING", "0")
    assert not tracking.tracking_enabled()
    monkeypatch.setenv("CRM_ML_TRACKING", "1")
    assert tracking.tracking_enabled()


def test_enabled_run_records_tags_params_metrics_artifacts():
    uri = tracking.tracking_uri()   # the session's temporary store (tests/conftest.py)
    tx = _tx()
    with tracking.start_run("churn", params={"algorithm": "lightgbm"}, data=tx,
                            tags={"algorithm": "lightgbm"}) as run:
        assert run.active
        run.log_metrics({"roc_auc": 0.81, "not_a_number": float("nan")})
        run.log_table(pd.DataFrame({"decile": [1, 2], "rate": [0.5, 0.2]}), "lift")
        fig, ax = plt.subplots()
        ax.plot([1, 2])
        run.log_figure(fig, "roc")
        run_id = run.run_id
    assert Path(uri.removeprefix("sqlite:///")).exists()
    got = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    tags = got.data.tags
    assert tags["module"] == "churn"
    assert tags["crm_ml.version"] == crm_ml.__version__
    assert tags["data.rows"] == "3" and tags["data.customers"] == "2"
    assert tags["data.hash"] == tracking.data_fingerprint(tx)
    assert tags["data.start"] == "2024-01-01" and tags["data.end"] == "2024-03-05"
    assert got.data.params["algorithm"] == "lightgbm"
    assert got.data.metrics == {"roc_auc": 0.81}
    paths = {a.path for a in mlflow.MlflowClient(tracking_uri=uri).list_artifacts(run_id, "tables")}
    assert "tables/lift.csv" in paths
    plots = {a.path for a in mlflow.MlflowClient(tracking_uri=uri).list_artifacts(run_id, "plots")}
    assert "plots/roc.png" in plots


def test_nested_runs_for_a_pipeline():
    uri = tracking.tracking_uri()
    with tracking.start_run("pipeline") as parent:
        with tracking.start_run("rfm") as child:
            child_id = child.run_id
    got = mlflow.MlflowClient(tracking_uri=uri).get_run(child_id)
    assert got.data.tags["mlflow.parentRunId"] == parent.run_id


def test_data_fingerprint_changes_with_data():
    tx = _tx()
    other = tx.assign(amount=tx["amount"] + 1)
    assert tracking.data_fingerprint(tx) == tracking.data_fingerprint(tx.copy())
    assert tracking.data_fingerprint(tx) != tracking.data_fingerprint(other)
