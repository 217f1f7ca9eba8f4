"""Bootstrapped copies of a series for bagged forecasts (Bergmeir, Hyndman & Benitez, 2016).

The "Box-Cox, loess decomposition, moving block bootstrap" (BLD-MBB) scheme of R's
``forecast::bld.mbb.bootstrap``: Box-Cox transform the series with Guerrero's lambda in
[0, 1], split it into trend + season (STL with a periodic season) and remainder, resample the
remainder in overlapping blocks of two seasons, add it back and undo the transform. Each copy
keeps the series' trend and seasonal shape and has a plausible different noise path; a model
selected and fitted on each copy gives a spread of models whose average forecast is less
sensitive to the one model the original series happened to select.

Reference: C. Bergmeir, R. J. Hyndman, J. M. Benitez (2016), "Bagging exponential smoothing
methods using STL decomposition and Box-Cox transformation", International Journal of
Forecasting 32(2), 303-312.
"""

from __future__ import annotations

import numpy as np

from crm_ml.forecast.transforms import boxcox, guerrero_lambda, inv_boxcox


def _decompose(z: np.ndarray, season_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(trend + season, remainder) of ``z``: STL with a periodic season, else a loess trend."""
    n = len(z)
    if season_length > 1 and n > 2 * season_length:
        from statsmodels.tsa.seasonal import STL

        # a seasonal window longer than the series with degree 0 is R's s.window="periodic"
        fit = STL(z, period=season_length, seasonal=10 * n + 1, seasonal_deg=0).fit()
        signal = np.asarray(fit.trend + fit.seasonal, dtype=float)
    else:
        from statsmodels.nonparametric.smoothers_lowess import lowess

        signal = lowess(z, np.arange(n, dtype=float), frac=min(1.0, 6.0 / n), it=0,
                        return_sorted=False)
    return signal, z - signal


def moving_block_bootstrap(x: np.ndarray, block: int, rng: np.random.Generator) -> np.ndarray:
    """A resample of ``x`` (same length) made of overlapping blocks of length ``block``.

    Blocks start at random positions; the concatenation starts at a random offset inside the
    first block, so every position of the result is equally likely to be a block boundary.
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    block = max(1, min(int(block), n - 1))
    starts = rng.integers(0, n - block + 1, size=n // block + 2)
    joined = np.concatenate([x[s:s + block] for s in starts])
    offset = int(rng.integers(0, block))
    return joined[offset:offset + n]


def bld_mbb_bootstraps(y, season_length: int, n_series: int,
                       rng: np.random.Generator) -> list[np.ndarray]:
    """The series followed by ``n_series - 1`` BLD-MBB bootstrap copies of it.

    Parameters
    ----------
    y : array-like
        The series (no missing values, at least 3 observations).
    season_length : int
        Observations per season (1 = non-seasonal: loess trend, blocks of 8).
    n_series : int
        Length of the returned list, the original series included.
    rng : numpy.random.Generator

    Returns
    -------
    list of ndarray
        ``[y, copy_1, ..., copy_{n_series - 1}]``, each as long as ``y``. Strictly positive
        series are resampled on the Box-Cox scale (so copies stay positive); others on their
        own scale.
    """
    y = np.asarray(y, dtype=float)
    m = max(int(season_length), 1)
    out = [y]
    if n_series <= 1:
        return out
    lam = min(max(guerrero_lambda(y, max(m, 2), lower=0.0, upper=1.0), 0.0), 1.0) \
        if np.all(y > 0) else 1.0
    z = boxcox(y, lam)
    signal, remainder = _decompose(z, m)
    block = 2 * m if m > 1 else 8
    for _ in range(n_series - 1):
        out.append(inv_boxcox(signal + moving_block_bootstrap(remainder, block, rng), lam))
    return out
