"""Bagging on small tables: the averaged booster is exactly the mean of its models."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

import crm_ml.churn.model as churn_model
from crm_ml.churn import ChurnModel
from crm_ml.churn.bagging import average_boosters


def _data(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4))
    X[rng.random(n) < 0.1, 1] = np.nan
    X[:, 3] = rng.integers(0, 6, n)  # categorical codes
    y = (X[:, 0] + 0.5 * (X[:, 3] > 2) + rng.random(n) > 1.2).astype(int)
    return X, y


def _boosters(X, y, k=3):
    rng = np.random.default_rng(1)
    out = []
    for seed in range(k):
        idx = rng.choice(len(y), int(0.8 * len(y)), replace=False)
        ds = lgb.Dataset(X[idx], y[idx], categorical_feature=[3])
        valid = lgb.Dataset(X[:150], y[:150], reference=ds, categorical_feature=[3])
        out.append(lgb.train(
            {"objective": "binary", "num_leaves": 4, "seed": seed, "bagging_fraction": 0.8,
             "bagging_freq": 1, "verbose": -1}, ds, 300, valid_sets=[valid],
            callbacks=[lgb.early_stopping(10, verbose=False)]))
    return out


def test_average_booster_is_the_mean_of_scores_and_shap_values():
    X, y = _data()
    boosters = _boosters(X, y)
    avg = average_boosters(boosters)
    assert avg.num_trees() == sum(b.num_trees() for b in boosters)
    mean_raw = np.mean([b.predict(X, raw_score=True) for b in boosters], axis=0)
    np.testing.assert_allclose(avg.predict(X, raw_score=True), mean_raw, atol=1e-12)
    mean_contrib = np.mean([b.predict(X, pred_contrib=True) for b in boosters], axis=0)
    np.testing.assert_allclose(avg.predict(X, pred_contrib=True), mean_contrib, atol=1e-12)
    # survives the text round trip used by save() and MLflow
    again = lgb.Booster(model_str=avg.model_to_string())
    np.testing.assert_array_equal(again.predict(X, raw_score=True),
                                  avg.predict(X, raw_score=True))


def test_average_of_one_booster_is_that_booster():
    X, y = _data()
    (b,) = _boosters(X, y, k=1)
    np.testing.assert_allclose(average_boosters([b]).predict(X, raw_score=True),
                               b.predict(X, raw_score=True), atol=1e-12)
    with pytest.raises(ValueError):
        average_boosters([])


def _frame(n=600, seed=0):
    X, y = _data(n, seed)
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"],
                         index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    frame["plan"] = pd.Categorical([f"p{int(v)}" for v in X[:, 3]])
    return frame, pd.Series(y, index=frame.index)


def test_small_tables_bag_the_fold_models_and_large_ones_do_not(monkeypatch, tmp_path):
    X, y = _frame()
    small = ChurnModel(cv=3).fit(X, y)
    assert small.n_bagged_ == 4  # three fold models and the refit
    assert small.booster_.num_trees() > small.n_estimators_
    small.save(tmp_path / "m")
    back = ChurnModel.load(tmp_path / "m")
    assert back.n_bagged_ == 4
    np.testing.assert_allclose(back.predict_proba(X), small.predict_proba(X), atol=1e-12)
    # SHAP values still add up to the (bagged) raw score
    ex = small.explain(X.head(50))
    np.testing.assert_allclose(ex.shap_values.sum(axis=1) + ex.base_value,
                               small.raw_score(X.head(50)), atol=1e-6)

    monkeypatch.setattr(churn_model, "SMALL_TABLE", 100)
    large = ChurnModel(cv=3).fit(X, y)
    assert large.n_bagged_ == 1
    assert large.booster_.num_trees() == large.n_estimators_


def test_bagging_switch():
    X, y = _frame(300)
    single = ChurnModel(cv=3, bagging=False).fit(X, y)
    assert single.n_bagged_ == 1
    assert single.booster_.num_trees() == single.n_estimators_
    with pytest.raises(Exception, match="bagging"):
        ChurnModel(bagging="sometimes").fit(X, y)
