"""The random forest's fast scoring path gives the forest's own answers, and stays fast.

The forest is scored and explained through the same trees written as one LightGBM booster
(crm_ml.churn.forest_booster). These tests pin that nothing a user sees changes - the
probabilities and SHAP values are scikit-learn's and shap's - and that a one-customer call no
longer goes through scikit-learn's joblib pool (starting it was most of a call's time). Speed
itself is measured by benchmarks/bench_latency.py, not here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier

from crm_ml.churn import ChurnModel
from crm_ml.churn.forest_booster import forest_input, forest_to_booster
from crm_ml.explain.grouped_treeshap import lightgbm_shap_values


def awkward_matrix(n: int, seed: int = 0):
    """NaNs, values on a grid (ties at thresholds), values that float32 rounding moves across
    a threshold, a constant column, and labels that need sample weights."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(n) < 0.15, 0] = np.nan
    X[:, 1] = np.round(X[:, 1], 1)
    X[:, 2] = 1 / 3 + rng.normal(size=n) * 1e-7  # differs from float32(x) in the 8th digit
    X[:, 4] = 7.0
    y = (np.nan_to_num(X[:, 0], nan=1.0) + X[:, 1] + (X[:, 2] > 1 / 3)
         + rng.normal(size=n) > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def forest():
    X, y = awkward_matrix(3000)
    w = np.where(y == 1, 0.6, 1.4)
    rf = RandomForestClassifier(n_estimators=40, min_samples_leaf=3, max_features="sqrt",
                                random_state=0, n_jobs=1)
    return rf.fit(X[:2000], y[:2000], sample_weight=w[:2000]), X[2000:]


def test_compiled_forest_predicts_the_forests_probabilities(forest):
    rf, X = forest
    booster = forest_to_booster(rf)
    np.testing.assert_allclose(booster.predict(forest_input(X), raw_score=True),
                               rf.predict_proba(X)[:, 1], atol=1e-12)


def test_compiled_forest_shap_values_equal_shap_tree_explainer(forest):
    import shap

    rf, X = forest
    booster = forest_to_booster(rf)
    explainer = shap.TreeExplainer(rf)
    expected = np.asarray(explainer.shap_values(X, check_additivity=False))[:, :, 1]
    for min_rows in (10**9, 0):  # LightGBM's TreeSHAP per row, and grouped by pattern
        values, base = lightgbm_shap_values(booster, forest_input(X), min_rows=min_rows)
        np.testing.assert_allclose(values, expected, atol=1e-9)
        assert base == pytest.approx(float(explainer.expected_value[1]), abs=1e-9)


def test_tree_that_never_splits_is_kept():
    X = np.zeros((50, 2))
    X[:, 0] = np.arange(50)
    y = np.r_[np.zeros(25), np.ones(25)].astype(int)
    # min_samples_leaf above half the rows: every tree is a single leaf
    rf = RandomForestClassifier(n_estimators=5, min_samples_leaf=40, random_state=0).fit(X, y)
    assert all(e.get_n_leaves() == 1 for e in rf.estimators_)
    np.testing.assert_allclose(forest_to_booster(rf).predict(X, raw_score=True),
                               rf.predict_proba(X)[:, 1], atol=1e-12)


def churn_table(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"recency_days": rng.gamma(2, 30, n), "orders_90d": rng.poisson(2, n),
                      "region": rng.choice(["N", "S", "E", None], n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    X.loc[rng.random(n) < 0.1, "recency_days"] = np.nan
    risk = (X["recency_days"].fillna(90) - 60) / 30 - 0.3 * X["orders_90d"]
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-risk))).astype(int), index=X.index)
    return X, y


@pytest.fixture(scope="module")
def churn_forest(tmp_path_factory):
    X, y = churn_table(1500)
    model = ChurnModel("random_forest", n_estimators=30, cv=3, track=False).fit(X, y)
    directory = tmp_path_factory.mktemp("rf")
    model.save(directory)
    return X, model, ChurnModel.load(directory)


def test_saved_and_loaded_forest_scores_like_the_forest(churn_forest):
    X, model, loaded = churn_forest
    Xe = model.preprocessor_.transform(X).to_numpy(dtype=float)
    forest_p = model.forest_.predict_proba(Xe)[:, 1]
    expected = model.calibrator_.transform(np.log(np.clip(forest_p, 1e-4, 1 - 1e-4)
                                                  / (1 - np.clip(forest_p, 1e-4, 1 - 1e-4))))
    np.testing.assert_allclose(model.predict_proba(X), expected, atol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-12)


def test_forest_reasons_are_shaps_and_probabilities_are_predict_proba(churn_forest):
    X, model, _ = churn_forest
    fast = model.explain(X.head(300), top_k=2)
    slow = model.explain(X.head(300), top_k=2, method="shap")
    assert fast.method == "lightgbm TreeSHAP" and fast.output == "probability"
    np.testing.assert_allclose(fast.shap_values, slow.shap_values, atol=1e-9)
    assert fast.base_value == pytest.approx(slow.base_value, abs=1e-9)
    np.testing.assert_allclose(fast.reasons["churn_probability"],
                               model.predict_proba(X.head(300)), atol=1e-9)
    pd.testing.assert_frame_equal(fast.reasons.drop(columns="churn_probability"),
                                  slow.reasons.drop(columns="churn_probability"),
                                  check_exact=False, atol=1e-9)


def test_one_customer_starts_no_joblib_pool(churn_forest, monkeypatch):
    """scikit-learn's forest predict_proba runs through joblib.Parallel, which with n_jobs=2
    started a thread pool on every call: most of a one-customer call's 26 ms."""
    import joblib

    X, _, loaded = churn_forest

    def refuse(*args, **kwargs):
        raise AssertionError("joblib.Parallel used on the one-customer path")

    monkeypatch.setattr(joblib.Parallel, "__call__", refuse)
    p = loaded.predict_proba(X.head(1))
    assert 0.0 <= float(p.iloc[0]) <= 1.0


def test_forest_depth_is_bounded_and_saved(churn_forest):
    """Reasons cost leaves x depth^2 per tree: the default forest is 4 or 8 deep, picked on
    the calibration folds, and says which after a save and load."""
    from crm_ml.churn.model import FOREST_DEPTHS

    _, model, loaded = churn_forest
    assert model.max_depth_ in FOREST_DEPTHS and loaded.max_depth_ == model.max_depth_
    assert max(e.get_depth() for e in model.forest_.estimators_) <= model.max_depth_


def test_user_depth_is_kept():
    X, y = churn_table(600, seed=1)
    model = ChurnModel("random_forest", n_estimators=10, cv=3, track=False,
                       params={"max_depth": 2}).fit(X, y)
    assert model.max_depth_ == 2
    assert max(e.get_depth() for e in model.forest_.estimators_) <= 2
