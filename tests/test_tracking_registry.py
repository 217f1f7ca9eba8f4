"""Pyfunc logging, registry aliases, champion/challenger promotion, loading, privacy scan."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from crm_ml import ModelNotFoundError
from crm_ml.cards import ModelCard, card_from_registry
from crm_ml.errors import CrmMlError
from crm_ml.tracking import (
    find_in_run_artifacts,
    get_version,
    load_lightgbm,
    load_model,
    load_sklearn,
    promote,
    save_lightgbm,
    save_sklearn,
    start_run,
)
from crm_ml.tracking.pyfunc import log_sklearn_model
from crm_ml.tracking.testing import predict_in_fresh_process

FEATURES = ["recency_days", "n_orders"]
EXAMPLE = pd.DataFrame({"recency_days": [3.0, 120.0, 400.0], "n_orders": [12.0, 3.0, 1.0]})


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"recency_days": rng.exponential(100, 600), "n_orders": rng.poisson(5, 600)
                      .astype(float)})
    logit = 0.02 * X["recency_days"] - 0.3 * X["n_orders"]
    y = (rng.random(600) < 1 / (1 + np.exp(-logit))).astype(int)
    return X.iloc[:400], y.iloc[:400], X.iloc[400:], y.iloc[400:]


def _name():
    return f"crm-test-{uuid.uuid4().hex[:8]}"


def _log(estimator, name, card: ModelCard | None = None):
    with start_run("test") as run:
        res = log_sklearn_model(run, estimator, feature_columns=FEATURES, input_example=EXAMPLE,
                                output_column="churn_probability", registered_name=name)
        if card is not None:
            card.log(run)
    return run.run_id, res


def _scorer(X, y):
    return lambda m: roc_auc_score(y, m.predict(X)["churn_probability"])


def test_log_register_and_champion_challenger_flow(data):
    Xtr, ytr, Xte, yte = data
    name = _name()
    good = LogisticRegression().fit(Xtr, ytr)
    _, r1 = _log(good, name)
    assert r1.registered_version == "1" and r1.model_uri.startswith("models:/")
    assert str(get_version(name, "challenger").version) == "1"
    with pytest.raises(ModelNotFoundError, match="champion"):
        get_version(name, "champion")

    d1 = promote(name, _scorer(Xte, yte))
    assert d1["promoted"] and "first model" in d1["reason"]
    assert str(get_version(name, "champion").version) == "1"

    bad = DummyClassifier(strategy="prior").fit(Xtr, ytr)       # AUC 0.5
    _, r2 = _log(bad, name)
    assert str(get_version(name, "challenger").version) == r2.registered_version == "2"
    d2 = promote(name, _scorer(Xte, yte))
    assert not d2["promoted"]
    assert d2["challenger_score"] < d2["champion_score"]
    assert str(get_version(name, "champion").version) == "1"          # unchanged
    tags = get_version(name, "challenger").tags
    assert tags["promotion.promoted"] == "False"

    d3 = promote(name, _scorer(Xte, yte), force=True)
    assert d3["promoted"] and d3["forced"] and "forced" in d3["reason"]
    assert str(get_version(name, "champion").version) == "2"

    _, r3 = _log(LogisticRegression(C=0.5).fit(Xtr, ytr), name)
    d4 = promote(name, _scorer(Xte, yte))
    assert d4["promoted"] and d4["champion_before"] == "2" and d4["champion_after"] == "3"
    assert str(get_version(name, "champion").version) == "3"
    again = promote(name, _scorer(Xte, yte))
    assert not again["promoted"] and "already" in again["reason"]

    # the decision is recorded in the challenger's run
    run_id = get_version(name, "champion").run_id
    files = [a.path for a in mlflow.MlflowClient().list_artifacts(run_id, "promotion")]
    assert files and files[0].endswith(".json")


def test_lower_is_better_scores(data):
    Xtr, ytr, Xte, yte = data
    name = _name()
    _log(DummyClassifier(strategy="prior").fit(Xtr, ytr), name)
    promote(name, lambda m: 0.0)

    def brier(m):
        return float(np.mean((m.predict(Xte)["churn_probability"] - yte) ** 2))

    _log(LogisticRegression().fit(Xtr, ytr), name)
    d = promote(name, brier, higher_is_better=False)
    assert d["promoted"] and d["challenger_score"] < d["champion_score"]


def test_champion_loads_in_fresh_process_with_same_predictions(data):
    Xtr, ytr, Xte, _ = data
    name = _name()
    model = RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=1).fit(Xtr, ytr)
    _log(model, name)
    promote(name, lambda m: 1.0)
    fresh = predict_in_fresh_process(f"models:/{name}@champion", Xte)
    assert list(fresh.columns) == ["churn_probability"]
    np.testing.assert_allclose(fresh["churn_probability"], model.predict_proba(Xte)[:, 1])
    # and the in-process loader agrees
    np.testing.assert_allclose(load_model(name).predict(Xte)["churn_probability"],
                               fresh["churn_probability"])


def test_model_is_stored_as_code_not_as_a_pickle(data, tmp_path):
    from crm_ml.tracking import log_pyfunc_model
    from crm_ml.tracking.pyfunc import SkopsEstimatorModel

    Xtr, ytr, Xte, _ = data
    model = LogisticRegression().fit(Xtr, ytr)
    _, res = _log(model, _name())
    files = {p.name for p in
             Path(mlflow.artifacts.download_artifacts(res.model_uri, dst_path=str(tmp_path)))
             .iterdir()}
    assert "crm_ml_model.py" in files and "python_model.pkl" not in files
    assert mlflow.models.get_model_info(res.model_uri).flavors["python_function"][
        "loader_module"] == "mlflow.pyfunc.loaders.code_model"
    np.testing.assert_allclose(mlflow.pyfunc.load_model(res.model_uri).predict(Xte)
                               ["churn_probability"], model.predict_proba(Xte)[:, 1])
    stateful = SkopsEstimatorModel()
    stateful.estimator = model  # fitted state must live in artifacts, not in the wrapper
    with pytest.raises(CrmMlError, match="stateless"):
        with start_run("test") as run:
            log_pyfunc_model(run, stateful, artifacts={}, input_example=EXAMPLE)


def test_signature_and_synthetic_example_are_logged(data):
    Xtr, ytr, _, _ = data
    name = _name()
    _, res = _log(LogisticRegression().fit(Xtr, ytr), name)
    info = mlflow.models.get_model_info(res.model_uri)
    assert [c.name for c in info.signature.inputs] == FEATURES
    assert [c.name for c in info.signature.outputs] == ["churn_probability"]
    with pytest.raises(CrmMlError, match="SYNTHETIC"):
        with start_run("test") as run:
            log_sklearn_model(run, LogisticRegression().fit(Xtr, ytr), feature_columns=FEATURES,
                              input_example=EXAMPLE.iloc[:0])


def test_missing_name_or_alias_is_a_clear_error(data):
    with pytest.raises(ModelNotFoundError, match="No registered model named 'crm-nope'"):
        load_model("crm-nope")
    name = _name()
    Xtr, ytr, _, _ = data
    _log(LogisticRegression().fit(Xtr, ytr), name)
    with pytest.raises(ModelNotFoundError, match="alias 'champion'"):
        load_model(name, "champion")
    assert str(get_version(name, "1").version) == "1"   # a version number works as well
    with pytest.raises(ModelNotFoundError, match="has no version 7"):
        get_version(name, "7")


def test_no_customer_ids_in_artifacts_of_a_run_on_built_in_data(small_dataset):
    tx = small_dataset.transactions
    as_of = small_dataset.as_of
    per = tx[tx["timestamp"] <= as_of].groupby("customer_id").agg(
        last=("timestamp", "max"), n_orders=("timestamp", "size"))
    X = pd.DataFrame({"recency_days": (as_of - per["last"]).dt.days.astype(float),
                      "n_orders": per["n_orders"].astype(float)}, index=per.index)
    y = (X["recency_days"] > X["recency_days"].median()).astype(int)
    ids = X.index.astype(str).tolist()
    card = ModelCard(name="crm-privacy", title="privacy",
                     data={"rows": len(X), "as_of": as_of},
                     baseline={"metric": "roc_auc", "model": 0.8, "baseline": 0.7})
    with start_run("churn", data=tx) as run:
        log_sklearn_model(run, LogisticRegression().fit(X, y), feature_columns=FEATURES,
                          input_example=EXAMPLE, output_column="churn_probability",
                          registered_name=_name())
        run.log_table(X.describe(), "feature_summary")
        card.log(run)
    assert find_in_run_artifacts(run.run_id, ids) == []

    # the scanner does find ids when they leak (so the check above can fail)
    with start_run("leaky") as leaky:
        leaky.log_table(X.head(3), "raw_rows")
    hits = find_in_run_artifacts(leaky.run_id, ids)
    assert ("tables/raw_rows.csv", ids[0]) in hits


def test_card_from_registry_regenerates_with_version(data, tmp_path):
    Xtr, ytr, _, _ = data
    name = _name()
    card = ModelCard(name=name, title="Regenerated card", model_details={"algorithm": "logreg"},
                     baseline={"metric": "roc_auc", "model": 0.8, "baseline": 0.7,
                               "baseline_rule": "recency rule"})
    _log(LogisticRegression().fit(Xtr, ytr), name, card=card)
    promote(name, lambda m: 1.0)
    paths = card_from_registry(name, models_dir=tmp_path / "models")
    assert paths["md"] == tmp_path / "models" / name / "card.md"
    d = json.loads(paths["json"].read_text())
    assert d["model_details"]["registered_version"] == "1"
    assert d["model_details"]["mlflow_run_id"] == str(get_version(name).run_id)
    assert "champion" in d["model_details"]["aliases"]
    assert d["grade"] == "A"
    assert "Regenerated card" in paths["html"].read_text()

    other = _name()
    _log(LogisticRegression().fit(Xtr, ytr), other)   # no card logged
    promote(other, lambda m: 1.0)
    with pytest.raises(ModelNotFoundError, match="no model card"):
        card_from_registry(other, models_dir=tmp_path / "models")


def test_skops_loader_trusts_only_the_allow_list(data, tmp_path, monkeypatch):
    from crm_ml.tracking import serialization

    Xtr, ytr, Xte, _ = data
    rf = RandomForestClassifier(n_estimators=3, random_state=0, n_jobs=1).fit(Xtr, ytr)
    path = save_sklearn(rf, tmp_path / "rf.skops")
    np.testing.assert_allclose(load_sklearn(path).predict_proba(Xte), rf.predict_proba(Xte))
    with monkeypatch.context() as mp:   # an allow-list without the forest's trees
        mp.setattr(serialization, "TRUSTED_TYPES", frozenset({"numpy.clip"}))
        with pytest.raises(CrmMlError, match="sklearn.tree._tree.Tree"):
            load_sklearn(path)
        assert load_sklearn(path, trusted=["sklearn.tree._tree.Tree"]) is not None


def test_lightgbm_native_text_round_trip(data, tmp_path):
    import lightgbm as lgb

    Xtr, ytr, Xte, _ = data
    m = lgb.LGBMClassifier(n_estimators=20, verbose=-1, n_jobs=1).fit(Xtr, ytr)
    path = save_lightgbm(m, tmp_path / "model.txt")
    assert path.read_text().startswith("tree")
    np.testing.assert_allclose(load_lightgbm(path).predict(Xte), m.predict_proba(Xte)[:, 1])
