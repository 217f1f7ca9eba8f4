"""Input checks shared by the forecaster, the backtest and forecast_many.

A module of its own so that ``backtest`` and ``many`` need not import private helpers from
``forecaster`` (imports run one way: backtest -> forecaster -> _input).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError


def as_series(y) -> pd.Series:
    """``y`` as a float Series with dates in its index; empty, non-numeric or infinite
    values raise :class:`~crm_ml.errors.DataValidationError`."""
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataValidationError("y: pass a Series (or a one-column DataFrame)",
                                      column="y", rule="one series")
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        y = pd.Series(np.asarray(y, dtype=float))
    try:
        y = y.astype(float)
    except (TypeError, ValueError) as exc:
        raise DataValidationError("y: values must be numeric", column="y",
                                  rule="numeric") from exc
    if len(y) == 0 or y.notna().sum() == 0:
        raise DataValidationError("y: the series is empty (no non-missing values)", column="y",
                                  rule="non-empty")
    if np.isinf(y.to_numpy()).any():
        raise DataValidationError("y: infinite values", column="y", rule="finite",
                                  rows=list(y.index[np.isinf(y.to_numpy())][:5]))
    return y.set_axis(as_dates(y.index))


def check_levels(level) -> list:
    """``level`` (one or several percentages) as a list; each must lie in (0, 100)."""
    levels = [level] if np.isscalar(level) else list(level)
    for lv in levels:
        try:
            ok = 0 < float(lv) < 100
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise DataValidationError(f"level: must be in (0, 100), got {lv!r}",
                                      column="level", rule="percent")
    return levels


def as_dates(index: pd.Index) -> pd.Index:
    """Periods and date strings as a DatetimeIndex (periods by their first day, as
    :func:`~crm_ml.forecast.sales_series` labels them); any other index unchanged."""
    if isinstance(index, pd.PeriodIndex):
        return index.to_timestamp(how="start").rename(index.name)
    if index.dtype == object or isinstance(index.dtype, pd.StringDtype):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas' format-inference hint
            parsed = pd.to_datetime(index, errors="coerce", format="ISO8601")
        if len(index) and not parsed.isna().any():
            return parsed.rename(index.name)
    return index
