"""The hybrid CLV and the automatic choice: no leakage, persistence, serving contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crm_ml.clv import CLVAssumptionWarning, CLVModel, load_cdnow_sample
from crm_ml.errors import DataValidationError

CAL_END = "1997-09-30"


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()


def _fit(tx, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CLVModel(**params).fit(tx, CAL_END)


@pytest.fixture(scope="module")
def hybrid_model(cdnow):
    return _fit(cdnow, method="hybrid")


def test_nothing_after_as_of_reaches_the_hybrid_or_the_choice(cdnow, hybrid_model):
    later = cdnow["timestamp"] > pd.Timestamp(CAL_END)
    assert later.any()
    changed = cdnow.copy()
    changed.loc[later, "amount"] *= 50.0        # the future is wildly different...
    extra = cdnow[~later].head(300).assign(timestamp=pd.Timestamp("1998-01-05"))
    changed = pd.concat([changed, extra], ignore_index=True)   # ...and longer
    other = _fit(changed, method="hybrid")
    pd.testing.assert_frame_equal(other.predict(52), hybrid_model.predict(52))
    assert other.selection_ == hybrid_model.selection_
    for key in ("as_of", "features_at", "trained_at"):
        assert pd.Timestamp(hybrid_model.selection_[key]) <= pd.Timestamp(CAL_END)
    auto_a, auto_b = _fit(cdnow), _fit(changed)
    assert auto_a.method_ == auto_b.method_ and auto_a.selection_ == auto_b.selection_


def test_hybrid_keeps_the_probabilistic_parameters_and_columns(cdnow, hybrid_model):
    prob = _fit(cdnow, method="probabilistic")
    assert hybrid_model.params_ == prob.params_
    a, b = hybrid_model.predict(52), prob.predict(52)
    assert list(a.columns) == list(b.columns)
    pd.testing.assert_frame_equal(a.drop(columns=["clv", "clv_tier"]),
                                  b.drop(columns=["clv", "clv_tier"]))
    assert not np.allclose(a["clv"], b["clv"])       # the booster ranks, not Gamma-Gamma
    assert (a["clv"] >= 0).all() and np.isfinite(a["clv"]).all()
    # discounting and margin act as for the probabilistic model
    disc = hybrid_model.predict(52, discount_rate=0.2, margin=0.5)
    assert (disc["clv"] <= 0.5 * a["clv"] + 1e-9).all()


def test_hybrid_round_trips_through_json_and_pyfunc_falls_back_without_total_spend(
        hybrid_model, tmp_path):
    import mlflow.pyfunc

    from crm_ml.clv.pyfunc import INPUT_COLUMNS, save_pyfunc

    back = CLVModel.load(hybrid_model.save(tmp_path / "clv.json"))
    assert back.method_ == "hybrid"
    s = hybrid_model.summary_.head(40)
    pd.testing.assert_frame_equal(back.predict(26, summary=s), hybrid_model.predict(26, summary=s))
    # without total_spend (the four-column serving contract) clv is the probabilistic value
    with pytest.warns(CLVAssumptionWarning, match="total_spend"):
        four = hybrid_model.predict(26, summary=s[INPUT_COLUMNS])
    np.testing.assert_allclose(four["clv"], four["expected_value"] * four["expected_purchases"])
    py = mlflow.pyfunc.load_model(str(save_pyfunc(hybrid_model, tmp_path / "m", horizon=26)))
    with pytest.warns(CLVAssumptionWarning, match="total_spend"):
        served = py.predict(s[INPUT_COLUMNS].reset_index(drop=True))
    np.testing.assert_allclose(served["clv"], four["clv"], rtol=1e-9)


def test_method_is_validated_and_fit_summary_is_probabilistic(hybrid_model):
    with pytest.raises(DataValidationError, match="method"):
        CLVModel(method="boosted").fit_summary(hybrid_model.summary_)
    with pytest.raises(DataValidationError, match="transactions"):
        CLVModel(method="hybrid").fit_summary(hybrid_model.summary_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = CLVModel().fit_summary(hybrid_model.summary_)
    assert m.method_ == "probabilistic" and "fit_summary" in m.selection_["reason"]


def test_short_history_falls_back_to_probabilistic_or_refuses_the_hybrid(cdnow):
    early = "1997-02-20"   # about seven weeks of history: no room for two spend windows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = CLVModel().fit(cdnow, early)
        assert m.method_ == "probabilistic" and "too short" in m.selection_["reason"]
        with pytest.raises(DataValidationError, match="hybrid"):
            CLVModel(method="hybrid").fit(cdnow, early)


def test_a_served_hybrid_reads_total_spend_through_its_signature(hybrid_model, tmp_path):
    """The registered pyfunc of a hybrid takes total_spend as an optional signature column:
    served with it, the hybrid's own clv comes back; crm_ml.serve demands only the four."""
    import mlflow.pyfunc

    from crm_ml.clv.pyfunc import INPUT_COLUMNS, input_columns, save_pyfunc
    from crm_ml.serve import required_fields

    py = mlflow.pyfunc.load_model(str(save_pyfunc(hybrid_model, tmp_path / "m", horizon=26)))
    assert required_fields(py) == INPUT_COLUMNS
    assert "total_spend" in py.metadata.get_input_schema().input_names()
    s = hybrid_model.summary_.head(40)[input_columns(hybrid_model)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CLVAssumptionWarning)  # no fallback with total_spend
        served = py.predict(s.reset_index(drop=True))
    own = hybrid_model.predict(26, summary=s)
    np.testing.assert_allclose(served["clv"], own["clv"].to_numpy(), rtol=1e-9)
