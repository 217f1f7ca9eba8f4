"""Hostile spreadsheets: Excel files that are not plain tables, or not what their name says,
and Excel outputs that must not run formulas or exceed a sheet."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile

import openpyxl
import pandas as pd
import pytest

import crm_ml.output_files as output_files
from crm_ml.cli import main
from crm_ml.data import read_customers, read_table, read_transactions
from crm_ml.data._sniff import cfb_streams
from crm_ml.errors import DataValidationError
from crm_ml.output_files import OutputTooLargeError, write_atomic
from crm_ml.scoring.outputs import write_scores

HEADER = ["customer_id", "timestamp", "amount"]
ROWS = [["A", dt.datetime(2024, 1, 1), 10.0], ["B", dt.datetime(2024, 2, 1), 5.5]]


def _book(path, rows=None, title="Data", extra_sheets=()):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in ([HEADER, *ROWS] if rows is None else rows):
        ws.append(row)
    for name in extra_sheets:
        wb.create_sheet(name)
    wb.save(path)
    return wb, path


def _cfb(path, streams):
    """A minimal OLE2 compound file whose directory names ``streams`` (as Excel's .xls and
    password-protected workbooks are laid out), built from the [MS-CFB] layout."""
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIII", header, 0x2C, 1, 1, 0, 4096, 0xFFFFFFFE)
    struct.pack_into("<III", header, 0x40, 0, 0xFFFFFFFE, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([0xFFFFFFFF] * 108))
    fat = struct.pack("<128I", 0xFFFFFFFD, 0xFFFFFFFE, *([0xFFFFFFFF] * 126))
    directory = bytearray(512)
    for i, (name, kind) in enumerate([("Root Entry", 5)] + [(s, 2) for s in streams][:3]):
        raw = name.encode("utf-16-le") + b"\x00\x00"
        entry = bytearray(128)
        entry[:len(raw)] = raw
        struct.pack_into("<HBB", entry, 64, len(raw), kind, 1)
        struct.pack_into("<III", entry, 68, 0xFFFFFFFF, i + 2 if i + 1 < len(streams) + 1
                         else 0xFFFFFFFF, 1 if kind == 5 else 0xFFFFFFFF)
        struct.pack_into("<II", entry, 116, 0xFFFFFFFE, 0)
        directory[i * 128:(i + 1) * 128] = entry
    path.write_bytes(bytes(header) + fat + bytes(directory))
    return path


def _refused(path, rule, *says, **options):
    with pytest.raises(DataValidationError) as info:
        read_table(path, **options)
    msg = str(info.value)
    assert info.value.rule == rule, msg
    assert str(path) in msg and "\n" not in msg
    for text in says:
        assert text in msg, msg
    return msg


# --- files that are not readable workbooks ------------------------------------------------

def test_the_compound_file_reader_finds_the_stream_names(tmp_path):
    assert cfb_streams(_cfb(tmp_path / "a.bin", ["EncryptionInfo", "EncryptedPackage"])) == [
        "EncryptionInfo", "EncryptedPackage"]
    assert cfb_streams(tmp_path / "a.bin") != []
    (tmp_path / "b.bin").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\xff" * 100)
    assert cfb_streams(tmp_path / "b.bin") == []  # truncated: no crash, no names


@pytest.mark.parametrize("name", ["tx.xlsx", "tx.xls", "tx.csv"])
def test_a_password_protected_workbook_says_remove_the_password(tmp_path, name):
    path = _cfb(tmp_path / name, ["EncryptionInfo", "EncryptedPackage"])
    with pytest.raises(DataValidationError, match="password-protected") as info:
        read_transactions(path)
    assert "remove the password" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("name", ["tx.xls", "tx.xlsx"])
def test_a_legacy_xls_says_save_as_xlsx_or_csv(tmp_path, name):
    path = _cfb(tmp_path / name, ["Workbook", "SummaryInformation"])
    _refused(path, "readable workbook", "Excel 97-2003 workbook (.xls)",
             "save it as .xlsx (Excel Workbook) or CSV UTF-8")


def test_files_that_are_not_what_their_suffix_says(tmp_path):
    csv_text = "customer_id,timestamp,amount\nA,2024-01-01,1\n"
    (tmp_path / "text.xlsx").write_text(csv_text)
    _refused(tmp_path / "text.xlsx", "file content matches its name", "is text",
             "name it text.csv")
    (tmp_path / "page.xls").write_text("<html><table><tr><td>x</td></tr></table></html>")
    _refused(tmp_path / "page.xls", "file content matches its name", "HTML")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "data.xlsx")
    _refused(tmp_path / "data.xlsx", "file content matches its name", "name it data.parquet")
    _book(tmp_path / "real.xls")
    _refused(tmp_path / "real.xls", "file content matches its name", "name it real.xlsx")
    with zipfile.ZipFile(tmp_path / "doc.xlsx", "w") as zf:
        zf.writestr("word/document.xml", "<w/>")
    _refused(tmp_path / "doc.xlsx", "file content matches its name", "zip archive")
    with zipfile.ZipFile(tmp_path / "broken.xlsx", "w") as zf:
        zf.writestr("xl/workbook.xml", "<not-a-workbook")
    _refused(tmp_path / "broken.xlsx", "readable file", "cannot read as an Excel workbook")


def test_other_spreadsheet_formats_say_save_as_xlsx(tmp_path):
    (tmp_path / "tx.xlsb").write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="save the sheet as .xlsx"):
        read_transactions(tmp_path / "tx.xlsb")


# --- workbooks that are not plain tables -------------------------------------------------

def test_a_missing_sheet_lists_the_sheets(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx", extra_sheets=["Customers"])
    msg = _refused(path, "sheet exists", "no sheet named 'customers'", "['Data', 'Customers']",
                   "did you mean 'Customers'?", sheet="customers")
    assert "--sheet" in msg


def test_an_empty_sheet_and_a_header_only_sheet(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx", extra_sheets=["Empty"])
    _refused(path, "non-empty file", "the sheet is empty", "other sheets: ['Data']",
             sheet="Empty")
    _, path = _book(tmp_path / "header.xlsx", rows=[HEADER])
    _refused(path, "non-empty file", "no data rows")


def test_merged_header_cells_are_refused(tmp_path):
    wb, path = _book(tmp_path / "tx.xlsx",
                     rows=[["customer_id", "when", None], *ROWS])
    wb.active.merge_cells("B1:C1")
    wb.save(path)
    _refused(path, "no merged header cells", "['B1:C1']", "Unmerge")


def test_merged_data_cells_are_refused(tmp_path):
    wb, path = _book(tmp_path / "tx.xlsx", rows=[HEADER, ["A", dt.datetime(2024, 1, 1), 1],
                                                 [None, dt.datetime(2024, 1, 2), 2]])
    wb.active.merge_cells("A2:A3")
    wb.save(path)
    _refused(path, "no merged cells", "A2:A3", "unmerge them and fill every cell")


def test_a_header_below_a_title_says_which_row_it_is_on(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx",
                    rows=[["Sales export, 2024"], [], HEADER, *ROWS])
    _refused(path, "header on row 1", "the header must be on row 1, but it is on row 3",
             "delete the rows above the header")
    _, path = _book(tmp_path / "blank.xlsx", rows=[[], [None, None], ["x", "y"], ["1", "2"]])
    _refused(path, "header on row 1", "row 1 is empty")


def test_a_column_with_values_but_no_name_is_refused(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx", rows=[HEADER, ["A", dt.datetime(2024, 1, 1), 1, "?"]])
    with pytest.raises(DataValidationError, match="column.*'D'.*no name on row 1") as info:
        read_transactions(path)
    assert info.value.rule == "named columns"
    _, path = _book(tmp_path / "twice.xlsx", rows=[[*HEADER, "amount"], [*ROWS[0], 2]])
    _refused(path, "unique column names", "['amount'] more than once")


def _with_cached_value(path, cell: str, value: str):
    """``path`` with ``<v>value</v>`` saved for the formula in ``cell`` (as Excel does)."""
    data = io.BytesIO(path.read_bytes())
    with zipfile.ZipFile(data) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                text = body.decode()
                start = text.index(f'r="{cell}"')
                end = text.index("</c>", start)
                cut = text[start:end].replace("<v></v>", "").replace("<v />", "")
                body = (text[:start] + cut + f"<v>{value}</v>" + text[end:]).encode()
            dst.writestr(info, body)


def test_formulas_need_their_saved_values(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx",
                    rows=[HEADER, ["A", dt.datetime(2024, 1, 1), 4], ["B", "2024-01-02", "=C2*2"]])
    _refused(path, "formulas have saved values", "['C3']", "open the workbook in Excel")
    _with_cached_value(path, "C3", "8")  # what Excel stores when it saves the file
    assert read_transactions(path)["amount"].tolist() == [4.0, 8.0]


# --- what a plain table gives ------------------------------------------------------------

def test_excel_dates_and_dates_typed_as_text_give_the_same_timestamps(tmp_path):
    _, path = _book(tmp_path / "tx.xlsx", rows=[
        HEADER, ["A", dt.datetime(2024, 1, 1, 9, 30), 1], ["B", "2024-01-01 09:30", 2],
        ["C", dt.datetime(2024, 3, 5), 3], ["D", "2024-03-05", 4]])
    ts = read_transactions(path)["timestamp"]
    assert ts.dtype == "datetime64[ns]"
    assert ts.iloc[0] == ts.iloc[1] and ts.iloc[2] == ts.iloc[3] == pd.Timestamp("2024-03-05")


def test_ids_are_text_and_errors_point_at_sheet_rows(tmp_path):
    _, path = _book(tmp_path / "c.xlsx", rows=[["customer_id", "region"], ["00123", "N"],
                                               [456, "S"], [7.0, "E"]])
    assert read_customers(path)["customer_id"].tolist() == ["00123", "456", "7"]
    _, path = _book(tmp_path / "tx.xlsx", rows=[HEADER, *ROWS, ["C", "never", 1]])
    with pytest.raises(DataValidationError) as info:
        read_transactions(path)
    assert info.value.column == "timestamp" and info.value.rows == [2]  # Excel row 4
    assert "(sheet 'Data')" in str(info.value) and "'never'" in str(info.value)


def test_a_sheet_without_the_columns_names_the_other_sheets(tmp_path):
    wb, path = _book(tmp_path / "book.xlsx", rows=[["customer_id", "region"], ["A", "N"]],
                     title="Customers", extra_sheets=["Transactions"])
    for row in [HEADER, *ROWS]:
        wb["Transactions"].append(row)
    wb.save(path)
    _refused(path, "required column", "read sheet 'Customers' of ['Customers', "
             "'Transactions']: choose another with sheet=")
    assert len(read_transactions(path, sheet="Transactions")) == 2
    with pytest.raises(ValueError, match="applies to Excel"):
        read_transactions(_csv(tmp_path), sheet="X")


def _csv(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount\nA,2024-01-01,1\n")
    return path


def test_the_cli_reports_a_hostile_workbook_in_one_line(tmp_path, capsys):
    path = _cfb(tmp_path / "tx.xlsx", ["EncryptionInfo", "EncryptedPackage"])
    assert main(["--quiet", "forecast", "--transactions", str(path), "--output",
                 str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml forecast: error:") and "password-protected" in err
    assert "\n" not in err and "Traceback" not in err and str(path) in err
    assert main(["--quiet", "forecast", "--transactions", str(_csv(tmp_path)), "--sheet", "X",
                 "--output", str(tmp_path / "f.csv")]) == 2
    assert "--sheet applies to Excel" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


# --- Excel outputs -------------------------------------------------------------------------

def test_excel_output_keeps_types_and_never_writes_a_formula(tmp_path):
    hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "=1", "-12.5"]
    df = pd.DataFrame({"customer_id": ["00042", "=1+1", "7", "8", "9", "10"],
                       "churn_probability": [0.25, 0.5, None, 1.0, 0.0, 0.125],
                       "orders": [3, 0, 1, 2, 5, 8],
                       "as_of": pd.Timestamp("2024-12-31"),
                       "reason": hostile})
    out = tmp_path / "scores.xlsx"
    write_atomic(df, out, index=False)
    first = out.read_bytes()
    write_atomic(df, out, index=False)
    assert out.read_bytes() == first  # same table, same bytes
    ws = openpyxl.load_workbook(out).active  # formulas as written, not values
    assert ws.title == "scores"
    cells = list(ws.iter_rows(values_only=False))
    assert [c.value for c in cells[0]] == list(df.columns)
    assert all(c.data_type != "f" for row in cells for c in row)
    ids = [row[0] for row in cells[1:]]
    assert [c.value for c in ids] == ["00042", "'=1+1", "7", "8", "9", "10"]
    assert all(c.data_type == "s" for c in ids)
    assert [row[1].value for row in cells[1:]] == [0.25, 0.5, None, 1.0, 0.0, 0.125]
    assert all(isinstance(row[2].value, int) for row in cells[1:])
    assert cells[1][3].value == dt.datetime(2024, 12, 31) and cells[1][3].is_date
    assert [row[4].value for row in cells[1:]] == [
        "'=HYPERLINK(\"http://x\",\"y\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'=1", "-12.5"]


def test_excel_output_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(output_files, "EXCEL_MAX_ROWS", 4)  # header + 3 rows
    df = pd.DataFrame({"customer_id": list("abcd"), "x": range(4)})
    write_atomic(df.head(3), tmp_path / "ok.xlsx", index=False)
    with pytest.raises(OutputTooLargeError, match="more than one Excel sheet holds") as info:
        write_atomic(df, tmp_path / "big.xlsx", index=False)
    assert "big.parquet" in str(info.value) and "nothing was written" in str(info.value)
    rejects = pd.DataFrame({"customer_id": ["z"], "reason": ["no purchase"]})
    scores = df.set_index("customer_id").assign(as_of="2024-12-31", model_churn="1")
    with pytest.raises(OutputTooLargeError, match="scores table"):
        write_scores(scores, rejects, tmp_path / "s.xlsx", tmp_path / "s.rejects.xlsx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.xlsx"]  # not even the rejects


def test_excel_output_cells_excel_cannot_hold(tmp_path):
    df = pd.DataFrame({"note": ["a\x00b\x1fc", "x" * 40_000]})
    with pytest.raises(OutputTooLargeError, match="column 'note', row 3"):
        write_atomic(df, tmp_path / "n.xlsx", index=False)
    write_atomic(df.head(1), tmp_path / "n.xlsx", index=False)
    assert openpyxl.load_workbook(tmp_path / "n.xlsx").active["A2"].value == "a\ufffdb\ufffdc"
