"""Grouped TreeSHAP equals LightGBM's own pred_contrib, whatever the splits and missing values."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from crm_ml.explain.grouped_treeshap import lightgbm_shap_values


def tricky_matrix(n: int, seed: int = 0):
    """NaNs, exact zeros, values on a grid (ties at thresholds), categorical codes with
    negatives, fractions, NaN and codes never seen in training."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[rng.random(n) < 0.1, 0] = np.nan
    X[:, 3] = rng.integers(-1, 7, n)
    X[rng.random(n) < 0.1, 3] = np.nan
    X[rng.random(n) < 0.05, 3] = -0.5  # C++ truncates it to code 0
    X[:, 4] = rng.integers(0, 4, n)
    X[rng.random(n) < 0.2, 4] = 0.0
    X[rng.random(n) < 0.05, 4] = np.nan
    X[:, 5] = np.round(X[:, 5], 1)
    y = (X[:, 1] + (X[:, 3] == 2) + np.nan_to_num(X[:, 0]) + 0.3 * np.nan_to_num(X[:, 4])
         + rng.normal(size=n) > 0).astype(int)
    return X, y


@pytest.mark.parametrize("params", [
    {"num_leaves": 15},
    {"num_leaves": 63, "zero_as_missing": True},  # > 31 splits per tree: pattern folding
    {"num_leaves": 7, "use_missing": False},
    {"num_leaves": 4, "min_gain_to_split": 1e9},  # every tree a single leaf
])
def test_equals_lightgbm_pred_contrib(params):
    X, y = tricky_matrix(6000)
    train = lgb.Dataset(X[:3000], y[:3000], categorical_feature=[3])
    booster = lgb.train({"objective": "binary", "verbose": -1, "seed": 0, **params}, train, 25)
    values, base = lightgbm_shap_values(booster, X, min_rows=0)  # force the grouped path
    expected = booster.predict(X, pred_contrib=True)
    np.testing.assert_allclose(values, expected[:, :-1], atol=1e-9)
    assert base == pytest.approx(expected[0, -1], abs=1e-9)
    # and they add up to the raw score
    np.testing.assert_allclose(values.sum(1) + base, booster.predict(X, raw_score=True),
                               atol=1e-9)


def test_churn_model_explain_uses_it_on_large_inputs():
    from crm_ml.churn import ChurnModel

    rng = np.random.default_rng(1)
    n = 25_000  # above the grouping threshold
    X = pd.DataFrame({"recency_days": rng.gamma(2, 30, n), "orders_90d": rng.poisson(2, n),
                      "region": pd.Categorical(rng.choice(["N", "S", "E"], n))})
    X.loc[rng.random(n) < 0.1, "recency_days"] = np.nan
    y = pd.Series((rng.random(n) < 1 / (1 + np.exp(-(X["recency_days"].fillna(60) - 60) / 30)))
                  .astype(int))
    m = ChurnModel(cv=3).fit(X.head(5000), y.head(5000))
    e = m.explain(X)
    Xe = m.preprocessor_.transform(X).to_numpy(dtype=float)
    expected = m.booster_.predict(Xe, pred_contrib=True)
    assert e.method == "lightgbm TreeSHAP"
    np.testing.assert_allclose(e.shap_values.to_numpy(), expected[:, :-1], atol=1e-9)
    np.testing.assert_allclose(e.reasons["churn_probability"], m.predict_proba(X), atol=1e-9)
