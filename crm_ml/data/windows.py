"""Time windows: where history ends and where a label horizon starts and stops.

``as_of`` is a calendar day. History is everything up to the *end* of that day; the label
horizon of ``h`` days is the days ``as_of + 1 .. as_of + h``, i.e. the half-open timestamp
interval ``[as_of + 1 day, as_of + 1 + h days)``. Every module uses these helpers, so
"nothing after as_of" means the same thing everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from crm_ml.errors import DataValidationError


def as_of_day(as_of) -> pd.Timestamp:
    """Normalise ``as_of`` (str, date, Timestamp) to a naive midnight Timestamp.

    A string like ``"01/02/2024"``, which is 1 February or 2 January depending on who wrote
    it, is refused; ``"2024-02-01"`` is never ambiguous.
    """
    if isinstance(as_of, str):
        m = re.match(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-]\d{2,4}", as_of)
        if m and int(m[1]) <= 12 and int(m[2]) <= 12 and m[1].lstrip("0") != m[2].lstrip("0"):
            raise DataValidationError(
                f"as_of: {as_of!r} could be day-first or month-first; write it as YYYY-MM-DD",
                column="as_of", rule="unambiguous date")
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"as_of: cannot parse {as_of!r} as a date", column="as_of",
                                  rule="parseable date") from exc
    if ts is pd.NaT or pd.isna(ts):
        raise DataValidationError("as_of: must be a date, got NaT", column="as_of",
                                  rule="parseable date")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.normalize()


def history_end(as_of) -> pd.Timestamp:
    """First instant *after* the as_of day: history is ``timestamp < history_end(as_of)``."""
    return as_of_day(as_of) + pd.Timedelta(days=1)


def utc_naive(ts: pd.Series) -> pd.Series:
    """Timestamps comparable with the window bounds: tz-aware ones converted to naive UTC
    (the same rule as ``as_of``); naive ones are taken as UTC already."""
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        return ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts


def history(df: pd.DataFrame, as_of, column: str = "timestamp") -> pd.DataFrame:
    """Rows of ``df`` on or before the as_of day (nothing after as_of)."""
    return df.loc[utc_naive(df[column]) < history_end(as_of)]


def future(df: pd.DataFrame, as_of, horizon_days: int, column: str = "timestamp") -> pd.DataFrame:
    """Rows in the label horizon: the ``horizon_days`` days after the as_of day."""
    w = LabelWindow.after(as_of, horizon_days)
    ts = utc_naive(df[column])
    return df.loc[(ts >= w.start) & (ts < w.end)]


def split_at(df: pd.DataFrame, as_of, column: str = "timestamp"):
    """Split ``df`` into (history up to as_of, everything after as_of)."""
    mask = utc_naive(df[column]) < history_end(as_of)
    return df.loc[mask], df.loc[~mask]


@dataclass(frozen=True)
class LabelWindow:
    """The label horizon after ``as_of``: timestamps in ``[start, end)``."""

    as_of: pd.Timestamp
    horizon_days: int
    start: pd.Timestamp
    end: pd.Timestamp

    @classmethod
    def after(cls, as_of, horizon_days: int) -> LabelWindow:
        """The ``horizon_days`` days following the as_of day."""
        if int(horizon_days) <= 0:
            raise DataValidationError(
                f"horizon_days: must be a positive number of days, got {horizon_days!r}",
                column="horizon_days", rule="positive")
        day = as_of_day(as_of)
        start = day + pd.Timedelta(days=1)
        return cls(day, int(horizon_days), start, start + pd.Timedelta(days=int(horizon_days)))

    def covered_by(self, data_end) -> bool:
        """Whether data that end at ``data_end`` observe the whole horizon."""
        return as_of_day(data_end) + pd.Timedelta(days=1) >= self.end
