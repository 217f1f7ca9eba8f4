"""CombinationForecaster, the naive baseline on short series, regressors matched by name/date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _frames import monthly_sales as _sales

import crm_ml as cm
from crm_ml.errors import DataValidationError
from crm_ml.forecast import CombinationForecaster, backtest, forecast_many


# ---------------------------------------------------------------- combination
def test_combination_is_the_equal_weight_mean_of_its_members():
    y = _sales()
    f = CombinationForecaster().fit(y)
    assert set(f.members_) == {"arima", "ets", "theta"}
    assert f.weights_ == pytest.approx({"arima": 1 / 3, "ets": 1 / 3, "theta": 1 / 3})
    fc = f.predict(6, level=95)
    parts = [f.members_["arima"].predict(6)["forecast"].to_numpy(),
             f.members_["ets"].predict(6)["mean"], f.members_["theta"].predict(6)["mean"]]
    np.testing.assert_allclose(fc["forecast"], np.mean(parts, axis=0), rtol=1e-9)
    assert (fc["lower"] < fc["forecast"]).all() and (fc["upper"] > fc["forecast"]).all()
    assert fc.index[0] == pd.Timestamp("2021-01-01")
    one = CombinationForecaster(members=("ets",)).fit(y).predict(6)
    np.testing.assert_allclose(one["forecast"], parts[1], rtol=1e-9)


def test_combination_intervals_cover_about_95_percent_on_simulated_sales():
    hits = []
    for seed in range(12):
        y = _sales(n=84, seed=seed)
        fc = CombinationForecaster().fit(y.iloc[:72]).predict(12, level=95)
        a = y.iloc[72:].to_numpy()
        hits.append(np.mean((a >= fc["lower"].to_numpy()) & (a <= fc["upper"].to_numpy())))
    assert 0.85 <= np.mean(hits) <= 1.0


def test_combination_saves_loads_and_forecasts_the_same(tmp_path):
    from crm_ml.forecast.pyfunc import load_forecaster

    f = CombinationForecaster().fit(_sales())
    g = CombinationForecaster.load(f.save(tmp_path / "c.json"))
    pd.testing.assert_frame_equal(f.predict(5, level=(80, 95)), g.predict(5, level=(80, 95)))
    assert g.get_params() == f.get_params() and g.model_ == f.model_
    assert type(load_forecaster(tmp_path / "c.json")) is CombinationForecaster


def test_combination_with_regressors_uses_them_in_every_member():
    y = _sales(seed=4)
    promo = pd.DataFrame({"promo": (np.arange(78) % 5 == 0).astype(float)},
                         index=pd.date_range(y.index[0], periods=78, freq="MS"))
    f = CombinationForecaster().fit(y + 40 * promo["promo"][:72], promo[:72])
    assert f.beta_["promo"] == pytest.approx(40, abs=8)
    on = f.predict(6, X_future=promo[72:])["forecast"]
    off = f.predict(6, X_future=promo[72:] * 0)["forecast"]
    np.testing.assert_allclose(on - off, 40 * promo["promo"][72:].to_numpy(), atol=8)
    with pytest.raises(DataValidationError, match="X_future"):
        f.predict(6)


def test_combination_falls_back_like_arima_on_a_constant_series():
    f = CombinationForecaster().fit(_sales(n=24) * 0 + 5)
    assert f.fallback_ and list(f.members_) == ["arima"]
    assert (f.predict(3)["forecast"] == 5).all()


def test_backtest_and_forecast_many_take_the_combination():
    y = _sales()
    bt = backtest(y, h=6, n_windows=2, estimator=CombinationForecaster())
    assert set(bt.windows["model"]) == {"combination", "seasonal_naive"}
    assert bt.model == "combination" and np.isfinite(bt.metrics["mase"])
    long = pd.concat([_sales(seed=s).to_frame("y").reset_index(names="timestamp")
                      .assign(series_id=f"s{s}") for s in range(2)])
    out = forecast_many(long, h=3, n_jobs=1, model="combination", show_progress=False)
    assert len(out) == 6 and out["model"].str.startswith("Combination").all()
    with pytest.raises(DataValidationError, match="model"):
        forecast_many(long, h=3, n_jobs=1, model="prophet")


# ---------------------------------------------------------------- baseline on short series
def test_a_series_shorter_than_two_seasons_is_graded_against_naive_and_says_so():
    # 20 months of history: every backtest window has < 24 months, so no seasonal naive
    rng = np.random.default_rng(1)
    y = pd.Series(100 + np.cumsum(rng.normal(0, 3, 20)),
                  index=pd.date_range("2020-01-01", periods=20, freq="MS"))
    bt = backtest(y, h=3, n_windows=2, engine="fast")
    assert bt.baseline == "naive"
    assert set(bt.windows["model"]) == {"arima", "naive"}
    f = cm.forecast.ARIMAForecaster(engine="fast").fit(y)
    card = cm.forecast.model_card(f, bt, y, period="month", h=3)
    rule = card.baseline["baseline_rule"]
    assert rule.startswith("naive:") and "same month" not in rule
    assert "seasonal naive MASE" not in set(card.metrics["metric"])
    assert "naive MASE" in set(card.metrics["metric"])
    # a window where ARIMA chose the naive forecast itself is called out, not graded as a win
    same = bt.metrics["same_as_baseline"]
    if same:
        assert any("the naive forecast itself" in c for c in card.caveats)
    if same == 1.0:
        assert "not shown to be better than naive" in rule


def test_card_reports_arima_beside_the_combination():
    y = _sales()
    bt_c = backtest(y, h=6, n_windows=2, estimator=CombinationForecaster())
    bt_a = backtest(y, h=6, n_windows=2, engine="fast")
    f = CombinationForecaster().fit(y)
    card = cm.forecast.model_card(f, bt_c, y, arima_backtest=bt_a)
    values = dict(zip(card.metrics["metric"], card.metrics["value"], strict=True))
    assert values["combination MASE (backtest)"] == bt_c.metrics["mase"]
    assert values["ARIMA MASE (backtest)"] == bt_a.metrics["mase"]
    assert "combination" in card.title


# ---------------------------------------------------------------- regressors by name and date
def _with_promo():
    y = _sales(seed=2)
    X = pd.DataFrame({"promo": (np.arange(72) % 5 == 0).astype(float)}, index=y.index)
    return y + 30 * X["promo"], X


def test_x_future_with_another_column_name_is_refused():
    y, X = _with_promo()
    f = cm.forecast.ARIMAForecaster(engine="fast").fit(y, X)
    with pytest.raises(DataValidationError, match="promo") as err:
        f.predict(3, X_future=pd.DataFrame({"discount": [1.0, 0.0, 0.0]}))
    assert "discount" in str(err.value)
    # same columns in another order are matched by name
    g = cm.forecast.ARIMAForecaster(engine="fast").fit(
        y, X.assign(holiday=0.0 + (np.arange(72) % 12 == 11)))
    fut = pd.DataFrame({"holiday": [0.0, 0.0, 1.0], "promo": [1.0, 0.0, 0.0]})
    pd.testing.assert_frame_equal(g.predict(3, X_future=fut),
                                  g.predict(3, X_future=fut[["promo", "holiday"]]))


def test_x_shifted_by_one_month_is_refused_naming_the_dates():
    y, X = _with_promo()
    shifted = X.set_axis(X.index + pd.offsets.MonthBegin(1))
    with pytest.raises(DataValidationError, match="2015-01-01"):
        cm.forecast.ARIMAForecaster(engine="fast").fit(y, shifted)
    f = cm.forecast.ARIMAForecaster(engine="fast").fit(y, X)
    future = pd.DataFrame({"promo": [1.0, 0.0, 0.0]},
                          index=pd.date_range("2021-02-01", periods=3, freq="MS"))
    with pytest.raises(DataValidationError, match="2021-01-01"):
        f.predict(3, X_future=future)  # one month late: 2021-01 has no row
    right = future.set_axis(pd.date_range("2021-01-01", periods=3, freq="MS"))
    assert f.predict(3, X_future=right).notna().all().all()


def test_coefficients_are_named_after_the_columns():
    y, X = _with_promo()
    for engine in ("fast", "statsforecast"):
        coefs = cm.forecast.ARIMAForecaster(engine=engine).fit(y, X).summary()["coefficients"]
        assert "promo" in coefs and not any(k.startswith("ex_") for k in coefs)
        assert coefs["promo"] == pytest.approx(30, abs=8)
