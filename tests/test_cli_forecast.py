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


@pytest.mark.parametrize("extra", [["--level", "150"], ["--level", "0"], ["--h", "0"],
                                   ["--output", "f.xls"]])
def test_bad_forecast_arguments_are_refused_before_any_work(tmp_path, capsys, monkeypatch,
                                                            extra):
    import crm_ml.scoring

    def fail(*args, **kwargs):
        raise AssertionError("inputs were read before the arguments were checked")

    monkeypatch.setattr(crm_ml.scoring, "load_inputs", fail)
    monkeypatch.chdir(tmp_path)
    args = ["--quiet", "forecast", "--transactions", "tx.csv", "--output", "f.csv"]
    assert main(args + extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml forecast: error:") and extra[0] in err
    assert "\n" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
