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
    model = ChurnModel("random_forest", n_estimators=30, cv=3).fit(X, y)
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
    model = ChurnModel("random_forest", n_estimators=10, cv=3,
                       params={"max_depth": 2}).fit(X, y)
    assert model.max_depth_ == 2
    assert max(e.get_depth() for e in model.forest_.estimators_) <= 2


# ---------------------------------------------------------------- champion: explanation budget
def _leaf_depths(tree) -> list[int]:
    """Depth of every leaf of a scikit-learn tree, walked independently of the booster."""
    out, stack = [], [(0, 0)]
    while stack:
        node, depth = stack.pop()
        if tree.children_left[node] < 0:
            out.append(depth)
        else:
            stack += [(tree.children_left[node], depth + 1), (tree.children_right[node], depth + 1)]
    return out


def test_explanation_cost_is_the_sum_of_squared_leaf_depths(forest):
    from crm_ml.churn.champion import tree_explanation_cost

    rf, _ = forest
    expected = sum(d * d for e in rf.estimators_ for d in _leaf_depths(e.tree_))
    assert tree_explanation_cost(forest_to_booster(rf)) == expected


def forest_model(X, y, depth, trees):
    return ChurnModel("random_forest", n_estimators=trees, calibrate=False,
                      params={"max_depth": depth}).fit(X, y)


def test_explanation_cost_grows_with_depth_and_trees():
    from crm_ml.churn.champion import explanation_cost

    X, y = churn_table(2000, seed=2)
    by_depth = [explanation_cost(forest_model(X, y, d, 20)) for d in (2, 4, 6, 8)]
    by_trees = [explanation_cost(forest_model(X, y, 6, t)) for t in (10, 20, 40)]
    assert (np.diff(by_depth) > 0).all(), by_depth
    assert (np.diff(by_trees) > 0).all(), by_trees


@pytest.fixture(scope="module")
def candidates():
    """LightGBM as the demo fits it, a deep forest far over its explanation cost, a stump
    forest well under it."""
    from crm_ml.churn.champion import explanation_cost

    X, y = churn_table(2000, seed=3)
    lgb = ChurnModel("lightgbm", cv=3).fit(X, y)
    deep = forest_model(X, y, 8, 100)
    shallow = forest_model(X, y, 1, 5)
    cost = explanation_cost(lgb)
    assert explanation_cost(deep) > 2 * cost and explanation_cost(shallow) <= 2 * cost
    return lgb, deep, shallow


def comparison(lgb_auc, rf_auc):
    return pd.DataFrame({"roc_auc": [lgb_auc, rf_auc], "brier": [0.2, 0.2]},
                        index=pd.Index(["lightgbm", "random_forest"], name="algorithm"))


def test_better_forest_over_budget_loses_to_lightgbm(candidates):
    from crm_ml.churn.champion import choose_champion

    lgb, deep, _ = candidates
    choice = choose_champion(comparison(0.80, 0.85), {"lightgbm": lgb, "random_forest": deep})
    assert choice.algorithm == "lightgbm" and choice.model is lgb
    assert choice.rule == "explanation budget"
    assert "ROC-AUC 0.8500 vs LightGBM 0.8000" in choice.reason
    assert "budget 2x" in choice.reason and choice.reason.endswith("LightGBM chosen.")
    assert choice.comparison.loc["random_forest", "explanation_cost_vs_lightgbm"] > 2


def test_better_forest_within_budget_wins_and_worse_or_tied_forest_does_not(candidates):
    from crm_ml.churn.champion import choose_champion

    lgb, _, shallow = candidates
    models = {"lightgbm": lgb, "random_forest": shallow}
    choice = choose_champion(comparison(0.80, 0.85), models)
    assert (choice.algorithm, choice.rule) == ("random_forest", "roc_auc")
    assert choice.model is shallow and "random forest chosen" in choice.reason
    for rf_auc in (0.80, 0.79):  # a tie keeps LightGBM
        assert choose_champion(comparison(0.80, rf_auc), models).algorithm == "lightgbm"


def test_over_budget_forest_is_refitted_shallower_and_wins_only_if_still_better(candidates):
    from crm_ml.churn.champion import choose_champion

    lgb, deep, shallow = candidates
    models = {"lightgbm": lgb, "random_forest": deep}
    asked = []

    def refit(auc):
        def refit_forest(depth):
            asked.append(depth)
            return shallow, {"roc_auc": auc, "brier": 0.2}
        return refit_forest

    choice = choose_champion(comparison(0.80, 0.85), models, refit_forest=refit(0.82))
    assert asked == [4]  # the shallower depths of FOREST_DEPTHS below the forest's 8
    assert (choice.algorithm, choice.rule, choice.model) == ("random_forest",
                                                             "shallower forest", shallow)
    assert "refitted at depth 4" in choice.reason
    assert "random_forest depth 4" in choice.comparison.index
    choice = choose_champion(comparison(0.80, 0.85), models, refit_forest=refit(0.80))
    assert (choice.algorithm, choice.rule) == ("lightgbm", "explanation budget")


def test_champion_choice_is_deterministic():
    """Nothing is timed: refitting both candidates on the same data gives the same choice."""
    from crm_ml.churn.champion import choose_champion, explanation_cost

    X, y = churn_table(1500, seed=4)
    choices, costs = [], []
    for _ in range(2):
        models = {"lightgbm": ChurnModel("lightgbm", cv=3).fit(X, y),
                  "random_forest": ChurnModel("random_forest", n_estimators=30,
                                              cv=3).fit(X, y)}
        costs.append({a: explanation_cost(m) for a, m in models.items()})
        choices.append(choose_champion(comparison(0.80, 0.81), models))
    assert costs[0] == costs[1]
    assert choices[0].algorithm == choices[1].algorithm
    assert choices[0].reason == choices[1].reason
