"""Plain JSON values from pandas/numpy objects: shared by tracking (saved models) and cards."""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

__all__ = ["frame_records", "to_jsonable"]


def frame_records(df: pd.DataFrame) -> list[dict]:
    """Rows of ``df`` as dicts; a named or non-range index becomes the first column(s)."""
    if df.index.name is not None or not isinstance(df.index, pd.RangeIndex):
        df = df.reset_index()
    return df.to_dict(orient="records")


def to_jsonable(obj):
    """``obj`` with every DataFrame, Series, numpy scalar, date and NaN turned into plain
    JSON values (NaN and infinities become null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return to_jsonable(frame_records(obj))
    if isinstance(obj, pd.Series):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, pd.Timestamp) and obj is not pd.NaT and obj == obj.normalize():
        return obj.date().isoformat()
    if isinstance(obj, pd.Timestamp | _dt.date | _dt.datetime):
        return obj.isoformat()
    if isinstance(obj, pd.Timedelta | np.timedelta64):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NaT:
        return None
    return str(obj)
