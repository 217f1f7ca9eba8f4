"""What every forecaster of one series does alike with its forecasts: plot and score them.

:class:`~crm_ml.forecast.ARIMAForecaster` and :class:`~crm_ml.forecast.CombinationForecaster`
inherit :class:`ForecastOutputsMixin`; each provides ``predict``, ``_check_fitted``, ``y_``,
``season_length_``, ``level``, ``last_forecast_`` and ``model_``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError
from crm_ml.forecast._input import as_series


class ForecastOutputsMixin:
    """``plot`` and ``score`` for a fitted one-series forecaster."""

    def plot(self, h: int | None = None, X_future=None, ax=None, title: str | None = None):
        """History, forecast and the ``level`` intervals as a matplotlib Figure.

        Parameters
        ----------
        h : int, optional
            Horizon to forecast; default: the last :meth:`predict` horizon, else two
            seasons (at least 8 periods).
        X_future : DataFrame, optional
            Future exogenous regressors (required when fitted with ``X``).
        ax : matplotlib Axes, optional
        title : str, optional
            Default: the model's description (``model_``).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from crm_ml.forecast.plotting import plot_forecast

        self._check_fitted()
        if h is None:
            h = len(self.last_forecast_) if self.last_forecast_ is not None else \
                max(2 * self.season_length_, 8)
        levels = sorted(np.atleast_1d(self.level).tolist())
        fc = self.predict(h, level=levels, X_future=X_future)
        if len(levels) == 1:
            fc = fc.rename(columns={"lower": f"lower_{levels[0]}",
                                    "upper": f"upper_{levels[0]}"})
        return plot_forecast(self.y_, fc, levels, ax=ax, title=title or self.model_)

    def score(self, y_future, X_future=None) -> float:
        """Minus the MASE of forecasting ``y_future`` (higher is better, 0 is perfect).

        The periods of ``y_future`` are forecast right after the fitted series
        (``predict(len(y_future))``); the mean absolute error is scaled by the in-sample
        mean absolute error of the seasonal naive forecast on the fitted series
        (:func:`~crm_ml.forecast.mase`), so -1 is as good as the seasonal naive in sample.

        Parameters
        ----------
        y_future : Series or array-like
            The actual values of the periods after the fitted series. With dates in its
            index they must be exactly those periods.
        X_future : DataFrame, optional
            Their exogenous regressors (required when fitted with ``X``).

        Returns
        -------
        float
            ``-MASE``; NaN when the fitted series never changes (no scale).
        """
        from crm_ml.forecast.metrics import mase

        self._check_fitted()
        actual = as_series(y_future)
        if actual.isna().any():
            raise DataValidationError("y_future: missing values", column="y_future",
                                      rule="no missing values",
                                      rows=list(actual.index[actual.isna()][:5]))
        fc = self.predict(len(actual), X_future=X_future)
        if isinstance(actual.index, pd.DatetimeIndex) and \
                isinstance(fc.index, pd.DatetimeIndex) and not actual.index.equals(fc.index):
            raise DataValidationError(
                f"y_future: its dates must be the {len(fc)} periods after the fitted series "
                f"({fc.index[0].date()} ...), got {actual.index[0].date()} ...",
                column="y_future", rule="periods right after the fitted series",
                rows=list(actual.index[:5]))
        return -mase(actual.to_numpy(), fc["forecast"].to_numpy(), self.y_.to_numpy(),
                     self.season_length_)
