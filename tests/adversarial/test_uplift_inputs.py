"""Adversarial: hostile inputs to UpliftModel and targeting, and what its files may hold."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.campaigns.uplift import UpliftModel
from crm_ml.data.privacy import PersonalDataWarning
from tests._uplift_data import simulated_campaign


@pytest.fixture(scope="module")
def camp():
    return simulated_campaign(1500, seed=4)


def test_personal_columns_dropped_and_rare_levels_never_stored(camp, tmp_path):
    X, t, y, _ = camp
    X = X.copy()
    X["email"] = [f"person{i}@example.com" for i in range(len(X))]
    X["city"] = np.where(np.arange(len(X)) < 5, "Tinytown", "Bigcity")  # 5 < k customers
    with pytest.warns(PersonalDataWarning, match="email"):
        m = UpliftModel(method="t_learner", n_estimators=20).fit(X, t, y)
    m.save(tmp_path)
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "Tinytown" not in text and "example.com" not in text and "c0000" not in text
    spec = json.loads((tmp_path / "spec.json").read_text())
    assert "email" not in spec["encoder"]["columns"]


@pytest.mark.parametrize("treated", [["yes"] * 1500, np.full(1500, 0.5), [None] * 1500])
def test_treated_that_is_not_0_1_is_refused(camp, treated):
    X, _, y, _ = camp
    with pytest.raises(cm.DataValidationError) as err:
        UpliftModel().fit(X, treated, y)
    assert err.value.column == "treated"


def test_boolean_labels_are_0_1_and_arrays_align_by_position(camp):
    X, t, y, _ = camp
    a = UpliftModel(method="t_learner", n_estimators=20).fit(X, t.to_numpy(), y.astype(bool))
    b = UpliftModel(method="t_learner", n_estimators=20).fit(X, t, y)
    pd.testing.assert_series_equal(a.predict(X), b.predict(X))


def test_scoring_one_row_nan_inf_and_empty(camp):
    X, t, y, _ = camp
    m = UpliftModel(method="x_learner", n_estimators=20).fit(X, t, y)
    one = X.iloc[[0]].copy()
    one.iloc[0, :4] = [np.nan, np.inf, -np.inf, 1e300]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning on a single odd row
        out = m.predict(one)
    assert len(out) == 1 and np.isfinite(out).all()
    with pytest.raises(cm.DataValidationError, match="0 rows"):
        m.predict(X.iloc[:0])
    with pytest.raises(cm.DataValidationError):
        m.evaluate(X, t.iloc[:10], y)


def test_targeting_refuses_hostile_inputs():
    u = pd.Series([0.1, 0.2], index=["a", "b"])
    with pytest.raises(cm.DataValidationError, match="duplicate"):
        cm.campaigns.targeting(pd.Series([0.1, 0.2], index=["a", "a"]), value=1.0)
    with pytest.raises(cm.DataValidationError, match="value"):
        cm.campaigns.targeting(u, value=pd.Series({"a": 1.0, "b": np.inf}))
    with pytest.raises(cm.DataValidationError, match="churn_probability"):
        cm.campaigns.targeting(u, value=1.0, churn_probability=pd.Series({"a": 2.0, "b": 0.1}))
    with pytest.raises(cm.DataValidationError, match="budget"):
        cm.campaigns.targeting(u, value=1.0, budget=-5)
    with pytest.raises(cm.DataValidationError, match="Series"):
        cm.campaigns.targeting([0.1, 0.2], value=1.0)
    with pytest.raises(cm.DataValidationError, match="value"):
        cm.campaigns.targeting(u, value="ten")


def test_one_conversion_in_the_control_group_still_fits_without_warnings():
    X, t, y, _ = simulated_campaign(200, seed=1)
    y = y.copy()
    y[:] = 0
    y[t[t == 0].index[0]] = 1
    y[t[t == 1].index[:30]] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = UpliftModel().fit(X, t, y)
    assert np.isfinite(m.predict(X)).all()
    assert set(m.cv_scores_) == {"t_learner", "x_learner"}
