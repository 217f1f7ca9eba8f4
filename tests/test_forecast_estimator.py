"""ARIMAForecaster as a scikit-learn estimator: parameters, score, save/load, no runs per fit
made inside crm_ml's own work."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from _frames import monthly_sales as _sales
from sklearn.base import clone

import crm_ml as cm
from crm_ml.errors import DataValidationError
from crm_ml.forecast import ARIMAForecaster, backtest, forecast_many
from crm_ml.forecast.metrics import mase


def test_a_misspelt_parameter_is_refused_not_silently_stored():
    # issue #17: set_params(sesaon_length=12) used to be accepted and ignored
    f = ARIMAForecaster()
    with pytest.raises(ValueError, match="sesaon_length"):
        f.set_params(sesaon_length=12)
    assert not hasattr(f, "sesaon_length")
    with pytest.raises(TypeError):
        ARIMAForecaster(track=False)  # estimators no longer track
    assert clone(ARIMAForecaster(level=(90,), engine="fast")).get_params()["level"] == (90,)


def test_score_is_minus_the_mase_of_the_following_periods():
    y = _sales()
    train, future = y.iloc[:-6], y.iloc[-6:]
    f = ARIMAForecaster(engine="fast").fit(train)
    expected = -mase(future.to_numpy(), f.predict(6)["forecast"].to_numpy(),
                     train.to_numpy(), 12)
    assert f.score(future) == pytest.approx(expected)
    assert f.score(future.to_numpy()) == pytest.approx(expected)  # no dates: taken as given
    # higher is better: the actual future scores above a shifted one
    assert f.score(future) > f.score(future + 50)
    with pytest.raises(DataValidationError, match="periods after the fitted series"):
        f.score(y.iloc[-7:-1])  # not the periods right after the fitted series
    with pytest.raises(DataValidationError, match="missing"):
        f.score(future.where(future.index != future.index[2]))


@pytest.mark.parametrize("params", [
    {"engine": "fast"}, {"engine": "fast", "n_averaged": 1}, {"engine": "statsforecast"},
    {"engine": "bagged", "n_bagged": 3}, {"engine": "fast", "transform": "log"},
], ids=["fast", "fast-single", "statsforecast", "bagged", "fast-log"])
def test_save_and_load_give_identical_forecasts(params, tmp_path):
    f = ARIMAForecaster(**params).fit(_sales(seed=3))
    g = ARIMAForecaster.load(f.save(tmp_path / "f.json"))
    assert type(g) is ARIMAForecaster and g.get_params() == f.get_params()
    pd.testing.assert_frame_equal(f.predict(8, level=(80, 95)), g.predict(8, level=(80, 95)))
    assert g.model_ == f.model_ and g.summary()["aicc"] == f.summary()["aicc"]
    assert g.score(_sales(n=80, seed=3).iloc[72:]) == f.score(_sales(n=80, seed=3).iloc[72:])


def test_save_and_load_a_fallback_and_a_model_with_regressors(tmp_path):
    z = ARIMAForecaster().fit(_sales(n=12) * 0)
    assert (ARIMAForecaster.load(z.save(tmp_path / "z.json")).predict(3) == 0).all().all()
    y = _sales(seed=4)
    X = pd.DataFrame({"promo": (np.arange(len(y)) % 5 == 0).astype(float)}, index=y.index)
    f = ARIMAForecaster(engine="fast").fit(y + 30 * X["promo"], X)
    g = ARIMAForecaster.load(f.save(tmp_path / "x.json"))
    Xf = pd.DataFrame({"promo": [1.0, 0.0, 0.0]})
    pd.testing.assert_frame_equal(f.predict(3, X_future=Xf), g.predict(3, X_future=Xf))


def test_a_file_saved_with_the_removed_track_parameter_still_loads(tmp_path):
    f = ARIMAForecaster(engine="fast").fit(_sales(seed=5))
    state = json.loads(f.save(tmp_path / "f.json").read_text())
    state["params"].update(track=False, backtest_windows=2)  # as written before issue #17
    state["params"]["level"] = [80, 95]
    (tmp_path / "old.json").write_text(json.dumps(state))
    g = ARIMAForecaster.load(tmp_path / "old.json")
    assert "track" not in g.get_params()
    pd.testing.assert_frame_equal(f.predict(4), g.predict(4))


def _run_ids():
    import mlflow

    client = mlflow.MlflowClient(cm.tracking.tracking_uri())
    experiments = [e.experiment_id for e in client.search_experiments()]
    return client, {r.info.run_id for r in client.search_runs(experiments,
                                                              max_results=10_000)}


def test_forecast_many_and_backtest_under_autolog_do_not_log_a_run_per_series():
    y = _sales(n=48)
    long = pd.concat([pd.DataFrame({"series_id": f"s{i}", "timestamp": y.index,
                                    "y": y.to_numpy() * (1 + i / 10)}) for i in range(12)])
    client, before = _run_ids()
    cm.tracking.autolog()
    try:
        out = forecast_many(long, h=3, n_jobs=1, engine="fast")
        after_many = _run_ids()[1]
        backtest(y, h=6, n_windows=3, engine="fast")
        after_backtest = _run_ids()[1]
    finally:
        cm.tracking.autolog(disable=True)
    assert out["series_id"].nunique() == 12
    many_runs = [client.get_run(r) for r in after_many - before]
    assert len(many_runs) == 1 and many_runs[0].info.run_name == "forecast_many"
    assert after_backtest == after_many  # three refits, no run
    # without autolog forecast_many logs nothing
    forecast_many(long, h=3, n_jobs=1, engine="fast")
    assert _run_ids()[1] == after_backtest


def test_model_card_states_the_backtest_it_was_given():
    y = _sales(60)
    f = ARIMAForecaster(engine="fast").fit(y)
    bt = backtest(y, h=4, n_windows=3, engine="fast")
    card = cm.forecast.model_card(f, bt, y, period="month", h=6, level=(95,), by="region")
    assert card.baseline["model"] == bt.metrics["mase"]
    assert card.baseline["baseline"] == bt.metrics["baseline_mase"]
    assert card.caveats[0].startswith("Backtest: 3 rolling origins of 4 months")
    assert card.title.startswith("Monthly") and "per region" in card.intended_use
    assert card.model_details["model"] == f.model_
