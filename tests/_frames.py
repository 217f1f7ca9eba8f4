"""Small frames shared by several test modules."""

from __future__ import annotations

import pandas as pd


def transactions(rows) -> pd.DataFrame:
    """Canonical transactions from ``(customer_id, ISO timestamp, amount)`` rows."""
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "amount"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], format="ISO8601"))
