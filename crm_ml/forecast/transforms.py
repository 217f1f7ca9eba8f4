"""Variance-stabilising transforms (log, Box-Cox) and their exact inverses.

Forecasts are made on the transformed scale and mapped back. Quantiles (interval bounds)
map back exactly because the transforms are monotone; the back-transformed point forecast is
the forecast *median* unless ``biasadj`` asks for the mean.
"""

from __future__ import annotations

import numpy as np


def boxcox(y: np.ndarray, lam: float) -> np.ndarray:
    """Box-Cox transform of a positive array (``lam == 0`` is the log)."""
    y = np.asarray(y, dtype=float)
    if lam == 0:
        return np.log(y)
    return (np.power(y, lam) - 1.0) / lam


def inv_boxcox(z: np.ndarray, lam: float) -> np.ndarray:
    """Inverse of :func:`boxcox`; values outside the transform's range map to 0."""
    z = np.asarray(z, dtype=float)
    if lam == 0:
        return np.exp(z)
    base = lam * z + 1.0
    with np.errstate(invalid="ignore"):
        out = np.power(np.maximum(base, 0.0), 1.0 / lam)
    return out


def bias_adjust(point: np.ndarray, var: np.ndarray, lam: float) -> np.ndarray:
    """Mean of the back-transformed forecast distribution (second-order approximation).

    ``point`` is the forecast on the transformed scale and ``var`` its variance.
    """
    point = np.asarray(point, dtype=float)
    var = np.asarray(var, dtype=float)
    back = inv_boxcox(point, lam)
    if lam == 0:
        return back * np.exp(var / 2.0)
    return back * (1.0 + var * (1.0 - lam) / (2.0 * np.power(lam * point + 1.0, 2.0)))


def guerrero_lambda(y: np.ndarray, season_length: int, lower: float = -1.0,
                    upper: float = 2.0) -> float:
    """Box-Cox lambda by Guerrero's method (as in R's ``forecast::BoxCox.lambda``).

    Chooses the lambda that makes the coefficient of variation of ``sd / mean^(1-lambda)``
    across consecutive sub-series (one per season, or pairs for non-seasonal data) smallest.
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(y, dtype=float)
    m = max(int(season_length), 2)
    n_groups = len(y) // m
    if n_groups < 2:
        return 1.0
    x = y[len(y) - n_groups * m:].reshape(n_groups, m)
    mu = x.mean(axis=1)
    sd = x.std(axis=1, ddof=1)
    if np.any(mu <= 0) or np.all(sd == 0):
        return 1.0

    def cv(lam):
        rat = sd / np.power(mu, 1.0 - lam)
        return np.std(rat, ddof=1) / np.mean(rat)

    res = minimize_scalar(cv, bounds=(lower, upper), method="bounded")
    return float(res.x)
