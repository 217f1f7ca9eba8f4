"""Bagged ARIMA: BLD-MBB bootstrap copies and the engine that averages their forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.forecast import ARIMAForecaster
from crm_ml.forecast.arima.bootstrap import bld_mbb_bootstraps, moving_block_bootstrap
from crm_ml.forecast.arima.fast import auto_arima, forecast
from crm_ml.forecast.pyfunc import forecaster_from_dict, forecaster_to_dict


def _seasonal_sales(n=96, seed=0):
    """Positive monthly sales with trend, multiplicative season and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    season = 1 + 0.3 * np.sin(2 * np.pi * t / 12)
    y = (100 + 0.8 * t) * season * np.exp(rng.normal(0, 0.05, n))
    return pd.Series(y, index=pd.date_range("2015-01-01", periods=n, freq="MS"))


def test_moving_block_bootstrap_is_made_of_contiguous_blocks_of_the_input():
    x = np.arange(50, dtype=float)
    out = moving_block_bootstrap(x, 6, np.random.default_rng(1))
    assert len(out) == 50
    assert set(out) <= set(x)
    # inside a block consecutive values step by one; a new block starts at most every 6
    breaks = np.flatnonzero(np.diff(out) != 1)
    assert np.all(np.diff(breaks) >= 6)


def test_bootstrap_copies_keep_level_season_and_positivity_but_differ():
    y = _seasonal_sales().to_numpy()
    copies = bld_mbb_bootstraps(y, 12, 10, np.random.default_rng(0))
    assert len(copies) == 10 and copies[0] is not None
    np.testing.assert_array_equal(copies[0], y)
    profile = lambda v: v.reshape(-1, 12).mean(axis=0)  # noqa: E731 - mean seasonal shape
    for c in copies[1:]:
        assert c.shape == y.shape and np.all(c > 0)
        assert not np.allclose(c, y)
        assert abs(c.mean() / y.mean() - 1) < 0.05
        assert np.corrcoef(profile(c), profile(y))[0, 1] > 0.95
    # the same generator state gives the same copies
    again = bld_mbb_bootstraps(y, 12, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.array(copies), np.array(again))


def test_bootstrap_of_short_or_non_positive_series():
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 20)  # negative values: resampled on their own scale
    copies = bld_mbb_bootstraps(y, 12, 4, rng)  # shorter than 2 seasons: loess trend
    assert len(copies) == 4 and all(len(c) == 20 and np.all(np.isfinite(c)) for c in copies)
    assert bld_mbb_bootstraps(y, 1, 1, rng)[0] is not None


def test_bagged_forecast_is_the_mean_of_the_models_on_the_copies():
    y = _seasonal_sales()
    f = ARIMAForecaster(engine="bagged", n_bagged=5).fit(y)
    eng = f.engine_
    assert eng.n_bagged_ == 5 and f.model_.endswith("bagged over 5 series")
    # redo by hand: the fast search on the series and on the same four copies
    copies = bld_mbb_bootstraps(y.to_numpy(), 12, 5, np.random.default_rng(0))
    paths = [forecast(auto_arima(c, 12), 6)[0] for c in copies]
    np.testing.assert_allclose(f.predict(6)["forecast"], np.mean(paths, axis=0), rtol=1e-8)
    # description and interval width come from the model on the series itself
    fast = ARIMAForecaster(engine="fast", n_averaged=1).fit(y)
    assert f.model_.startswith(fast.model_) and f.order_ == fast.order_
    p, q = f.predict(6), fast.predict(6)
    np.testing.assert_allclose(p["upper"] - p["lower"], q["upper"] - q["lower"], rtol=1e-8)
    assert not np.allclose(p["forecast"], q["forecast"])


def test_one_bagged_series_is_the_fast_engine_and_the_seed_is_honoured():
    y = _seasonal_sales(seed=4)
    one = ARIMAForecaster(engine="bagged", n_bagged=1).fit(y).predict(12)
    # each bagged member is one model: one bagged series is the fast engine's best model
    fast = ARIMAForecaster(engine="fast", n_averaged=1).fit(y).predict(12)
    pd.testing.assert_frame_equal(one, fast)
    a = ARIMAForecaster(engine="bagged", random_state=1).fit(y).predict(12)
    b = ARIMAForecaster(engine="bagged", random_state=1).fit(y).predict(12)
    c = ARIMAForecaster(engine="bagged", random_state=2).fit(y).predict(12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["forecast"], c["forecast"])


def test_bagged_copies_keep_the_regressor_effect():
    y = _seasonal_sales(seed=5)
    promo = pd.DataFrame({"promo": (np.arange(len(y) + 6) % 5 == 0).astype(float)},
                         index=pd.date_range(y.index[0], periods=len(y) + 6, freq="MS"))
    f = ARIMAForecaster(engine="bagged").fit(y + 40 * promo["promo"][:len(y)],
                                                         X=promo[:len(y)])
    assert f.summary()["coefficients"]["promo"] == pytest.approx(40, abs=6)
    for member in f.engine_.members_:  # every copy re-estimates the effect it keeps
        assert member.coef[member.names.index("ex_1")] == pytest.approx(40, abs=8)
    fc = f.predict(6, X_future=promo[len(y):])["forecast"].to_numpy()
    on = promo["promo"][len(y):].to_numpy() == 1
    base = ARIMAForecaster(engine="bagged").fit(y).predict(6)["forecast"]
    assert np.mean(fc[on] - base.to_numpy()[on]) > 25


def test_bagged_state_round_trips_and_bad_n_bagged_is_refused():
    y = _seasonal_sales(seed=6)
    f = ARIMAForecaster(engine="bagged", n_bagged=4).fit(y)
    g = forecaster_from_dict(forecaster_to_dict(f))
    pd.testing.assert_frame_equal(g.predict(12), f.predict(12))
    assert g.model_ == f.model_
    with pytest.raises(DataValidationError, match="n_bagged"):
        ARIMAForecaster(engine="bagged", n_bagged=0).fit(y)


def test_forecast_many_and_tracking_with_the_bagged_engine():
    import mlflow

    from crm_ml.forecast import forecast_many
    from crm_ml.tracking import tracking_uri

    y = _seasonal_sales(n=60, seed=7)
    long = pd.concat([pd.DataFrame({"series_id": sid, "timestamp": y.index, "y": y * k})
                      for sid, k in (("a", 1.0), ("b", 2.0))])
    out = forecast_many(long, h=3, n_jobs=1, engine="bagged", n_bagged=3)
    assert len(out) == 6 and out["model"].str.endswith("bagged over 3 series").all()
    from crm_ml.forecast import log_model

    f = ARIMAForecaster(engine="bagged", n_bagged=3).fit(y)
    run_id = log_model(f, include_model=False, backtest_windows=0).run_id
    params = mlflow.MlflowClient(tracking_uri()).get_run(run_id).data.params
    assert params["engine"] == "bagged" and params["n_bagged_"] == "3"


def test_auto_transform_compares_single_models_and_bags_only_the_winner(monkeypatch):
    from crm_ml.forecast.arima.engines import BaggedArimaEngine

    rng = np.random.default_rng(8)
    t = np.arange(96)
    y = pd.Series(np.exp(4 + 0.02 * t + 0.3 * np.sin(2 * np.pi * t / 12)
                         + rng.normal(0, 0.05, 96)),
                  index=pd.date_range("2015-01-01", periods=96, freq="MS"))
    calls = []
    fit_members = BaggedArimaEngine.fit_members  # every bag is made here (fit calls it too)

    def counted(self, z, xreg=None):
        calls.append(1)
        return fit_members(self, z, xreg)

    monkeypatch.setattr(BaggedArimaEngine, "fit_members", counted)
    f = ARIMAForecaster(engine="bagged", n_bagged=3, transform="auto").fit(y)
    single = ARIMAForecaster(engine="fast", n_averaged=1, transform="auto").fit(y)
    assert f.fallback_ is None and single.fallback_ is None
    assert len(calls) == 1  # two candidates compared, one bagged
    assert f.lambda_ == single.lambda_ == 0.0 and f.aicc_ == single.aicc_
    assert f.order_ == single.order_
    assert not np.allclose(f.predict(12)["forecast"], single.predict(12)["forecast"])
