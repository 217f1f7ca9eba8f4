"""The CDNOW sample as canonical transactions (for tests and the published-parameter check)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def load_cdnow_sample() -> pd.DataFrame:
    """CDNOW sample (2,357 customers) as canonical transactions.

    Uses ``crm_ml.datasets.load_cdnow(kind="sample")`` when available, otherwise reads
    lifetimes' ``CDNOW_sample.txt`` (customer id, id2, date YYYYMMDD, quantity, amount).
    ``customer_id`` is the file's first column (zero-padded string).
    """
    try:
        from crm_ml.datasets import load_cdnow

        return load_cdnow(kind="sample")
    except (ImportError, AttributeError):
        pass
    import lifetimes

    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    raw = pd.read_csv(path, sep=r"\s+", header=None,
                      names=["customer_id", "id2", "date", "quantity", "amount"],
                      dtype={"customer_id": str, "id2": str, "date": str})
    return pd.DataFrame({
        "customer_id": raw["customer_id"].astype(str),
        "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
        "amount": raw["amount"].astype("float64"),
        "quantity": raw["quantity"],
    })
