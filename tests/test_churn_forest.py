"""Random forest tree size (issue #18): small leaves where churn sits in small pockets,
the cheaper trees otherwise, and explicit settings honoured exactly."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from crm_ml.churn import ChurnModel
from crm_ml.churn.model import FOREST_MIN_LEAF, FOREST_TREES


def pocket_table(n: int, seed: int):
    """Churn mostly in two pockets of ~1 % of customers each (a plan with few calls; many
    calls with low usage), as in the public mlc_churn table; a weak trend elsewhere."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"plan": rng.random(n) < 0.05, "calls": rng.poisson(4, n),
                      "usage": rng.gamma(4.0, 50.0, n), "tenure": rng.integers(1, 200, n),
                      "noise": rng.normal(size=n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    pocket = (X["plan"] & (X["calls"] <= 2)) | ((X["calls"] >= 9) & (X["usage"] < 150))
    p = np.where(pocket, 0.9, 0.03 + 0.03 * (X["tenure"] < 30))
    return X, pd.Series((rng.random(n) < p).astype(int), index=X.index)


@pytest.fixture(scope="module")
def pocket():
    X, y = pocket_table(3000, seed=0)
    Xt, yt = pocket_table(3000, seed=1)
    return X, y, Xt, yt


def test_small_leaves_are_chosen_where_churn_sits_in_pockets(pocket):
    X, y, Xt, yt = pocket
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ChurnModel("random_forest", n_estimators=40, cv=3).fit(X, y)
        old = ChurnModel("random_forest", n_estimators=40, cv=3,
                         min_child_samples=50).fit(X, y)  # the rule of before: 3000 // 40 = 75 -> 50
    assert m.min_samples_leaf_ == FOREST_MIN_LEAF and m.max_depth_ in (4, 8)
    assert old.min_samples_leaf_ == 50
    assert max(e.tree_.n_node_samples[e.tree_.children_left < 0].min()
               for e in m.forest_.estimators_) < 50
    auc, auc_old = roc_auc_score(yt, m.predict_proba(Xt)), roc_auc_score(yt, old.predict_proba(Xt))
    assert auc > auc_old + 0.005


def test_explicit_settings_give_exactly_the_forest_asked_for(pocket):
    """min_child_samples, n_estimators and max_depth set by the user: scikit-learn's forest with
    those arguments, no candidate tried (the same probabilities to the last bit)."""
    X, y, Xt, _ = pocket
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ChurnModel("random_forest", calibrate=False, n_estimators=30, min_child_samples=40,
                       params={"max_depth": 6}).fit(X, y)
    assert (m.max_depth_, m.min_samples_leaf_) == (6, 40)
    Xe = m.preprocessor_.transform(X).to_numpy(dtype=float)
    w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))  # class_weight="auto", 8 % churn
    rf = RandomForestClassifier(n_estimators=30, max_features="sqrt", min_samples_leaf=40,
                                max_depth=6, n_jobs=2, random_state=0).fit(Xe, y, sample_weight=w)
    want = rf.predict_proba(m.preprocessor_.transform(Xt).to_numpy(dtype=float))[:, 1]
    np.testing.assert_allclose(m.predict_proba(Xt).to_numpy(), want, rtol=0, atol=1e-12)


def test_user_leaf_size_is_the_only_leaf_size_tried(pocket):
    X, y, _, _ = pocket
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ChurnModel("random_forest", n_estimators=20, cv=3,
                       params={"min_samples_leaf": 60}).fit(X, y)
    assert m.min_samples_leaf_ == 60 and m.max_depth_ in (4, 8)
    assert min(e.tree_.n_node_samples[e.tree_.children_left < 0].min()
               for e in m.forest_.estimators_) >= 60


def test_default_trees_and_leaf_size_survive_save_and_load(pocket, tmp_path):
    X, y, Xt, _ = pocket
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = ChurnModel("random_forest", calibrate=False).fit(X.head(800), y.head(800))
    assert m.forest_.n_estimators == FOREST_TREES == 100
    assert (m.max_depth_, m.min_samples_leaf_) == (4, 20)  # no folds: depth 4, 800 // 40
    m.save(tmp_path)
    loaded = ChurnModel.load(tmp_path)
    assert loaded.min_samples_leaf_ == 20
    np.testing.assert_allclose(loaded.predict_proba(Xt).to_numpy(),
                               m.predict_proba(Xt).to_numpy(), atol=1e-12)


def test_champion_sentence_names_the_leaf_size(pocket):
    from crm_ml.churn.champion import choose_champion

    X, y, _, _ = pocket
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forest = ChurnModel("random_forest", calibrate=False, n_estimators=10,
                            min_child_samples=5, params={"max_depth": 3}).fit(X, y)
        lgb = ChurnModel("lightgbm", calibrate=False, n_estimators=20).fit(X, y)
    table = pd.DataFrame({"roc_auc": [0.80, 0.79]}, index=["lightgbm", "random_forest"])
    choice = choose_champion(table, {"lightgbm": lgb, "random_forest": forest})
    assert "random forest (depth 3, leaves of >= 5 rows) ROC-AUC 0.7900" in choice.reason
