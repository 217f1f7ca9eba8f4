"""Rolling-origin backtest of a forecaster with the (seasonal) naive benchmark beside it.

The benchmark is the seasonal naive forecast (each period repeats the same period of the
previous season) when every training window holds at least two full seasons, else the plain
naive forecast (each period repeats the last one); ``BacktestResult.baseline`` names the one used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from crm_ml.errors import DataValidationError
from crm_ml.forecast._input import as_series
from crm_ml.forecast.arima.engines import SimpleEngine
from crm_ml.forecast.forecaster import ARIMAForecaster, _align_exog
from crm_ml.forecast.metrics import coverage, mase, smape
from crm_ml.tracking.autologging import paused


@dataclass
class BacktestResult:
    """Backtest output.

    Attributes
    ----------
    windows : DataFrame
        One row per origin and model (the forecaster's name - ``arima``,
        ``combination`` - and the baseline's, ``seasonal_naive`` or ``naive``): ``origin``
        (last training period), ``mase``, ``smape``, ``coverage``.
    forecasts : DataFrame
        Every forecast: ``origin``, ``timestamp``, ``model``, ``actual``, ``forecast``,
        ``lower``, ``upper``.
    metrics : dict
        Numbers only: means over windows of ``mase``, ``smape``, ``coverage`` (the
        forecaster) and ``baseline_mase``, ``baseline_smape``, ``baseline_coverage``, plus
        ``level`` and ``same_as_baseline`` (share of windows whose forecast was the
        baseline's own, e.g. ARIMA(0,1,0) against naive).
    history : Series, optional
        The series backtested, for :meth:`plot`.
    model : str
        The forecaster's name (``"arima"``, ``"combination"``).
    baseline : str
        ``"seasonal naive"`` or ``"naive"``: the benchmark actually used (naive when a
        training window holds fewer than two seasons).
    """

    windows: pd.DataFrame
    forecasts: pd.DataFrame
    metrics: dict
    history: pd.Series | None = None
    model: str = "arima"
    baseline: str = "seasonal naive"

    def scores(self) -> dict:
        """The numeric entries of :attr:`metrics` (what is logged as MLflow metrics)."""
        return {k: float(v) for k, v in self.metrics.items()
                if isinstance(v, int | float) and not isinstance(v, bool)}

    def plot(self, ax=None, title: str | None = None):
        """The series with each window's ARIMA forecast, its interval and seasonal naive.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from crm_ml.forecast.plotting import plot_backtest

        return plot_backtest(self.history, self.forecasts, self.metrics, self.model,
                             self.baseline, ax=ax, title=title)


def backtest(y: pd.Series, h: int, n_windows: int = 3, *, step: int | None = None,
             level: int = 95, X=None, estimator=None, **forecaster_params) -> BacktestResult:
    """Rolling-origin evaluation: refit at each origin, forecast ``h``, score on the actuals.

    The last origin leaves exactly ``h`` periods for testing; earlier origins move back by
    ``step`` periods (default ``h``), so windows do not overlap. Order selection is redone at
    every origin, so the scores are honest out-of-sample numbers. The refits run under
    :func:`crm_ml.tracking.paused`: a backtest never logs a run per origin.

    Parameters
    ----------
    y : Series
        The series (DatetimeIndex).
    h : int
        Horizon.
    n_windows : int, default 3
        Number of origins.
    step : int, optional
        Periods between origins (default ``h``).
    level : int, default 95
        Interval level scored by ``coverage``.
    X : DataFrame, optional
        Exogenous regressors for the whole period (training and test rows), matched to
        ``y`` by date when both have dates.
    estimator : forecaster, optional
        The forecaster to evaluate (e.g. a
        :class:`~crm_ml.forecast.CombinationForecaster`); cloned and refitted at every
        origin. Default: ``ARIMAForecaster(**forecaster_params)``.
    **forecaster_params
        Passed to :class:`~crm_ml.forecast.ARIMAForecaster` (without ``estimator``).

    Returns
    -------
    BacktestResult
        MASE (scaled by the in-sample seasonal naive error), sMAPE (%) and interval
        coverage per window and on average, for the forecaster and the (seasonal) naive
        benchmark.
    """
    y = as_series(y)
    step = int(step or h)
    n = len(y)
    need = h + step * (n_windows - 1)
    if n_windows < 1 or h < 1 or n - need < 3:
        raise DataValidationError(f"y: {n} observations are too few for {n_windows} "
                                  f"window(s) of h={h}", column="y", rule="long enough")
    from sklearn.base import clone

    if estimator is None:
        estimator = ARIMAForecaster(**forecaster_params)
    elif forecaster_params:
        raise DataValidationError(f"backtest: pass either estimator= or forecaster "
                                  f"parameters, not both ({sorted(forecaster_params)})",
                                  column="estimator", rule="one way to name the model")
    name = getattr(estimator, "backtest_name", "arima")
    if X is not None:
        X = _align_exog(pd.DataFrame(X), y)
    first_train = n - h - step * (n_windows - 1)
    rows, fcs, same = [], [], []
    for w in range(n_windows):
        cut = n - h - step * (n_windows - 1 - w)
        train, test = y.iloc[:cut], y.iloc[cut:cut + h]
        Xtr = Xte = None
        if X is not None:
            Xtr, Xte = X.iloc[:cut], X.iloc[cut:cut + h]
        with paused():
            f = clone(estimator).fit(train, Xtr)
        pred = f.predict(len(test), level=level, X_future=Xte)
        m = f.season_length_
        # seasonal naive needs two full seasons in every window, else it is plain naive
        kind = "snaive" if m > 1 and first_train >= 2 * m else "naive"
        base = "seasonal_naive" if kind == "snaive" else "naive"
        sn = SimpleEngine.fit(f.y_.to_numpy(), kind, m)
        sn_mean, sn_se = sn.forecast(len(test))
        z = float(norm.ppf(0.5 + level / 200))
        sn_lo, sn_hi = sn_mean - z * sn_se, sn_mean + z * sn_se
        actual = test.to_numpy(dtype=float)
        hist = f.y_.to_numpy()
        origin = train.index[-1]
        fc = pred["forecast"].to_numpy()
        same.append(bool(np.allclose(fc, sn_mean, rtol=1e-9, atol=1e-9 * max(
            1.0, float(np.abs(hist).max())))))
        for model, point, lo, hi in ((name, fc, pred["lower"].to_numpy(),
                                      pred["upper"].to_numpy()),
                                     (base, sn_mean, sn_lo, sn_hi)):
            rows.append({"origin": origin, "model": model,
                         "mase": mase(actual, point, hist, m),
                         "smape": smape(actual, point), "coverage": coverage(actual, lo, hi)})
            fcs.append(pd.DataFrame({"origin": origin, "timestamp": test.index, "model": model,
                                     "actual": actual, "forecast": point, "lower": lo,
                                     "upper": hi}))
    windows = pd.DataFrame(rows)
    mean = windows.groupby("model")[["mase", "smape", "coverage"]].mean()
    metrics = {k: float(mean.loc[name, k]) for k in ("mase", "smape", "coverage")}
    metrics.update({f"baseline_{k}": float(mean.loc[base, k])
                    for k in ("mase", "smape", "coverage")})
    metrics = {k: (v if np.isfinite(v) else float("nan")) for k, v in metrics.items()}
    metrics.update(level=level, same_as_baseline=float(np.mean(same)))
    return BacktestResult(windows, pd.concat(fcs, ignore_index=True), metrics, history=y,
                          model=name, baseline=base.replace("_", " "))
