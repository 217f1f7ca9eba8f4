"""Small frames shared by several test modules."""

from __future__ import annotations

import numpy as np
import pandas as pd


def transactions(rows) -> pd.DataFrame:
    """Canonical transactions from ``(customer_id, ISO timestamp, amount)`` rows."""
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], format="ISO8601"))


def monthly_sales(n=72, seed=0, start="2015-01-01") -> pd.Series:
    """A trending, seasonal monthly revenue series with noise (dates in the index)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 200 + 0.8 * t + 25 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 6, n)
    return pd.Series(y, index=pd.date_range(start, periods=n, freq="MS"), name="y")
