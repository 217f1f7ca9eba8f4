"""crm_ml.clv's issue-#17 API: score, backtest (and its validate alias), save/load, log_model
with opt-in tracking, and LightGBMSpendModel as a scikit-learn estimator."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import crm_ml.clv as clv
from crm_ml.clv import CLVAssumptionWarning, CLVModel, LightGBMSpendModel, load_cdnow_sample
from crm_ml.errors import DataValidationError, ModelFilesError

CAL_END = "1997-09-30"
HOLDOUT_END = "1998-06-30"


@pytest.fixture(scope="module")
def cdnow():
    return load_cdnow_sample()


@pytest.fixture(scope="module")
def model(cdnow):
    return CLVModel(zero_amount="occasion").fit(cdnow, CAL_END)


@pytest.fixture(scope="module")
def synthetic():
    from crm_ml.datasets import make_crm_dataset

    ds = make_crm_dataset(n_customers=600, seed=3)
    return ds.transactions, ds.as_of - pd.Timedelta(days=90), ds.as_of


def _run_ids() -> set[str]:
    import mlflow

    from crm_ml.tracking import tracking_uri

    client = mlflow.MlflowClient(tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    return {r.info.run_id for r in client.search_runs(experiments, max_results=10_000)}


# ------------------------------------------------------------------------------ names
def test_new_names_are_listed_and_reachable():
    names = dir(clv)
    for name in ("backtest", "backtest_ml", "log_model", "log_backtest", "model_card",
                 "validate", "validate_ml", "build_card"):
        assert name in names, name
    assert clv.build_card is clv.model_card


# ------------------------------------------------------------------------------ score
def test_score_is_the_mean_purchase_log_likelihood_per_customer(cdnow, model):
    d = model.diagnostics_
    expected = d["purchase_loglik"] / d["n_customers"]
    assert model.score(cdnow) == pytest.approx(expected, rel=1e-12)       # default: fitted as_of
    assert model.score(cdnow, CAL_END) == pytest.approx(expected, rel=1e-12)
    assert model.score_summary(model.summary_) == pytest.approx(expected, rel=1e-12)


def test_score_is_highest_at_the_maximum_likelihood_parameters(cdnow, model):
    # the fitted parameters maximise the likelihood: moving any one of them scores lower
    best = model.score(cdnow)
    for name in ("r", "alpha", "a", "b"):
        spec = model.to_dict()
        spec["params"][name] *= 1.2
        assert CLVModel.from_dict(spec).score(cdnow, CAL_END) < best, name


def test_score_at_another_as_of_and_after_fit_summary(cdnow, model):
    later = model.score(cdnow, HOLDOUT_END)
    assert np.isfinite(later) and later != model.score(cdnow)
    m = CLVModel(zero_amount="occasion").fit_summary(model.summary_)
    with pytest.raises(DataValidationError, match="as_of"):
        m.score(cdnow)
    assert m.score(cdnow, CAL_END) == pytest.approx(model.score(cdnow), rel=1e-9)


# --------------------------------------------------------------------------- backtest
def test_validate_is_backtest_with_dates(cdnow):
    m = CLVModel(zero_amount="occasion")
    old = m.validate(cdnow, CAL_END, HOLDOUT_END, plots=False)
    days = (pd.Timestamp(HOLDOUT_END) - pd.Timestamp(CAL_END)).days
    new = m.backtest(cdnow, CAL_END, days, plots=False)
    fn = clv.backtest(m, cdnow, CAL_END, days, plots=False)
    for res in (new, fn):
        assert res.keys() == old.keys()
        for key, value in old.items():
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(res[key], value)
            else:
                assert res[key] == value, key
    assert new["holdout_end"] == pd.Timestamp(HOLDOUT_END)
    assert not hasattr(m, "params_")  # the template is not fitted


@pytest.mark.parametrize("days", [0, -5, 1.5, "ninety", float("nan")])
def test_backtest_refuses_a_bad_horizon(cdnow, days):
    with pytest.raises(DataValidationError, match="horizon_days") as err:
        CLVModel().backtest(cdnow, CAL_END, days)
    assert err.value.column == "horizon_days"


def test_validate_keeps_its_date_error(cdnow):
    with pytest.raises(DataValidationError, match="holdout_end"):
        CLVModel().validate(cdnow, CAL_END, CAL_END)


def test_backtest_ml_is_validate_ml(synthetic):
    tx, as_of, end = synthetic
    old = clv.validate_ml(tx, as_of, end, n_estimators=30)
    new = clv.backtest_ml(tx, as_of, (end - as_of).days, n_estimators=30)
    assert new["gini"] == old["gini"] and new["value_mae"] == old["value_mae"]
    pd.testing.assert_frame_equal(new["per_customer"], old["per_customer"])


# ----------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path, model):
    path = model.save(tmp_path / "clv.json")
    loaded = CLVModel.load(path)
    assert loaded.get_params() == model.get_params()  # zero_amount="occasion" kept too
    pd.testing.assert_frame_equal(loaded.predict(52, summary=model.summary_),
                                  model.predict(52))
    assert [p.name for p in tmp_path.iterdir()] == ["clv.json"]  # no temporary file left


def test_old_spec_with_track_still_loads(tmp_path, model):
    spec = {**model.to_dict(), "track": False}
    (tmp_path / "old.json").write_text(json.dumps(spec))
    loaded = CLVModel.load(tmp_path / "old.json")
    assert "track" not in loaded.get_params()
    assert loaded.params_ == pytest.approx(model.params_)


def test_load_refuses_other_files(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"purchase_model": "bgnbd"}))
    with pytest.raises(ModelFilesError, match="not a saved CLVModel"):
        CLVModel.load(tmp_path / "x.json")
    with pytest.raises(ModelFilesError):
        CLVModel.load(tmp_path / "missing.json")


# --------------------------------------------------------------------------- tracking
def test_log_model_logs_a_pyfunc_and_registers_it(model):
    from crm_ml.clv.tracking import log_model
    from crm_ml.tracking import load_model

    res = log_model(model, registered_name="test-clv-log-model", horizon=26)
    assert res.model_uri and res.registered_version == "1" and res.run_id
    loaded = load_model("test-clv-log-model", alias="challenger")
    four = model.summary_[["frequency", "recency", "T", "monetary_value"]].head(5)
    out = loaded.predict(four.reset_index(drop=True))
    expected = model.predict(26, summary=four)  # what the pyfunc sees: the four columns
    np.testing.assert_allclose(out["clv"].to_numpy(), expected["clv"].to_numpy())


def test_log_model_logs_into_the_given_run(model):
    from crm_ml.tracking import start_run

    with start_run("clv", run_name="given") as run:
        res = clv.log_model(model, run=run, registered_name=None)
    assert res.run_id == run.run_id and res.model_uri and res.registered_version is None


def test_backtest_under_autolog_logs_nothing(cdnow):
    from crm_ml.tracking import autolog

    before = _run_ids()
    autolog()
    try:
        CLVModel(zero_amount="occasion").backtest(cdnow, CAL_END, 91, plots=False)
    finally:
        autolog(disable=True)
    assert _run_ids() == before  # the internal refit is paused


def test_plain_fit_logs_nothing(cdnow):
    before = _run_ids()
    CLVModel(zero_amount="occasion").fit(cdnow, CAL_END)
    assert _run_ids() == before


# ------------------------------------------------------------------ LightGBMSpendModel
def test_lightgbm_spend_model_score_save_and_load(tmp_path, synthetic):
    tx, as_of, _ = synthetic
    m = LightGBMSpendModel(horizon_days=90, n_estimators=30).fit(tx, as_of)
    score = m.score(tx, as_of)
    assert 0 < score <= 1
    path = m.save(tmp_path / "ml.json")
    loaded = LightGBMSpendModel.load(path)
    assert loaded.get_params() == m.get_params()
    pd.testing.assert_series_equal(loaded.predict(tx, as_of), m.predict(tx, as_of))
    assert loaded.score(tx, as_of) == score
    (tmp_path / "bad.json").write_text(json.dumps({"format": "x"}))
    with pytest.raises(ModelFilesError):
        LightGBMSpendModel.load(tmp_path / "bad.json")


def test_lightgbm_spend_model_validates_horizon_in_fit(synthetic):
    tx, as_of, _ = synthetic
    m = LightGBMSpendModel(horizon_days=-1)  # accepted unchanged by the constructor
    assert m.horizon_days == -1
    with pytest.raises(DataValidationError, match="horizon_days"):
        m.fit(tx, as_of)


def test_model_card_alias_builds_the_same_card(synthetic):
    tx, as_of, end = synthetic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CLVAssumptionWarning)
        m = CLVModel().fit(tx, as_of)
        res = m.backtest(tx, as_of - pd.Timedelta(days=90), 90, plots=False)
    a = clv.model_card(m, res, n_boot=10)
    b = clv.build_card(m, res, n_boot=10)
    assert a.to_markdown() == b.to_markdown()
