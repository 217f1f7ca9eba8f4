"""Excel files through the command line: train on a workbook, score into a workbook, and get
the same scores as from CSV files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import crm_ml.forecast
import crm_ml.output_files as output_files
import crm_ml.scoring
from crm_ml.cli import main
from crm_ml.datasets import make_crm_dataset

pytestmark = pytest.mark.slow


def _frames():
    ds = make_crm_dataset(n_customers=600, seed=5)
    zeros = {"customer_id": lambda d: d["customer_id"].str.replace("C", "0", regex=False)}
    tx, ix, cust = (f.assign(**zeros) for f in (ds.transactions, ds.interactions,
                                                 ds.customers))
    cust = cust.assign(signup_date=pd.to_datetime(cust["signup_date"]).dt.strftime("%Y-%m-%d"))
    return tx, ix, cust  # ids like "0000001"; signup dates typed as text, the rest Excel dates


def test_excel_round_trips_through_train_and_score(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'excel.db'}")
    tx, ix, cust = _frames()
    with pd.ExcelWriter(tmp_path / "crm.xlsx", engine="openpyxl") as book:
        cust.to_excel(book, sheet_name="Customers", index=False)  # the first sheet
        tx.to_excel(book, sheet_name="Sales", index=False)
        ix.to_excel(book, sheet_name="Tickets", index=False)
    tx.to_csv("tx.csv", index=False)
    ix.to_csv("ix.csv", index=False)
    cust.to_csv("customers.csv", index=False)
    files = ["--transactions", "crm.xlsx", "--interactions", "crm.xlsx", "--customers",
             "crm.xlsx", "--sheet", "Sales", "--sheet", "interactions=Tickets", "--sheet",
             "customers=Customers", "--as-of", "2024-12-31"]

    # a small training config keeps the test short; the Excel reading is what is tested
    assert main(["--quiet", "train", *files, "--cv", "3", "--algorithms", "lightgbm"]) == 0
    assert "  churn: version 1," in capsys.readouterr().out

    assert main(["--quiet", "score", *files, "--output", "scores.xlsx"]) == 0
    printed = capsys.readouterr().out
    assert "-> scores.xlsx" in printed and "scores.rejects.xlsx" in printed
    assert main(["--quiet", "score", "--transactions", "tx.csv", "--interactions", "ix.csv",
                 "--customers", "customers.csv", "--as-of", "2024-12-31",
                 "--output", "scores.csv"]) == 0

    from_excel = pd.read_excel("scores.xlsx", dtype={"customer_id": str})
    from_csv = pd.read_csv("scores.csv", dtype={"customer_id": str})
    assert from_excel["customer_id"].str.startswith("0").all()  # leading zeros survive
    assert list(from_excel.columns) == list(from_csv.columns)
    assert from_excel["scoring_run"].tolist() == from_csv["scoring_run"].tolist()
    for column in from_csv.columns:
        a, b = from_excel[column], from_csv[column]
        if pd.api.types.is_numeric_dtype(b):
            assert pd.api.types.is_numeric_dtype(a), column  # numbers stay numbers
            np.testing.assert_allclose(a, b, rtol=1e-9, err_msg=column)
        elif column == "as_of":
            assert pd.api.types.is_datetime64_any_dtype(a)  # an Excel date
            assert (a.dt.strftime("%Y-%m-%d") == b).all()
        else:
            pd.testing.assert_series_equal(a.astype(str), b.astype(str), obj=column)
    rejects = pd.read_excel("scores.rejects.xlsx", dtype={"customer_id": str})
    assert len(rejects) == len(pd.read_csv("scores.rejects.csv"))

    # Excel's row limit: refused after reading the inputs, before scoring, nothing written
    def fail(*args, **kwargs):
        raise AssertionError("scored although the output cannot hold the scores")

    monkeypatch.setattr(output_files, "EXCEL_MAX_ROWS", 10)
    monkeypatch.setattr(crm_ml.scoring, "score_customers", fail)
    assert main(["--quiet", "score", *files, "--output", "big.xlsx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml score: error:") and "\n" not in err
    assert "more than one Excel sheet holds" in err and "big.parquet" in err
    assert not list(tmp_path.glob("big*")) and not list(tmp_path.glob(".big*"))

    def no_forecast(*args, **kwargs):
        raise AssertionError("forecast although the output cannot hold it")

    monkeypatch.setattr(crm_ml.forecast, "forecast_many", no_forecast)
    assert main(["--quiet", "forecast", "--transactions", "crm.xlsx", "--sheet", "Sales",
                 "--h", "12", "--output", "f.xlsx"]) == 2
    assert "the forecast (1 series x 12 periods)" in capsys.readouterr().err
    assert not (tmp_path / "f.xlsx").exists()
