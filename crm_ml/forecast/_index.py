"""Time index helpers: infer the frequency of a series, its season length, fill gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

_SEASON = {"D": 7, "B": 5, "W": 52, "M": 12, "SM": 24, "Q": 4, "A": 1, "Y": 1, "h": 24,
           "H": 24}


def season_length_for(freq: str | None) -> int:
    """Season length for a pandas frequency: 12 monthly, 4 quarterly, 52 weekly, 7 daily."""
    if not freq:
        return 1
    base = pd.tseries.frequencies.to_offset(freq).rule_code.split("-")[0].upper()
    for key in ("MS", "ME", "BMS", "BME"):
        if base == key:
            return 12
    for key in ("QS", "QE", "BQS", "BQE"):
        if base == key:
            return 4
    for key in ("YS", "YE", "AS", "BAS", "BYS"):
        if base == key:
            return 1
    return _SEASON.get(base, _SEASON.get(base[:1], 1))


def infer_freq(index: pd.DatetimeIndex) -> str | None:
    """The frequency of a DatetimeIndex, also when some periods are missing (gaps)."""
    if index.freq is not None:
        return index.freqstr
    if len(index) >= 3:
        f = pd.infer_freq(index)
        if f is not None:
            return f
    if len(index) < 2:
        return None
    idx = index.sort_values()
    if (idx.is_month_start).all():
        months = idx.year * 12 + idx.month
        step = int(np.gcd.reduce(np.diff(months)))
        if step and step % 3 == 0 and (idx.month % 3 == 1).all():
            return "QS-JAN"
        return "MS"
    if (idx.is_month_end).all():
        return "ME"
    days = np.diff(idx.asi8) // (86_400 * 10**9)
    step = int(np.gcd.reduce(days.astype(np.int64))) if len(days) else 0
    if step == 7:
        return "W-" + idx[0].day_name()[:3].upper()
    if step == 1:
        return "D"
    return None


def regularize(y: pd.Series, freq: str | None, fill: str) -> tuple[pd.Series, int]:
    """Put ``y`` on a regular index of ``freq`` and fill missing periods/values.

    Returns the regular series and the number of filled periods. ``fill`` is ``"zero"`` (a
    period without sales is a period with zero sales), ``"interpolate"`` (linear) or
    ``"raise"`` (gaps are an error).
    """
    if freq is None:
        return y, 0
    full = pd.date_range(y.index.min(), y.index.max(), freq=freq)
    if len(full) != len(y.index) or not full.equals(y.index):
        if not y.index.isin(full).all():
            raise DataValidationError(
                f"y: timestamps do not fall on a regular {freq!r} grid",
                column="timestamp", rule="regular frequency",
                rows=list(y.index[~y.index.isin(full)][:5]))
        y = y.reindex(full)
    y.index = pd.DatetimeIndex(y.index, freq=freq, name=y.index.name)
    missing = y.isna()
    n_missing = int(missing.sum())
    if n_missing:
        if fill == "raise":
            raise DataValidationError(
                f"y: {n_missing} missing period(s); pass fill='zero' or 'interpolate'",
                column="y", rule="no gaps", rows=list(y.index[missing][:5]))
        if fill == "zero":
            y = y.fillna(0.0)
        elif fill == "interpolate":
            y = y.interpolate(limit_direction="both")
        else:
            raise DataValidationError(f"fill: must be 'zero', 'interpolate' or 'raise', got "
                                      f"{fill!r}", column="fill", rule="known policy")
    return y, n_missing
