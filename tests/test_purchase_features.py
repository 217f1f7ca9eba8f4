"""crm_ml.clv.purchase_features: purchase-model outputs as churn features, fitted on history
only; a failing model loses its columns with a warning, never the run."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml as cm
from crm_ml.clv import features as pf
from crm_ml.clv._fitting import CLVConvergenceError
from crm_ml.errors import DataValidationError

H = 90


@pytest.fixture(scope="module")
def data():
    ds = cm.datasets.make_crm_dataset(n_customers=400, seed=3)
    as_of = ds.as_of - pd.Timedelta(days=120)
    return ds.transactions, as_of


@pytest.fixture(scope="module")
def feats(data):
    tx, as_of = data
    return pf.purchase_features(tx, as_of, horizon_days=H)


def test_one_row_per_customer_with_a_purchase_and_two_columns_per_model(data, feats):
    tx, as_of = data
    X = cm.features.build(tx, as_of)
    assert feats.index.name == "customer_id"
    assert feats.index.is_monotonic_increasing
    buyers = tx.loc[(tx["timestamp"] <= as_of) & (tx["amount"] > 0), "customer_id"].unique()
    assert set(feats.index) == set(buyers)
    assert list(feats.columns) == [f"{m}_{c}" for m in pf.PURCHASE_MODELS
                                   for c in ("expected_purchases", "p_alive")]
    assert np.isfinite(feats.to_numpy()).all()
    assert feats.filter(like="p_alive").stack().between(0, 1).all()
    assert (feats.filter(like="expected").to_numpy() >= 0).all()
    joined = X.join(feats)  # the README's one line
    assert len(joined) == len(X) and joined[feats.columns].notna().all().all()


def test_bgnbd_columns_match_lifetimes_fitted_on_the_same_summary(data, feats):
    from lifetimes import BetaGeoFitter

    tx, as_of = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = cm.clv.purchase_summary(tx, as_of, "W").reindex(feats.index)
        bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    args = (s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(
        feats["bgnbd_expected_purchases"],
        bg.conditional_expected_number_of_purchases_up_to_time(H / 7, *args), rtol=1e-3)
    np.testing.assert_allclose(feats["bgnbd_p_alive"],
                               bg.conditional_probability_alive(*args), rtol=1e-3)


def test_nothing_after_as_of_changes_anything(data, feats):
    tx, as_of = data
    # history is every row on or before the as_of *day* (crm_ml.data.windows)
    after = tx["timestamp"] >= as_of.normalize() + pd.Timedelta(days=1)
    assert after.sum() > 100  # there is a future to change
    changed = tx.copy()
    changed.loc[after, "amount"] = changed.loc[after, "amount"] * 7 + 1  # other amounts
    changed = changed.drop(changed.index[after][::2])  # half of the future removed
    newcomers = pd.DataFrame({  # a future customer and future purchases of known ones
        "customer_id": ["ZZ-new", "ZZ-new", feats.index[0], feats.index[1]],
        "timestamp": as_of + pd.to_timedelta([1, 30, 2, 3], unit="D"),
        "amount": [50.0, 60.0, 999.0, 5.0]})
    changed = pd.concat([changed, newcomers], ignore_index=True)
    again = pf.purchase_features(changed, as_of, horizon_days=H)
    pd.testing.assert_frame_equal(again, feats)
    # ...while a change on or before as_of does change them (the test can fail)
    before = tx.copy()
    first = before.index[before["timestamp"] <= as_of][:50]
    before.loc[first, "timestamp"] = before.loc[first, "timestamp"] - pd.Timedelta(days=200)
    assert not pf.purchase_features(before, as_of, horizon_days=H).equals(feats)


def test_same_input_same_output_and_the_global_generator_untouched(data, feats):
    # lifetimes' Pareto/NBD starts from np.random draws: seeded for the fit, state restored
    tx, as_of = data
    np.random.seed(123)
    expected_next = np.random.random()
    np.random.seed(123)
    again = pf.purchase_features(tx.sample(frac=1.0, random_state=1), as_of, horizon_days=H)
    assert np.random.random() == expected_next
    pd.testing.assert_frame_equal(again, feats)


def test_a_longer_horizon_expects_more_purchases(data, feats):
    tx, as_of = data
    longer = pf.purchase_features(tx, as_of, horizon_days=2 * H, models=("bgnbd",))
    assert (longer["bgnbd_expected_purchases"] >= feats["bgnbd_expected_purchases"]).all()
    assert (longer["bgnbd_expected_purchases"] > feats["bgnbd_expected_purchases"]).mean() > 0.9
    np.testing.assert_allclose(longer["bgnbd_p_alive"], feats["bgnbd_p_alive"])


def test_a_model_that_fails_loses_its_columns_with_a_warning(data, feats, monkeypatch):
    tx, as_of = data
    real = pf.fit_model

    def flaky(kind, *args, **kw):
        if kind == "pareto_nbd":
            raise CLVConvergenceError("pareto_nbd: the maximum-likelihood fit did not converge")
        return real(kind, *args, **kw)

    monkeypatch.setattr(pf, "fit_model", flaky)
    with pytest.warns(pf.PurchaseFeatureWarning, match="pareto_nbd could not be fitted"):
        out = pf.purchase_features(tx, as_of, horizon_days=H)
    assert not any(c.startswith("pareto_nbd") for c in out.columns)
    pd.testing.assert_frame_equal(out, feats.drop(columns=["pareto_nbd_expected_purchases",
                                                           "pareto_nbd_p_alive"]))


def test_non_finite_outputs_lose_the_models_columns(data, monkeypatch):
    tx, as_of = data
    real = pf._outputs

    def nan_outputs(fitter, horizon, s):
        e, a = real(fitter, horizon, s)
        e[3] = np.nan
        return e, a

    monkeypatch.setattr(pf, "_outputs", nan_outputs)
    with pytest.warns(pf.PurchaseFeatureWarning, match="non-finite outputs for 1 customer"):
        out = pf.purchase_features(tx, as_of, horizon_days=H, models=("bgnbd",))
    assert out.shape[1] == 0 and len(out) > 0


def test_too_few_repeat_buyers_fit_nothing_and_warn():
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(np.arange(30), unit="D")
    tx = pd.DataFrame({"customer_id": [f"c{i}" for i in range(30)] + ["c0", "c1"],
                       "timestamp": list(days) + list(days[-2:] + pd.Timedelta(days=1)),
                       "amount": 10.0})
    with pytest.warns(pf.PurchaseFeatureWarning, match="only 2 customer"):
        out = pf.purchase_features(tx, "2024-03-01", horizon_days=30)
    assert out.shape == (30, 0) and out.index.name == "customer_id"


@pytest.mark.parametrize("kw, column", [
    ({"models": ("bgnbd", "gamma_gamma")}, "models"),
    ({"models": ()}, "models"),
    ({"models": ("bgnbd", "bgnbd")}, "models"),
    ({"horizon_days": 0}, "horizon_days"),
    ({"time_unit": "Y"}, "time_unit"),
])
def test_bad_arguments_name_the_argument(data, kw, column):
    tx, as_of = data
    with pytest.raises(DataValidationError) as err:
        pf.purchase_features(tx, as_of, **kw)
    assert err.value.column == column


def test_exported_lazily_from_crm_ml_clv():
    assert cm.clv.purchase_features is pf.purchase_features
    assert "purchase_features" in dir(cm.clv)

