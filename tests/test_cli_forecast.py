"""`crm-ml forecast`: sales per region from a transactions file, h periods ahead."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_ml.cli import main

pytestmark = pytest.mark.slow


def test_forecast_per_region_writes_h_rows_per_series(demo_workspace, tmp_path):
    out = tmp_path / "forecast.csv"
    assert main(["--quiet", "forecast", "--transactions",
                 str(demo_workspace["data"] / "transactions.csv"), "--freq", "M",
                 "--by", "region", "--h", "6", "--output", str(out)]) == 0
    fc = pd.read_csv(out, parse_dates=["timestamp"])
    assert set(fc["series_id"]) == {"North", "South", "East", "West"}
    assert fc.groupby("series_id").size().eq(6).all()
    assert (fc["lower"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["upper"]).all()
    assert fc["timestamp"].min() > pd.Timestamp("2024-11-30")
