"""read_table and friends: CSV/Parquet by suffix, clear errors for bad files."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_ml.data import (
    DataPolicyWarning,
    read_customers,
    read_interactions,
    read_table,
    read_transactions,
)
from crm_ml.errors import DataValidationError

CSV = "CustomerID,InvoiceDate,Sales\n00123,2024-01-01,10.5\n00456,2024-01-02 10:00,-3\n"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_keeps_leading_zeros_in_ids(tmp_path):
    p = write(tmp_path, "tx.csv", CSV)
    out = read_transactions(p, customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales")
    assert out["customer_id"].tolist() == ["00123", "00456"]
    assert out["amount"].tolist() == [10.5, -3.0]
    assert out["timestamp"].dtype == "datetime64[ns]"


def test_options_reach_standardize(tmp_path):
    p = write(tmp_path, "tx.csv", CSV)
    with pytest.warns(DataPolicyWarning, match="returns=1"):
        out, report = read_table(p, "transactions", customer_id="CustomerID",
                                 timestamp="InvoiceDate", amount="Sales", drop_returns=True,
                                 return_report=True)
    assert len(out) == 1 and report.dropped == {"returns": 1}
    with pytest.raises(DataValidationError, match="on or before as_of"):
        read_table(p, columns={"customer_id": "CustomerID", "timestamp": "InvoiceDate",
                               "amount": "Sales"}, as_of="2024-01-01")


def test_parquet_and_tsv(tmp_path):
    df = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2024-01-01", "2024-01-02"],
                       "kind": ["Ticket", "call"], "satisfaction": [4, None]})
    df.to_parquet(tmp_path / "i.parquet")
    out = read_interactions(tmp_path / "i.parquet")
    assert out["kind"].tolist() == ["ticket", "call"]
    df.to_csv(tmp_path / "i.tsv", sep="\t", index=False)
    pd.testing.assert_frame_equal(read_interactions(tmp_path / "i.tsv"), out,
                                  check_dtype=True)


def test_customers_csv(tmp_path):
    p = write(tmp_path, "c.csv.gz", "")
    pd.DataFrame({"customer_id": ["007", "8"], "region": ["N", "S"]}).to_csv(
        p, index=False, compression="gzip")
    out = read_customers(p)
    assert out["customer_id"].tolist() == ["007", "8"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_transactions(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    p = write(tmp_path, "empty.csv", "")
    with pytest.raises(DataValidationError, match="empty") as info:
        read_transactions(p)
    assert info.value.rule == "non-empty file"
    assert "empty.csv" in str(info.value)


def test_header_only_file(tmp_path):
    p = write(tmp_path, "header.csv", "customer_id,timestamp,amount\n")
    with pytest.raises(DataValidationError, match="no data rows") as info:
        read_transactions(p)
    assert info.value.rule == "non-empty file"


def test_wrong_delimiter_names_what_was_seen(tmp_path):
    p = write(tmp_path, "semi.csv", CSV.replace(",", ";"))
    with pytest.raises(DataValidationError) as info:
        read_transactions(p, customer_id="CustomerID", timestamp="InvoiceDate", amount="Sales")
    msg = str(info.value)
    assert info.value.rule == "delimiter"
    assert "CustomerID;InvoiceDate;Sales" in msg  # the single column that was found
    assert "sep=';'" in msg
    out = read_transactions(p, sep=";", customer_id="CustomerID", timestamp="InvoiceDate",
                            amount="Sales")
    assert len(out) == 2


def test_validation_errors_name_the_file_and_the_column(tmp_path):
    p = write(tmp_path, "bad.csv", "customer_id,timestamp,amount\na,2024-01-01,1\nb,never,2\n")
    with pytest.raises(DataValidationError) as info:
        read_transactions(p)
    msg = str(info.value)
    assert "bad.csv" in msg and "timestamp" in msg and "'never'" in msg
    assert info.value.column == "timestamp" and info.value.rows == [1]


def test_missing_column_is_reported_before_reading_everything(tmp_path):
    p = write(tmp_path, "tx.csv", CSV)
    with pytest.raises(DataValidationError, match="required column") as info:
        read_transactions(p)
    assert "CustomerID" in str(info.value)


def test_unsupported_suffix_and_broken_parquet(tmp_path):
    with pytest.raises(ValueError, match="unsupported file type"):
        read_transactions(write(tmp_path, "tx.json", "x"))
    with pytest.raises(ValueError, match="save the sheet as .xlsx"):
        read_transactions(write(tmp_path, "tx.ods", "x"))
    with pytest.raises(DataValidationError, match="Parquet"):
        read_transactions(write(tmp_path, "tx.parquet", "not parquet"))


def test_xlsx_reads_like_the_csv(tmp_path):
    csv = write(tmp_path, "tx.csv", CSV)
    raw = pd.read_csv(csv, dtype={"CustomerID": str})
    with pd.ExcelWriter(tmp_path / "tx.xlsx", engine="openpyxl") as book:
        raw.head(0).to_excel(book, sheet_name="Notes", index=False)
        raw.to_excel(book, sheet_name="Sales", index=False)
    cols = {"customer_id": "CustomerID", "timestamp": "InvoiceDate", "amount": "Sales"}
    from_csv = read_transactions(csv, **cols)
    from_xlsx = read_transactions(tmp_path / "tx.xlsx", sheet="Sales", sep=";", **cols)
    assert from_xlsx.attrs["sheet"] == "Sales"
    pd.testing.assert_frame_equal(from_xlsx, from_csv, check_dtype=True)
