"""Hostile input files and data: each ends in a typed, one-line error naming input, rule, fix.

Duplicated headers, absurd amounts, binary files named ``.csv``, too little history, too few
customers, an as_of far after the data: refused up front (``crm_ml.DataValidationError``; exit
code 2 and one line from the CLI), before anything is fitted, registered or written.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest

from crm_ml.cli import main
from crm_ml.data import read_interactions, read_table, read_transactions, standardize
from crm_ml.datasets import make_crm_dataset
from crm_ml.errors import DataValidationError
from crm_ml.scoring import load_inputs, score_customers, train_all
from crm_ml.scoring.preflight import check_trainable

GOOD = "customer_id,timestamp,amount\nA,2024-01-01,10\nB,2024-02-01,5\n"


@pytest.fixture(scope="module")
def dataset():
    """Three years of 300 customers ending 2024-12-31: enough for every training step."""
    return make_crm_dataset(n_customers=300, seed=1)


def _cli_error(capsys, argv: list[str], command: str = "train") -> str:
    """Run ``crm-ml`` in process; assert exit code 2 and one error line; return it."""
    assert main(["--quiet", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"crm-ml {command}: error: "), err
    assert "\n" not in err and "Traceback" not in err
    return err


def _train_error(capsys, tmp_path, tx, *extra) -> str:
    """``crm-ml train`` on ``tx`` must fail with nothing written to its output folders."""
    out, models = tmp_path / "out", tmp_path / "models"
    err = _cli_error(capsys, ["train", "--transactions", str(tx), *extra,
                              "--output", str(out), "--models-dir", str(models)])
    assert not [p for p in (*out.rglob("*"), *models.rglob("*")) if p.is_file()]
    return err


def _frame_file(tmp_path, tx: pd.DataFrame, name: str = "tx.csv"):
    path = tmp_path / name
    tx.to_csv(path, index=False)
    return path


# --- 1. a header that names a column twice ------------------------------------------------

def test_a_repeated_header_column_is_refused_not_read_from_the_first(tmp_path, capsys):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount,amount\nA,2024-01-01,10,20\n")
    with pytest.raises(DataValidationError, match="tx.csv") as info:
        read_transactions(path)
    assert info.value.rule == "unique column names" and info.value.column == "amount"
    assert "['amount']" in str(info.value) and "rename or drop" in str(info.value)

    err = _train_error(capsys, tmp_path, path)
    assert "tx.csv" in err and "amount" in err and "more than once" in err


@pytest.mark.parametrize("text", [
    "customer_id,timestamp,amount, Amount\nA,2024-01-01,10,11\n",
    "customer_id,timestamp,Amount,amount \nA,2024-01-01,10,11\n",
    "CustomerID,customer id,timestamp,amount\nA,B,2024-01-01,10\n",
])
def test_columns_differing_only_in_case_or_spaces_that_collide_are_refused(tmp_path, capsys,
                                                                           text):
    path = tmp_path / "tx.csv"
    path.write_text(text)
    with pytest.raises(DataValidationError, match="ambiguous") as info:
        read_transactions(path)
    assert info.value.rule == "one column per canonical name"
    assert str(info.value).startswith(str(path))
    err = _cli_error(capsys, ["train", "--transactions", str(path)])
    assert "tx.csv" in err and "map it explicitly" in err


def test_a_header_whose_names_only_look_mangled_is_read(tmp_path):
    """``amount.1`` written in the file itself is a distinct column, kept as an extra."""
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount,amount.1\nA,2024-01-01,10,20\n")
    out = read_transactions(path)
    assert out["amount"].tolist() == [10.0] and out["amount.1"].tolist() == [20]


def test_an_explicitly_mapped_column_next_to_a_case_variant_is_read():
    raw = pd.DataFrame({"customer_id": ["A"], "timestamp": ["2024-01-01"], "Sales": [3.0],
                        "sales ": [4.0]})
    assert standardize(raw, amount="Sales")["amount"].tolist() == [3.0]


# --- 2. absurd magnitudes -------------------------------------------------------------------

@pytest.mark.parametrize("value", [1e308, -2e13, 1.5e12])
def test_amounts_beyond_a_trillion_are_refused_naming_column_rule_and_rows(value):
    raw = pd.DataFrame({"customer_id": ["A", "B", "C"], "timestamp": ["2024-01-01"] * 3,
                        "Sales": [5.0, value, 7.0]})
    with pytest.raises(DataValidationError) as info:
        standardize(raw, amount="Sales")
    e = info.value
    assert e.column == "amount" and e.rule == "magnitude at most 1e12" and e.rows == [1]
    assert "'Sales'" in str(e) and "larger unit" in str(e)


def test_an_amount_of_exactly_a_trillion_and_inf_keep_their_rules():
    raw = pd.DataFrame({"customer_id": ["A", "B"], "timestamp": ["2024-01-01"] * 2,
                        "amount": [1e12, -1e12]})
    assert standardize(raw)["amount"].tolist() == [1e12, -1e12]
    raw["amount"] = [1.0, np.inf]
    with pytest.raises(DataValidationError) as info:
        standardize(raw)
    assert info.value.rule == "finite"  # inf is not reported twice under the bound
    assert "Also failing" not in str(info.value)


def test_huge_amounts_in_a_file_fail_train_with_the_column_not_a_float32_error(tmp_path,
                                                                               capsys, dataset):
    tx = dataset.transactions.copy()
    tx.loc[tx.index[:3], "amount"] = 1e308
    path = _frame_file(tmp_path, tx)
    err = _train_error(capsys, tmp_path, path)
    assert "tx.csv" in err and "transactions.amount" in err and "1e12" in err
    assert "float32" not in err


def test_resolution_hours_beyond_a_million_are_refused(tmp_path):
    path = tmp_path / "ix.csv"
    path.write_text("customer_id,timestamp,kind,resolution_hours\nA,2024-01-01,ticket,4\n"
                    "B,2024-01-02,ticket,1e308\n")
    with pytest.raises(DataValidationError) as info:
        read_interactions(path)
    assert info.value.column == "resolution_hours"
    assert info.value.rule == "at most 1,000,000 hours" and info.value.rows == [1]


# --- 3. too little history, no purchases ---------------------------------------------------

def test_45_days_of_history_are_refused_before_any_fitting(tmp_path, capsys, dataset):
    tx = dataset.transactions
    tx = tx[tx["timestamp"] >= pd.Timestamp("2024-11-17")]
    data = load_inputs(tx)
    with pytest.raises(DataValidationError) as info:
        train_all(data, output_dir=tmp_path / "o", models_dir=tmp_path / "m", echo=False)
    msg = str(info.value)
    assert info.value.rule == "enough history"
    assert "44 days before as_of 2024-12-31" in msg and "the 90-day churn horizon + 90 days between" in msg
    assert "forecast 15 months of sales" in msg and "a later --as-of" in msg

    err = _train_error(capsys, tmp_path, _frame_file(tmp_path, tx))
    assert "churn 180 days" in err and "give more history" in err


@pytest.mark.parametrize(("module", "days"), [("rfm", 90), ("churn", 180), ("clv", 238)])
def test_each_step_s_history_minimum_is_exact(dataset, module, days):
    tx = dataset.transactions
    end = pd.Timestamp("2024-12-31")
    enough = load_inputs(tx[tx["timestamp"] >= end - pd.Timedelta(days=days)], as_of=end)
    short = load_inputs(tx[tx["timestamp"] >= end - pd.Timedelta(days=days - 1)], as_of=end)
    with pytest.raises(DataValidationError, match=f"{module} {days} days"):
        check_trainable(short, (module,))
    try:
        check_trainable(enough, (module,))
    except DataValidationError as exc:  # only the customer counts may still be short
        assert exc.rule == "enough customers", exc


def test_the_forecast_needs_15_months(dataset):
    """October 2023 (even partly covered) to December 2024 is 15 months; from November, 14."""
    tx = dataset.transactions
    fifteen = load_inputs(tx[tx["timestamp"] >= pd.Timestamp("2023-10-20")])
    check_trainable(fifteen, ("forecast",))
    with pytest.raises(DataValidationError, match="forecast 15 months of sales.*found 14"):
        check_trainable(load_inputs(tx[tx["timestamp"] >= pd.Timestamp("2023-11-01")]),
                        ("forecast",))


def test_the_full_dataset_passes_preflight(dataset):
    check_trainable(load_inputs(dataset.transactions))


def test_all_negative_amounts_are_refused_for_train_and_score(tmp_path, capsys, dataset):
    tx = dataset.transactions.assign(amount=-dataset.transactions["amount"].abs())
    data = load_inputs(tx, as_of="2024-12-31")
    for run in (lambda: train_all(data, output_dir=tmp_path / "o", models_dir=tmp_path / "m",
                                  echo=False),
                lambda: score_customers(data, show_progress=False)):
        with pytest.raises(DataValidationError, match=r"no customer has a purchase \(positive "
                                                      r"amount\) on or before as_of 2024-12-31"):
            run()
    path = _frame_file(tmp_path, tx)
    err = _train_error(capsys, tmp_path, path)
    assert "purchases positive, returns negative" in err
    out = tmp_path / "scores.csv"
    err = _cli_error(capsys, ["score", "--transactions", str(path), "--as-of", "2024-12-31",
                              "--output", str(out)], "score")
    assert "no customer has a purchase" in err and not out.exists()


# --- 4. too few customers ------------------------------------------------------------------

def test_three_customers_name_each_step_s_minimum(tmp_path, capsys, dataset):
    tx = dataset.transactions
    tx = tx[tx["customer_id"].isin(tx["customer_id"].unique()[:3])]
    with pytest.raises(DataValidationError) as info:
        train_all(load_inputs(tx), output_dir=tmp_path / "o", models_dir=tmp_path / "m",
                  echo=False)
    msg = str(info.value)
    assert info.value.rule == "enough customers" and msg.startswith(
        "transactions.customer_id: 3 customer(s)")
    assert "churn needs >= 2 churner(s) and >= 2 non-churner(s)" in msg
    assert "segmentation needs >= 9 customers in its 20% held-out set" in msg
    assert "clv needs >= 10 repeat customers" in msg

    err = _train_error(capsys, tmp_path, _frame_file(tmp_path, tx))
    assert "too few to train" in err and "give more customers" in err


def test_twenty_customers_are_too_few_for_the_segmentation_holdout(dataset):
    tx = dataset.transactions
    data = load_inputs(tx[tx["customer_id"].isin(tx["customer_id"].unique()[:20])])
    with pytest.raises(DataValidationError, match="segmentation needs >= 9") as info:
        check_trainable(data)
    assert "churn" not in str(info.value)  # churn can train on these 20 customers


# --- 5. files that are not what their name says ----------------------------------------------

def _binary_as_csv(tmp_path, kind: str):
    path = tmp_path / "tx.csv"
    if kind == "gzip":
        path.write_bytes(gzip.compress(GOOD.encode()))
    elif kind == "parquet":
        pd.read_csv(pd.io.common.StringIO(GOOD)).to_parquet(path)
    elif kind == "xlsx":  # the parts of a workbook that identify it
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("[Content_Types].xml", "<Types/>")
            zf.writestr("xl/workbook.xml", "<workbook/>")
    elif kind == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("tx.csv", GOOD)
    else:
        path.write_bytes(b"\x00\x01binary\x00" * 50)
    return path


@pytest.mark.parametrize(("kind", "says"), [
    ("gzip", "is a gzip-compressed file, not CSV text: name it tx.csv.gz"),
    ("parquet", "is a Parquet file, not CSV text: name it tx.parquet"),
    ("xlsx", "is an Excel workbook (.xlsx), not CSV text: save the sheet as CSV"),
    ("zip", "is a zip archive, not CSV text: name it tx.csv.zip"),
    ("binary", "is binary data"),
])
def test_a_binary_file_named_csv_says_what_it_is_and_what_to_do(tmp_path, capsys, kind, says):
    path = _binary_as_csv(tmp_path, kind)
    with pytest.raises(DataValidationError, match="file content matches its name") as info:
        read_transactions(path)
    assert says in str(info.value) and "latin-1" not in str(info.value)
    err = _train_error(capsys, tmp_path, path)
    assert says in err


def test_compressed_csv_files_are_still_read(tmp_path):
    gz = tmp_path / "tx.csv.gz"
    gz.write_bytes(gzip.compress(GOOD.encode()))
    with zipfile.ZipFile(tmp_path / "tx.csv.zip", "w") as zf:
        zf.writestr("tx.csv", GOOD)
    for path in (gz, tmp_path / "tx.csv.zip"):
        assert read_transactions(path)["customer_id"].tolist() == ["A", "B"]


def test_text_named_gz_or_parquet_says_so(tmp_path):
    for name, says in (("tx.csv.gz", "is named .gz but is not gzip-compressed: name it tx.csv"),
                       ("tx.parquet", "is text, not a Parquet file")):
        path = tmp_path / name
        path.write_text(GOOD)
        with pytest.raises(DataValidationError, match="file content matches its name") as info:
            read_table(path)
        assert says in str(info.value)


def test_utf16_text_asks_for_its_encoding_and_reads_with_it(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes(GOOD.encode("utf-16"))
    with pytest.raises(DataValidationError, match="--encoding utf-16"):
        read_transactions(path)
    assert read_transactions(path, encoding="utf-16")["amount"].tolist() == [10.0, 5.0]


def test_binary_csv_through_the_installed_command(tmp_path):
    """The same refusal from a separate ``python -m crm_ml.cli`` process."""
    path = _binary_as_csv(tmp_path, "gzip")
    proc = subprocess.run([sys.executable, "-m", "crm_ml.cli", "--quiet", "train",
                           "--transactions", str(path), "--output", str(tmp_path / "o"),
                           "--models-dir", str(tmp_path / "m")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "tx.csv is a gzip-compressed file" in err and "decompress it" in err


# --- 6. more of the same family ------------------------------------------------------------

def test_an_as_of_long_after_the_data_is_refused_for_train(tmp_path, capsys, dataset):
    with pytest.warns(UserWarning, match="27394 days after the last transaction"):
        data = load_inputs(dataset.transactions, as_of="2100-01-01")
    with pytest.raises(DataValidationError, match="every customer would look churned") as info:
        train_all(data, output_dir=tmp_path / "o", models_dir=tmp_path / "m", echo=False)
    assert info.value.rule == "recent purchases"
    err = _train_error(capsys, tmp_path, _frame_file(tmp_path, dataset.transactions),
                       "--as-of", "2100-01-01")
    assert "last purchase is on 2024-12-31" in err and "--as-of within the data" in err


def test_timestamps_all_after_as_of_name_the_file_and_the_fix(tmp_path, capsys):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,timestamp,amount\nA,2031-01-01,10\nB,2031-02-01,5\n")
    err = _train_error(capsys, tmp_path, path, "--as-of", "2024-12-31")
    assert "tx.csv" in err and "every transaction is after as_of 2024-12-31" in err
    assert "a later --as-of" in err


@pytest.mark.parametrize("content", ["", "\n\n", "customer_id,timestamp,amount\n"])
def test_an_empty_customers_file_is_named(tmp_path, capsys, content):
    tx = tmp_path / "tx.csv"
    tx.write_text(GOOD)
    customers = tmp_path / "customers.csv"
    customers.write_text(content)
    err = _train_error(capsys, tmp_path, tx, "--customers", str(customers))
    assert "customers.csv" in err and "non-empty file" in err


def test_a_utf8_bom_does_not_hide_the_first_column(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert read_transactions(path)["customer_id"].tolist() == ["A", "B"]


def test_a_missing_column_error_from_a_file_names_the_file(tmp_path, capsys):
    path = tmp_path / "tx.csv"
    path.write_text("who,when,amount\nA,2024-01-01,1\n")
    err = _cli_error(capsys, ["train", "--transactions", str(path)])
    assert err.startswith(f"crm-ml train: error: {path}: ") and "customer_id" in err
