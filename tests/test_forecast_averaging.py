"""The fast engine's Akaike-weight model averaging: weights, forecasts, intervals, state."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from crm_ml.errors import DataValidationError
from crm_ml.forecast import ARIMAForecaster
from crm_ml.forecast.arima.fast import akaike_average, auto_arima, averaged_forecast, forecast
from crm_ml.forecast.pyfunc import forecaster_from_dict, forecaster_to_dict


def _seasonal_sales(n=96, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    noise = np.zeros(n)
    for k in range(1, n):
        noise[k] = 0.4 * noise[k - 1] + rng.normal(0, 6)
    y = 300 + 1.5 * t + 40 * np.sin(2 * np.pi * t / 12) + noise
    return pd.Series(y, index=pd.date_range("2015-01-01", periods=n, freq="MS"))


def test_weights_follow_the_criterion_and_the_best_model_is_auto_arimas():
    y = _seasonal_sales().to_numpy()
    models = akaike_average(y, 12)
    best = auto_arima(y, 12)
    assert models[0][1].order == best.order and models[0][1].seasonal == best.seasonal
    np.testing.assert_allclose(models[0][1].coef, best.coef)
    weights = np.array([w for w, _ in models])
    assert 1 < len(models) <= 10 and weights.sum() == pytest.approx(1.0)
    # exp(-delta / 2) of each model's search criterion, relative to the best one's: the
    # search's best models in its order, none more than 10 above the best
    _, ranked = auto_arima(y, 12, return_candidates=True)
    used = ranked[:len(models)]
    assert [(f.order, f.seasonal, f.constant) for _, f in models] == \
        [(f.order, f.seasonal, f.constant) for f in used]
    ic = np.array([f.ic for f in used])
    assert np.all(ic - ic[0] <= 10)
    raw = np.exp(-0.5 * (ic - ic[0]))
    np.testing.assert_allclose(weights, raw / raw.sum())
    # every model shares the search's differencing, so their criteria are comparable
    assert {(f.order[1], f.seasonal[1]) for _, f in models} == {(best.order[1], best.seasonal[1])}
    assert len(akaike_average(y, 12, n_models=1)) == 1
    assert len(akaike_average(y, 12, window=0.0)) == 1
    specs = [(f.order, f.seasonal, f.constant) for _, f in models]
    assert len(set(specs)) == len(specs) <= 10  # every model averaged once


def test_averaged_forecast_is_the_weighted_mean_and_the_mixture_spread():
    y = _seasonal_sales(seed=1).to_numpy()
    models = akaike_average(y, 12)
    mean, se = averaged_forecast(models, 12)
    w = np.array([wt for wt, _ in models])
    paths = [forecast(f, 12) for _, f in models]
    means = np.array([p[0] for p in paths])
    ses = np.array([p[1] for p in paths])
    np.testing.assert_allclose(mean, w @ means)
    np.testing.assert_allclose(se, np.sqrt(w @ (ses ** 2 + (means - mean) ** 2)))
    # disagreement between the models can only widen the interval
    assert np.all(se >= np.sqrt(w @ ses ** 2) - 1e-12)


def test_forecaster_uses_the_average_and_describes_the_best_model():
    y = _seasonal_sales(seed=2)
    avg = ARIMAForecaster(engine="fast").fit(y)
    one = ARIMAForecaster(engine="fast", n_averaged=1).fit(y)
    k = avg.engine_.n_averaged_
    assert k > 1 and avg.model_ == f"{one.model_}, forecast averaged over {k} models"
    assert avg.order_ == one.order_ and avg.aicc_ == one.aicc_
    assert avg.summary()["coefficients"] == one.summary()["coefficients"]
    p, q = avg.predict(12), one.predict(12)
    assert not np.allclose(p["forecast"], q["forecast"])
    assert (p["upper"] > p["forecast"]).all() and (p["lower"] < p["forecast"]).all()
    with pytest.raises(DataValidationError, match="n_averaged"):
        ARIMAForecaster(engine="fast", n_averaged=0).fit(y)


def test_averaged_state_round_trips_saves_the_series_once_and_old_state_still_loads():
    y = _seasonal_sales(seed=3)
    f = ARIMAForecaster(engine="fast").fit(y)
    state = forecaster_to_dict(f)
    g = forecaster_from_dict(json.loads(json.dumps(state)))
    pd.testing.assert_frame_equal(g.predict(12, level=[80, 95]), f.predict(12, level=[80, 95]))
    assert g.model_ == f.model_
    model = state["engine"]["model"]
    assert len(model["others"]) == f.engine_.n_averaged_ - 1
    assert all(o["y"] is None for o in model["others"])
    # state written before averaging existed: one plain model, forecast with it alone
    one = ARIMAForecaster(engine="fast", n_averaged=1).fit(y)
    old = forecaster_to_dict(one)
    old["engine"].pop("n_averaged")
    old["params"].pop("n_averaged")
    back = forecaster_from_dict(old)
    assert back.engine_.n_averaged_ == 1
    pd.testing.assert_frame_equal(back.predict(6), one.predict(6))


def test_averaging_keeps_the_regressor_effect_and_is_tracked():
    import mlflow

    from crm_ml.tracking import tracking_uri

    y = _seasonal_sales(seed=4)
    promo = pd.DataFrame({"promo": (np.arange(len(y) + 6) % 5 == 0).astype(float)},
                         index=pd.date_range(y.index[0], periods=len(y) + 6, freq="MS"))
    f = ARIMAForecaster(engine="fast").fit(y + 40 * promo["promo"][:len(y)], X=promo[:len(y)])
    for _, member in f.engine_.models_:  # each averaged model estimates the effect itself
        assert member.coef[member.names.index("ex_1")] == pytest.approx(40, abs=8)
    on = f.predict(6, X_future=promo[len(y):])["forecast"]
    off = f.predict(6, X_future=promo[len(y):] * 0)["forecast"]
    np.testing.assert_allclose(on - off, 40 * promo["promo"][len(y):].to_numpy(), atol=8)
    from crm_ml.forecast import log_model

    run_id = log_model(f, include_model=False, backtest_windows=0).run_id
    params = mlflow.MlflowClient(tracking_uri()).get_run(run_id).data.params
    assert params["engine"] == "fast" and params["n_averaged_"] == str(f.engine_.n_averaged_)
