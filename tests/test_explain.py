"""SHAP explanations: LightGBM TreeSHAP == TreeExplainer, additivity, reasons follow SHAP signs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.churn import ChurnModel, make_labels
from crm_ml.explain import phrases


@pytest.fixture(scope="module")
def fitted():
    from crm_ml.datasets import make_crm_dataset

    ds = make_crm_dataset(n_customers=700, seed=5)
    t = ds.as_of - pd.Timedelta(days=120)
    X = cm.features.build(ds.transactions, t, ds.interactions)  # numeric features only
    y = make_labels(ds.transactions, t, 90).reindex(X.index)
    return X, y, ChurnModel(cv=3).fit(X, y)


def test_lightgbm_treeshap_identical_to_shap_tree_explainer(fitted):
    X, _, m = fitted
    fast = m.explain(X.head(100))
    slow = m.explain(X.head(100), method="shap")
    assert fast.method == "lightgbm TreeSHAP" and slow.method == "shap.TreeExplainer"
    np.testing.assert_allclose(fast.shap_values, slow.shap_values, atol=1e-6)
    assert fast.base_value == pytest.approx(slow.base_value, abs=1e-6)


def test_shap_adds_up_to_the_raw_log_odds(fitted):
    X, _, m = fitted
    e = m.explain(X.head(200))
    assert e.output == "log-odds"
    total = e.shap_values.sum(axis=1) + e.base_value
    np.testing.assert_allclose(total, m.raw_score(X.head(200)), atol=1e-6)


def test_reasons_follow_shap_signs(fitted):
    X, _, m = fitted
    e = m.explain(X.head(300), top_k=3)
    r = e.reasons
    assert list(r.columns[:4]) == ["churn_probability", "reason_1", "feature_1", "shap_1"]
    for i in (1, 2, 3):
        s = r[f"shap_{i}"]
        # the stated SHAP value is the customer's SHAP value of that feature
        looked_up = [e.shap_values.at[c, f] for c, f in zip(r.index, r[f"feature_{i}"],
                                                             strict=True)]
        np.testing.assert_allclose(s, looked_up)
        raises = r[f"reason_{i}"].str.endswith("(raises churn risk)")
        lowers = r[f"reason_{i}"].str.endswith("(lowers churn risk)")
        assert (raises == (s > 0)).all() and (lowers == (s < 0)).all()
    # ordered by |SHAP|
    assert (r["shap_1"].abs() >= r["shap_2"].abs()).all()
    assert (r["shap_2"].abs() >= r["shap_3"].abs()).all()


def test_recency_phrase_mentions_usual_gap():
    out = phrases("recency_days", [142.0, 10.0, np.nan], {"mean_gap_days": [30.0, np.nan, 5.0]})
    assert out == ["no purchase for 142 days (usual gap 30)", "no purchase for 10 days",
                   "no purchase history"]
    assert phrases("orders_change_90d", [-3.0])[0].startswith("orders down by 3 in the last 90")
    assert phrases("region", pd.Series(["North"], dtype="category")) == ["region is North"]


def test_random_forest_shap_per_input_column():
    rng = np.random.default_rng(0)
    n = 300
    X = pd.DataFrame({"spend": rng.gamma(2, 50, n), "plan": rng.choice(["a", "b", "c"], n)},
                     index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    y = pd.Series((rng.random(n) < np.where(X["plan"] == "a", 0.7, 0.3)).astype(int),
                  index=X.index)
    m = ChurnModel("random_forest", n_estimators=25, cv=3).fit(X, y)
    e = m.explain(X.head(40), top_k=2)
    assert list(e.shap_values.columns) == ["spend", "plan"]  # one-hot summed back
    assert e.output == "probability"
    forest_p = m.forest_.predict_proba(m.preprocessor_.transform(X.head(40)).to_numpy())[:, 1]
    np.testing.assert_allclose(e.shap_values.sum(axis=1) + e.base_value, forest_p, atol=1e-6)
    assert e.reasons["reason_1"].str.contains("plan is|spend =").all()


def test_importance_and_plots(fitted):
    from matplotlib.figure import Figure

    X, _, m = fitted
    e = m.explain(X.head(200))
    imp = e.importance()
    assert imp["mean_abs_shap"].is_monotonic_decreasing
    assert imp["description"].str.len().gt(0).all()
    assert isinstance(e.plot_importance(), Figure) and isinstance(e.plot_beeswarm(), Figure)
