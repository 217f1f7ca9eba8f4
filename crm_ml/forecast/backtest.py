"""Rolling-origin backtest of ARIMAForecaster with the seasonal naive benchmark beside it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from crm_ml.errors import DataValidationError
from crm_ml.forecast._input import as_series
from crm_ml.forecast.arima.engines import SimpleEngine
from crm_ml.forecast.forecaster import ARIMAForecaster
from crm_ml.forecast.metrics import coverage, mase, smape
from crm_ml.tracking.autologging import paused


@dataclass
class BacktestResult:
    """Backtest output.

    Attributes
    ----------
    windows : DataFrame
        One row per origin and model (``arima``, ``seasonal_naive``): ``origin``
        (last training period), ``mase``, ``smape``, ``coverage``.
    forecasts : DataFrame
        Every forecast: ``origin``, ``timestamp``, ``model``, ``actual``, ``forecast``,
        ``lower``, ``upper``.
    metrics : dict
        Means over windows: ``mase``, ``smape``, ``coverage`` (ARIMA) and
        ``snaive_mase``, ``snaive_smape``, ``snaive_coverage``, plus ``level``.
    history : Series, optional
        The series backtested, for :meth:`plot`.
    """

    windows: pd.DataFrame
    forecasts: pd.DataFrame
    metrics: dict
    history: pd.Series | None = None

    def plot(self, ax=None, title: str | None = None):
        """The series with each window's ARIMA forecast, its interval and seasonal naive.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from crm_ml.forecast.plotting import plot_backtest

        return plot_backtest(self.history, self.forecasts, self.metrics, ax=ax, title=title)


def backtest(y: pd.Series, h: int, n_windows: int = 3, *, step: int | None = None,
             level: int = 95, X=None, **forecaster_params) -> BacktestResult:
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
        Exogenous regressors for the whole period (training and test rows).
    **forecaster_params
        Passed to :class:`~crm_ml.forecast.ARIMAForecaster`.

    Returns
    -------
    BacktestResult
        MASE (scaled by the in-sample seasonal naive error), sMAPE (%) and interval
        coverage per window and on average, for ARIMA and the seasonal naive benchmark.
    """
    y = as_series(y)
    step = int(step or h)
    n = len(y)
    need = h + step * (n_windows - 1)
    if n_windows < 1 or h < 1 or n - need < 3:
        raise DataValidationError(f"y: {n} observations are too few for {n_windows} "
                                  f"window(s) of h={h}", column="y", rule="long enough")
    rows, fcs = [], []
    for w in range(n_windows):
        cut = n - h - step * (n_windows - 1 - w)
        train, test = y.iloc[:cut], y.iloc[cut:cut + h]
        Xtr = Xte = None
        if X is not None:
            X = pd.DataFrame(X)
            Xtr, Xte = X.iloc[:cut], X.iloc[cut:cut + h]
        with paused():
            f = ARIMAForecaster(**forecaster_params).fit(train, Xtr)
        pred = f.predict(len(test), level=level, X_future=Xte)
        m = f.season_length_
        sn = SimpleEngine.fit(f.y_.to_numpy(), "snaive" if len(train) > m > 1 else "naive", m)
        sn_mean, sn_se = sn.forecast(len(test))
        z = float(norm.ppf(0.5 + level / 200))
        sn_lo, sn_hi = sn_mean - z * sn_se, sn_mean + z * sn_se
        actual = test.to_numpy(dtype=float)
        hist = f.y_.to_numpy()
        origin = train.index[-1]
        for name, fc, lo, hi in (("arima", pred["forecast"].to_numpy(),
                                  pred["lower"].to_numpy(), pred["upper"].to_numpy()),
                                 ("seasonal_naive", sn_mean, sn_lo, sn_hi)):
            rows.append({"origin": origin, "model": name, "mase": mase(actual, fc, hist, m),
                         "smape": smape(actual, fc), "coverage": coverage(actual, lo, hi)})
            fcs.append(pd.DataFrame({"origin": origin, "timestamp": test.index, "model": name,
                                     "actual": actual, "forecast": fc, "lower": lo,
                                     "upper": hi}))
    windows = pd.DataFrame(rows)
    mean = windows.groupby("model")[["mase", "smape", "coverage"]].mean()
    metrics = {k: float(mean.loc["arima", k]) for k in ("mase", "smape", "coverage")}
    metrics.update({f"snaive_{k}": float(mean.loc["seasonal_naive", k])
                    for k in ("mase", "smape", "coverage")})
    metrics["level"] = level
    metrics = {k: (v if np.isfinite(v) else float("nan")) for k, v in metrics.items()}
    return BacktestResult(windows, pd.concat(fcs, ignore_index=True), metrics, history=y)
