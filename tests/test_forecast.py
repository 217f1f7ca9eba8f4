"""crm_ml.forecast: order recovery, interval coverage, transforms, fallbacks, gaps, series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crm_ml.errors import DataValidationError, NotFittedError
from crm_ml.forecast import ARIMAForecaster, backtest, forecast_many, sales_series
from crm_ml.forecast.metrics import coverage, mase, smape


def _ar1(n, phi, seed, mean=10.0):
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.normal() / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + rng.normal()
    return mean + x


def _monthly(values, start="2015-01-01"):
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"))


# ---------------------------------------------------------------- order recovery, coverage
def test_recovers_order_of_simulated_arima_011():
    # y_t = y_{t-1} + e_t + 0.6 e_{t-1}: auto.arima should find (0,1,1) and theta ~ 0.6
    hits = 0
    for seed in (0, 2, 3):
        e = np.random.default_rng(seed).normal(size=301)
        y = pd.Series(50 + np.cumsum(e[1:] + 0.6 * e[:-1]))
        f = ARIMAForecaster(season_length=1, transform="none").fit(y)
        if f.order_ == (0, 1, 1):
            hits += 1
            assert f.summary()["coefficients"]["ma1"] == pytest.approx(0.6, abs=0.12)
    assert hits >= 2


def test_intervals_cover_their_nominal_share_on_simulated_ar1():
    # One fit on 300 points of a known AR(1); 4,000 futures simulated from the true process
    # given the same history: each horizon's 80%/95% interval must hold ~80%/95% of them.
    phi, h = 0.6, 6
    y = pd.Series(_ar1(300, phi, seed=3))
    f = ARIMAForecaster(season_length=1, transform="none").fit(y)
    pred = f.predict(h, level=[80, 95])
    rng = np.random.default_rng(11)
    sims = np.empty((4000, h))
    last = y.iloc[-1] - 10.0
    for k in range(h):
        last = phi * last + rng.normal(size=4000)
        sims[:, k] = 10.0 + last
    for lv in (80, 95):
        cov = ((sims >= pred[f"lower_{lv}"].to_numpy()) & (sims <= pred[f"upper_{lv}"].to_numpy()))
        assert cov.mean() == pytest.approx(lv / 100, abs=0.04)


# ---------------------------------------------------------------- transforms
def test_log_transform_forecasts_on_the_original_scale():
    rng = np.random.default_rng(5)
    log_y = np.log(1000) + np.cumsum(0.01 + rng.normal(0, 0.05, 80))
    y = _monthly(np.exp(log_y))
    f_log = ARIMAForecaster(season_length=1, transform="log").fit(y)
    f_raw_on_log = ARIMAForecaster(season_length=1, transform="none").fit(
        np.log(y))
    p = f_log.predict(6, level=90)
    q = f_raw_on_log.predict(6, level=90)
    # same model on the log scale; our output is exactly its exponent (median, quantiles)
    np.testing.assert_allclose(p.to_numpy(), np.exp(q.to_numpy()), rtol=1e-8)
    assert f_log.lambda_ == 0.0
    assert (p["lower"] < p["forecast"]).all() and (p["forecast"] < p["upper"]).all()
    assert p["forecast"].iloc[0] == pytest.approx(y.iloc[-1], rel=0.2)
    # bias adjustment gives the mean, which is above the median
    mean_fc = ARIMAForecaster(season_length=1, transform="log", biasadj=True).fit(y).predict(6)
    assert (mean_fc["forecast"] > p["forecast"]).all()


def test_auto_transform_never_logs_a_series_with_zeros():
    y = _monthly(np.r_[0.0, _ar1(40, 0.5, seed=2)[1:]])
    f = ARIMAForecaster(season_length=1, transform="auto").fit(y)
    assert f.lambda_ is None


# ---------------------------------------------------------------- fallbacks
@pytest.mark.parametrize("values, kind", [
    (np.zeros(24), "zero"),
    (np.full(30, 7.5), "constant"),
    (np.array([3.0, 5.0, 4.0]), "mean"),
    (np.array([12.0]), "constant"),
])
def test_degenerate_series_do_not_crash(values, kind):
    f = ARIMAForecaster().fit(_monthly(values))
    p = f.predict(4)
    assert list(p.columns) == ["forecast", "lower", "upper"]
    assert len(p) == 4 and p.index[0] == _monthly(values).index[-1] + pd.offsets.MonthBegin()
    assert f.fallback_ is not None and f.model_.startswith(kind)
    assert np.isfinite(p["forecast"]).all()
    if kind == "zero":
        assert (p.to_numpy() == 0).all()
    if kind == "constant":
        assert (p["forecast"] == values[0]).all()
    f.summary()  # no crash either


def test_short_seasonal_series_falls_back_to_non_seasonal_model():
    y = _monthly(100 + 10 * np.sin(np.arange(20)) + np.arange(20))
    f = ARIMAForecaster().fit(y)
    assert f.season_length_ == 12 and f.m_fit_ == 1
    assert any("non-seasonal" in n for n in f.notes_)
    assert len(f.predict(3)) == 3


def _seasonal(n=48, seed=4):
    rng = np.random.default_rng(seed)
    return 100 + 15 * np.sin(2 * np.pi * np.arange(n) / 12) + rng.normal(0, 2, n)


@pytest.mark.parametrize("index", [
    pd.period_range("2015-01", periods=48, freq="M"),
    pd.Index(pd.date_range("2015-01-01", periods=48, freq="MS").strftime("%Y-%m-%d")),
], ids=["PeriodIndex", "date strings"])
def test_periods_and_date_strings_are_read_as_monthly_dates(index):
    # same model and forecast as with a DatetimeIndex: seasonal (12), dated future periods
    dated = ARIMAForecaster(engine="fast").fit(_monthly(_seasonal()))
    f = ARIMAForecaster(engine="fast").fit(pd.Series(_seasonal(), index=index))
    assert f.season_length_ == 12 and f.freq_ == "MS" and not f.notes_
    p, expected = f.predict(3), dated.predict(3)
    assert list(p.index) == list(pd.date_range("2019-01-01", periods=3, freq="MS"))
    np.testing.assert_allclose(p.to_numpy(), expected.to_numpy())
    bt = backtest(pd.Series(_seasonal(), index=index), h=6, n_windows=2, engine="fast")
    assert bt.metrics["mase"] == pytest.approx(
        backtest(_monthly(_seasonal()), h=6, n_windows=2, engine="fast")
        .metrics["mase"])


def test_series_without_dates_says_it_is_non_seasonal():
    f = ARIMAForecaster(engine="fast").fit(pd.Series(_seasonal()))
    assert f.season_length_ == 1
    assert any("season_length=" in n for n in f.notes_)
    assert list(f.predict(2).index) == [48, 49]
    g = ARIMAForecaster(season_length=12, engine="fast").fit(pd.Series(_seasonal()))
    assert g.season_length_ == 12 and not g.notes_


def test_empty_or_bad_input_raises_clear_errors():
    with pytest.raises(DataValidationError, match="empty"):
        ARIMAForecaster().fit(pd.Series([np.nan, np.nan]))
    with pytest.raises(NotFittedError):
        ARIMAForecaster().predict(3)
    with pytest.raises(DataValidationError, match="transform"):
        ARIMAForecaster(transform="sqrt").fit(_monthly(np.arange(10.0)))


# ---------------------------------------------------------------- gaps
def test_gap_filled_with_zeros_or_clear_error():
    y = _monthly(np.arange(1.0, 31.0)).drop(pd.Timestamp("2015-06-01"))
    f = ARIMAForecaster(season_length=1).fit(y)
    assert f.n_filled_ == 1 and f.y_.loc["2015-06-01"] == 0.0
    assert f.freq_ == "MS"
    with pytest.raises(DataValidationError, match="missing period"):
        ARIMAForecaster(fill="raise").fit(y)
    nan_y = _monthly(np.arange(1.0, 31.0))
    nan_y.iloc[4] = np.nan
    g = ARIMAForecaster(season_length=1, fill="interpolate").fit(nan_y)
    assert g.y_.iloc[4] == pytest.approx(5.0)


# ---------------------------------------------------------------- exogenous regressors
def test_exogenous_regressor_effect_is_estimated_and_used():
    rng = np.random.default_rng(9)
    n = 120
    promo = (rng.random(n + 6) < 0.3).astype(float)
    y = _monthly(_ar1(n, 0.5, seed=4, mean=100) + 25 * promo[:n])
    X = pd.DataFrame({"promo": promo[:n]}, index=y.index)
    f = ARIMAForecaster(season_length=1, transform="none").fit(y, X)
    assert f.summary()["coefficients"]["promo"] == pytest.approx(25, abs=2)
    assert "ex_1" not in f.summary()["coefficients"]  # named after the column
    with pytest.raises(DataValidationError, match="X_future"):
        f.predict(3)
    on = f.predict(3, X_future=pd.DataFrame({"promo": [1.0, 1.0, 1.0]}))
    off = f.predict(3, X_future=pd.DataFrame({"promo": [0.0, 0.0, 0.0]}))
    np.testing.assert_allclose(on["forecast"] - off["forecast"], 25, atol=2)


# ---------------------------------------------------------------- summary, plot
def test_summary_has_order_aicc_and_ljung_box_and_plot_returns_figure():
    import matplotlib.figure

    f = ARIMAForecaster(season_length=1, transform="none").fit(
        _monthly(_ar1(120, 0.6, seed=8)))
    s = f.summary()
    assert s["order"] == f.order_ and np.isfinite(s["aicc"])
    assert {"lag", "lb_stat", "lb_pvalue"} <= set(s["ljung_box"].columns)
    assert len(s["ljung_box"]) >= 1
    assert s["residuals_white_noise"] is True
    fig = f.plot(h=12)
    assert isinstance(fig, matplotlib.figure.Figure)


# ---------------------------------------------------------------- metrics, backtest
def test_metrics_by_hand():
    hist = np.array([1.0, 2, 3, 4, 5, 6])
    assert mase([7, 8], [7, 9], hist, 1) == pytest.approx(0.5)  # MAE 0.5 / naive MAE 1
    assert smape([100, 0], [100, 0]) == 0.0
    assert smape([100], [300]) == pytest.approx(100.0)
    assert coverage([1, 2, 3, 4], [0, 0, 0, 0], [2, 2, 2, 2]) == 0.5


def test_backtest_reports_arima_and_seasonal_naive():
    rng = np.random.default_rng(2)
    t = np.arange(48)
    y = pd.Series(100 + 20 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 2, 48),
                  index=pd.date_range("2012-01-01", periods=48, freq="QS"))
    res = backtest(y, h=4, n_windows=2, transform="none")
    assert set(res.windows["model"]) == {"arima", "seasonal_naive"}
    assert len(res.windows) == 4 and len(res.forecasts) == 16
    assert res.baseline == "seasonal naive" and res.model == "arima"
    assert all(isinstance(v, int | float) for v in res.metrics.values())  # numbers only
    for k in ("mase", "smape", "coverage", "baseline_mase", "baseline_smape",
              "baseline_coverage"):
        assert np.isfinite(res.metrics[k])
    assert res.metrics["mase"] < 1.5
    # forecasts are made only from data before each origin
    assert (res.forecasts["timestamp"] > res.forecasts["origin"]).all()
    # the plot shows the whole series and, per window, ARIMA and seasonal naive forecasts
    ax = res.plot().axes[0]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert len(lines["actual"].get_xdata()) == 48
    assert sum(ln.get_color() == "tab:blue" for ln in ax.get_lines()) == 2
    assert sum(ln.get_linestyle() == "--" for ln in ax.get_lines()) == 2
    assert f"{res.metrics['mase']:.3f}" in ax.get_title()


# ---------------------------------------------------------------- sales_series, many
def _tx():
    return pd.DataFrame({
        "customer_id": ["a", "b", "a", "c", "b", "c"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-01-20", "2024-03-02", "2024-03-03",
                                     "2024-04-10", "2024-04-30"]),
        "amount": [10.0, 5.0, 7.0, -2.0, 4.0, 6.0],
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "region": ["N", "S", "N", "S", "S", "N"],
    })


def test_sales_series_fills_missing_months_with_zero_and_nets_returns():
    s = sales_series(_tx(), freq="M")
    assert list(s.index) == list(pd.date_range("2024-01-01", "2024-04-01", freq="MS"))
    assert s.tolist() == [15.0, 0.0, 5.0, 10.0]
    assert s.index.freqstr == "MS"
    orders = sales_series(_tx(), freq="M", value="orders")
    assert orders.tolist() == [2.0, 0.0, 1.0, 2.0]  # the return is not an order
    # an order without its id is still an order (of its customer and timestamp)
    no_ids = _tx().assign(order_id=["o1", None, "o3", "o4", None, None])
    assert sales_series(no_ids, freq="M", value="orders").tolist() == [2.0, 0.0, 1.0, 2.0]


def test_sales_series_refuses_missing_values_and_reads_time_zones_as_utc():
    for col in ("amount", "timestamp"):
        tx = _tx()
        tx.loc[2, col] = None
        with pytest.raises(DataValidationError, match=rf"1 transaction\(s\) have no {col}") as e:
            sales_series(tx, freq="M")
        assert e.value.rows == [2]
    # 2024-03-31 23:30 in New York is April in UTC, where crm_ml counts it
    tx = _tx().assign(timestamp=lambda d: d["timestamp"].dt.tz_localize("UTC"))
    pd.testing.assert_series_equal(sales_series(tx, freq="M"), sales_series(_tx(), freq="M"))
    late = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02 00:00", "2024-03-31 23:30"])
                         .tz_localize("America/New_York"), "amount": [1.0, 2.0],
                         "customer_id": ["a", "a"]})
    assert sales_series(late, freq="M", drop_partial=False).to_dict() == {
        pd.Timestamp("2024-01-01"): 1.0, pd.Timestamp("2024-02-01"): 0.0,
        pd.Timestamp("2024-03-01"): 0.0, pd.Timestamp("2024-04-01"): 2.0}


def test_sales_series_warns_when_the_data_stop_periods_before_as_of():
    with pytest.warns(UserWarning, match="last 3 periods up to as_of are zeros"):
        s = sales_series(_tx(), freq="M", as_of="2024-07-31")
    assert s.tail(3).tolist() == [0.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sales_series(_tx(), freq="M", as_of="2024-05-31")  # one quiet month is no alarm


def test_sales_series_per_region_long_format_and_partial_period():
    long = sales_series(_tx(), freq="M", by="region")
    assert list(long.columns) == ["series_id", "timestamp", "y"]
    north = long[long.series_id == "N"].set_index("timestamp")["y"]
    assert north.tolist() == [10.0, 0.0, 7.0, 6.0]
    # as_of in mid-April: April is incomplete and dropped, nothing after as_of is used
    s = sales_series(_tx(), freq="M", as_of="2024-04-15")
    assert s.index[-1] == pd.Timestamp("2024-03-01") and s.iloc[-1] == 5.0
    with pytest.raises(DataValidationError, match="freq"):
        sales_series(_tx(), freq="fortnight")


def test_forecast_many_returns_h_rows_per_series_including_degenerate_ones():
    idx = pd.date_range("2020-01-01", periods=30, freq="MS")
    long = pd.concat([
        pd.DataFrame({"series_id": "ar", "timestamp": idx, "y": _ar1(30, 0.5, seed=1)}),
        pd.DataFrame({"series_id": "zero", "timestamp": idx, "y": 0.0}),
        pd.DataFrame({"series_id": "flat", "timestamp": idx, "y": 3.0}),
    ])
    out = forecast_many(long, h=3, n_jobs=1, season_length=1)
    assert list(out.columns) == ["series_id", "timestamp", "forecast", "lower", "upper",
                                 "model", "fallback"]
    assert out.groupby("series_id").size().to_dict() == {"ar": 3, "flat": 3, "zero": 3}
    assert (out.loc[out.series_id == "zero", "forecast"] == 0).all()
    assert out["timestamp"].min() == pd.Timestamp("2022-07-01")


def test_forecast_many_refuses_empty_input_and_rows_without_a_series_id():
    with pytest.raises(DataValidationError, match="no rows"):
        forecast_many(pd.DataFrame(columns=["series_id", "timestamp", "y"]), h=3)
    long = pd.DataFrame({"series_id": ["a"] * 29 + [None],
                         "timestamp": pd.date_range("2020-01-01", periods=30, freq="MS"),
                         "y": _ar1(30, 0.5, seed=1)})
    with pytest.raises(DataValidationError, match="1 row") as err:
        forecast_many(long, h=3, n_jobs=1)
    assert err.value.rows == [29]
    for level in (150, 0, "high"):  # refused up front, not as a file of failed series
        with pytest.raises(DataValidationError, match="level"):
            forecast_many(long.dropna(), h=3, n_jobs=1, level=level)


def test_log_model_logs_order_aicc_backtest_plots_and_the_model():
    import mlflow

    from crm_ml.forecast import log_model
    from crm_ml.tracking import tracking_uri

    y = pd.Series(_ar1(40, 0.5, seed=6), index=pd.date_range("2014-01-01", periods=40,
                                                           freq="QS"))
    f = ARIMAForecaster(season_length=1).fit(y)
    before = dict(vars(f))
    res = log_model(f, backtest_windows=1)
    assert res.run_id is not None and res.model_uri is not None
    assert vars(f).keys() == before.keys() and f.last_forecast_ is None  # not modified
    client = mlflow.MlflowClient(tracking_uri())
    run = client.get_run(res.run_id)
    assert run.data.params["order"] == str(f.order_)
    assert run.data.params["season_length"] == "1" and run.data.tags["module"] == "forecast"
    assert "aicc" in run.data.metrics and "backtest_mase" in run.data.metrics
    assert "backtest_baseline_mase" in run.data.metrics
    arts = [a.path for a in client.list_artifacts(res.run_id, "plots")]
    assert {"plots/forecast.png", "plots/backtest.png"} <= set(arts)
    # the backtest's refits logged nothing of their own
    children = client.search_runs([run.info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{res.run_id}'")
    assert not children
    loaded = mlflow.pyfunc.load_model(res.model_uri)
    got = loaded.predict(pd.DataFrame({"h": [3]}))
    np.testing.assert_allclose(got["forecast"], f.predict(3)["forecast"])
    # without the model, into a run the caller holds
    from crm_ml.tracking import start_run

    with start_run("test", run_name="mine") as mine:
        res = log_model(f, run=mine, include_model=False, backtest_windows=0)
    assert res.run_id == mine.run_id and res.model_uri is None
    assert "backtest_mase" not in client.get_run(mine.run_id).data.metrics


def test_log_model_registers_a_challenger_version():
    import mlflow

    from crm_ml.forecast import log_model
    from crm_ml.tracking import tracking_uri

    f = ARIMAForecaster(season_length=1, engine="fast").fit(_monthly(_ar1(40, 0.5, seed=2)))
    res = log_model(f, registered_name="test-forecast-log-model", backtest_windows=0)
    client = mlflow.MlflowClient(tracking_uri())
    version = client.get_model_version_by_alias("test-forecast-log-model", "challenger")
    assert str(version.version) == res.registered_version


def test_log_model_with_tracking_off_writes_nothing(tmp_path, monkeypatch):
    from crm_ml.forecast import log_model

    monkeypatch.setenv("CRM_ML_TRACKING", "0")
    monkeypatch.chdir(tmp_path)
    f = ARIMAForecaster(season_length=1).fit(_monthly(_ar1(40, 0.5, seed=2)))
    assert log_model(f).run_id is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("transform", ["none", "log"])
def test_tracked_fit_with_regressors_logs_an_in_sample_plot(transform):
    # a model with regressors cannot forecast without their
    # future values, so the logged figure is the history with one-step in-sample forecasts
    import matplotlib.pyplot as plt
    import mlflow

    from crm_ml.tracking import tracking_uri

    y = _monthly(200 + _ar1(60, 0.5, seed=8))
    X = pd.DataFrame({"promo": (np.arange(60) % 6 == 0).astype(float)}, index=y.index)
    y = y + 30 * X["promo"]
    from crm_ml.forecast import log_model

    f = ARIMAForecaster(season_length=1, transform=transform).fit(y, X)
    res = log_model(f, include_model=False)
    client = mlflow.MlflowClient(tracking_uri())
    assert "plots/forecast.png" in [a.path for a in client.list_artifacts(res.run_id, "plots")]
    fig = f._plot_in_sample()
    fitted = fig.axes[0].lines[1].get_ydata()
    plt.close(fig)
    # one-step forecasts on the original scale track the history, promotions included
    assert np.mean(np.abs(fitted[1:] - y.to_numpy()[1:])) < 0.5 * y.std()


def test_json_state_roundtrip_gives_identical_forecasts(tmp_path):
    from crm_ml.forecast.pyfunc import load_forecaster, save_forecaster

    y = _monthly(_ar1(60, 0.5, seed=12))
    f = ARIMAForecaster(season_length=1).fit(y)
    g = load_forecaster(save_forecaster(f, tmp_path / "f.json"))
    pd.testing.assert_frame_equal(f.predict(4, level=[80, 95]), g.predict(4, level=[80, 95]))
    assert g.model_ == f.model_
    z = ARIMAForecaster().fit(_monthly(np.zeros(12)))
    assert (load_forecaster(save_forecaster(z, tmp_path / "z.json")).predict(2) == 0).all().all()


def test_registered_forecast_model_takes_whole_number_h_and_an_optional_level(tmp_path):
    import mlflow

    from crm_ml.forecast.pyfunc import ForecastPyfunc, forecast_signature, save_forecaster
    from crm_ml.tracking import log_pyfunc_model, start_run

    f = ARIMAForecaster(season_length=1).fit(_monthly(_ar1(60, 0.5, seed=12)))
    state = str(save_forecaster(f, tmp_path / "f.json"))
    with start_run("test") as run:
        res = log_pyfunc_model(run, ForecastPyfunc(), artifacts={"forecaster": state},
                               input_example=pd.DataFrame({"h": [3], "level": [80]}),
                               signature=forecast_signature())
    model = mlflow.pyfunc.load_model(res.model_uri)  # MLflow's own schema enforcement
    default = model.predict(pd.DataFrame({"h": [4]}))
    narrow = model.predict(pd.DataFrame({"h": [4], "level": [80]}))
    expected = f.predict(4, level=80)
    assert len(default) == 4 and default["timestamp"].iloc[0] == "2020-01-01"
    np.testing.assert_allclose(narrow["lower"], expected["lower"])
    assert (narrow["upper"] - narrow["lower"] < default["upper"] - default["lower"]).all()


def test_forecast_many_uses_the_fast_engine_unless_told_otherwise():
    idx = pd.date_range("2015-01-01", periods=60, freq="MS")
    y = pd.Series(_ar1(60, 0.6, seed=3) + 50, index=idx)
    long = pd.DataFrame({"series_id": "a", "timestamp": idx, "y": y.to_numpy()})
    for engine in ("fast", "statsforecast"):
        kw = {} if engine == "fast" else {"engine": engine}
        out = forecast_many(long, h=4, n_jobs=1, **kw)
        single = ARIMAForecaster(engine=engine).fit(y).predict(4, level=95)
        np.testing.assert_allclose(out["forecast"], single["forecast"], rtol=1e-9)
