"""Forecast accuracy: MASE, sMAPE and interval coverage."""

from __future__ import annotations

import numpy as np


def mase_scale(history: np.ndarray, season_length: int = 1) -> float:
    """In-sample mean absolute error of the seasonal naive forecast (the MASE denominator).

    Falls back to the one-step naive error when the series is shorter than one season plus
    one, and returns NaN for a series that never changes.
    """
    x = np.asarray(history, dtype=float)
    m = int(season_length) if season_length and len(x) > season_length else 1
    if len(x) <= m:
        return float("nan")
    scale = float(np.mean(np.abs(x[m:] - x[:-m])))
    if scale == 0 and m > 1:
        scale = float(np.mean(np.abs(np.diff(x))))
    return scale if scale > 0 else float("nan")


def mase(actual, forecast, history, season_length: int = 1) -> float:
    """Mean absolute scaled error: forecast MAE over the in-sample seasonal naive MAE.

    Below 1 beats the in-sample seasonal naive forecast.
    """
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    return float(np.mean(np.abs(a - f)) / mase_scale(history, season_length))


def smape(actual, forecast) -> float:
    """Symmetric MAPE in percent (0..200); a period where both are zero counts as 0."""
    a = np.asarray(actual, dtype=float)
    f = np.asarray(forecast, dtype=float)
    den = np.abs(a) + np.abs(f)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(den == 0, 0.0, 2.0 * np.abs(a - f) / den)
    return float(100.0 * np.mean(terms))


def coverage(actual, lower, upper) -> float:
    """Share of actual values inside ``[lower, upper]``."""
    a = np.asarray(actual, dtype=float)
    return float(np.mean((a >= np.asarray(lower, dtype=float))
                         & (a <= np.asarray(upper, dtype=float))))
