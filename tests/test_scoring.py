"""Batch scoring: `crm-ml score` end to end on the demo's champions, and its failure modes."""

from __future__ import annotations

import hashlib
import warnings

import pandas as pd
import pytest

from crm_ml.cli import main
from crm_ml.scoring import SCORE_COLUMNS, load_inputs, score_customers

pytestmark = pytest.mark.slow


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def inputs(demo_workspace, tmp_path_factory):
    """The demo's data, with one extra customer who never bought and one with only returns."""
    data = demo_workspace["data"]
    root = tmp_path_factory.mktemp("scoring")
    customers = pd.read_csv(data / "customers.csv", dtype={"customer_id": str})
    extra = pd.DataFrame({"customer_id": ["NEVER-BOUGHT", "ONLY-RETURNS"],
                          "signup_date": ["2024-06-01", "2024-06-01"]})
    pd.concat([customers, extra]).to_csv(root / "customers.csv", index=False)
    tx = pd.read_csv(data / "transactions.csv", dtype={"customer_id": str})
    ret = pd.DataFrame({"customer_id": ["ONLY-RETURNS"], "timestamp": ["2024-07-01"],
                        "amount": [-20.0]})
    pd.concat([tx, ret]).to_csv(root / "transactions.csv", index=False)
    (root / "interactions.csv").write_bytes((data / "interactions.csv").read_bytes())
    return root


def _score_args(root, out, as_of="2024-12-31", **files):
    args = ["--quiet", "score", "--transactions", str(files.get("tx", root / "transactions.csv")),
            "--interactions", str(root / "interactions.csv"),
            "--customers", str(root / "customers.csv"), "--as-of", as_of,
            "--output", str(out)]
    return args


def test_score_writes_one_row_per_customer_and_rejects_the_rest(inputs, tmp_path, capsys):
    out = tmp_path / "scores.parquet"
    assert main(_score_args(inputs, out)) == 0
    scores = pd.read_parquet(out)
    assert scores.columns[0] == "customer_id"  # a plain column, as the Spark engine writes it
    scores = scores.set_index("customer_id")
    rejects = pd.read_csv(tmp_path / "scores.rejects.csv", dtype={"customer_id": str})
    customers = pd.read_csv(inputs / "customers.csv", dtype={"customer_id": str})
    assert scores.index.is_unique
    assert set(scores.index) | set(rejects["customer_id"]) == set(customers["customer_id"])
    assert not set(scores.index) & set(rejects["customer_id"])
    reasons = rejects.set_index("customer_id")["reason"]
    assert reasons["NEVER-BOUGHT"] == "no purchase on or before as_of"
    assert reasons["ONLY-RETURNS"].startswith("only returns")
    for column in SCORE_COLUMNS:
        assert column in scores.columns
    assert scores["churn_probability"].between(0, 1).all()
    assert scores["p_alive"].between(0, 1).all()
    assert (scores["clv"] >= 0).all()
    assert scores["reason_1"].notna().all()
    assert scores["value_at_risk"].equals(scores["clv"] * scores["churn_probability"]) or \
        ((scores["value_at_risk"] - scores["clv"] * scores["churn_probability"]).abs()
         < 1e-6).all()
    assert scores["model_crm_churn"].str.startswith("crm-churn@champion=v").all()
    # the demo registered crm-recommend and the data name products: three per customer
    assert scores[["rec_1", "rec_2", "rec_3"]].notna().all().all()
    assert (scores["rec_1"] != scores["rec_2"]).all()
    assert scores["model_crm_recommend"].str.startswith("crm-recommend@champion=v").all()
    printed = capsys.readouterr().out
    assert "Scored" in printed and "rejected 2 customers" in printed
    assert "recommendations: rec_1..rec_3 from crm-recommend@champion" in printed


def test_same_input_gives_byte_identical_output(inputs, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert main(_score_args(inputs, a)) == 0
    assert main(_score_args(inputs, b)) == 0
    assert _sha(a) == _sha(b)


def test_chunking_does_not_change_scores(inputs):
    data = load_inputs(inputs / "transactions.csv", interactions=inputs / "interactions.csv",
                       customers=inputs / "customers.csv", as_of="2024-12-31")
    whole = score_customers(data, chunk_size=10_000, show_progress=False).scores
    chunked = score_customers(data, chunk_size=400, show_progress=False).scores
    pd.testing.assert_frame_equal(whole, chunked, check_exact=False, rtol=1e-9)


def test_scores_ignore_transactions_after_as_of(inputs, tmp_path):
    data = load_inputs(inputs / "transactions.csv", interactions=inputs / "interactions.csv",
                       customers=inputs / "customers.csv", as_of="2024-09-30")
    before = score_customers(data, show_progress=False).scores
    tx = data.transactions
    later = tx[(tx["timestamp"] > "2024-10-01")
               & tx["customer_id"].isin(before.index)].head(1).copy()
    later["amount"] = 1e6
    data.transactions = pd.concat([tx, later], ignore_index=True)
    after = score_customers(data, show_progress=False).scores
    pd.testing.assert_frame_equal(before, after)


@pytest.mark.parametrize("case", ["missing_column", "garbage_dates", "empty_file",
                                  "wrong_delimiter"])
def test_bad_input_gives_one_line_error_and_no_output(inputs, tmp_path, capsys, case):
    tx = pd.read_csv(inputs / "transactions.csv", nrows=50)
    bad = tmp_path / "bad.csv"
    if case == "missing_column":
        tx.drop(columns=["amount"]).to_csv(bad, index=False)
    elif case == "garbage_dates":
        tx.assign(timestamp="not a date").to_csv(bad, index=False)
    elif case == "empty_file":
        bad.write_text("")
    else:
        tx.to_csv(bad, index=False, sep=";")
    out = tmp_path / "scores.parquet"
    assert main(_score_args(inputs, out, tx=bad)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crm-ml score: error:") and "Traceback" not in err
    assert not out.exists()
    assert not list(tmp_path.glob(".*tmp*"))


def test_missing_model_is_a_clear_error(inputs, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(_score_args(inputs, out) + ["--models", "no-such-alias"]) == 2
    assert "no-such-alias" in capsys.readouterr().err
    assert not out.exists()


def test_a_crash_while_writing_leaves_no_partial_file(inputs, tmp_path, monkeypatch):
    out = tmp_path / "scores.parquet"

    def explode(self, path, *args, **kwargs):
        with open(path, "wb") as fh:
            fh.write(b"PAR1 half a table")
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", explode)
    with pytest.raises(KeyboardInterrupt):
        main(_score_args(inputs, out))
    assert not out.exists()
    assert not list(tmp_path.glob(".*tmp*"))


def test_online_retail_layout_is_scored_with_the_builtin_column_map(inputs, tmp_path):
    tx = pd.read_csv(inputs / "transactions.csv", dtype={"customer_id": str})
    tx = tx[tx["amount"] > 0]
    retail = pd.DataFrame({
        "InvoiceNo": tx["order_id"], "StockCode": tx["product_id"], "Quantity": 2,
        "InvoiceDate": tx["timestamp"], "UnitPrice": tx["amount"] / 2,
        "CustomerID": tx["customer_id"], "Country": tx["region"]})
    retail.to_csv(tmp_path / "online_retail.csv", index=False)
    out = tmp_path / "scores.csv"
    assert main(["--quiet", "score", "--transactions", str(tmp_path / "online_retail.csv"),
                 "--interactions", str(inputs / "interactions.csv"),
                 "--customers", str(inputs / "customers.csv"),
                 "--columns", "online_retail", "--as-of", "2024-12-31",
                 "--output", str(out)]) == 0
    scores = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    assert set(scores.index) == set(tx["customer_id"])  # customers.csv extras are rejected
    by_hand = tx.groupby("customer_id")["amount"].sum()
    monetary_total = scores["monetary"] * scores["frequency"]
    assert (monetary_total - by_hand.reindex(scores.index)).abs().max() < 0.05


def test_batch_scores_equal_the_demo_models_outputs(demo_workspace, inputs, tmp_path):
    """The scores table carries the same churn probability and CLV as the models that made
    them (the demo wrote both from the in-memory models at the same as_of)."""
    out = tmp_path / "scores.parquet"
    assert main(_score_args(inputs, out)) == 0
    scores = pd.read_parquet(out).set_index("customer_id")
    demo = demo_workspace["output"]
    churn = pd.read_csv(demo / "churn_scores.csv", dtype={"customer_id": str}
                        ).set_index("customer_id")["churn_probability"]
    clv = pd.read_csv(demo / "clv_predictions.csv", dtype={"customer_id": str}
                      ).set_index("customer_id")["clv"]
    assert (scores["churn_probability"] - churn.reindex(scores.index)).abs().max() < 1e-9
    assert (scores["clv"] - clv.reindex(scores.index)).abs().max() < 1e-6


def _no_loading(monkeypatch):
    """Make reading the inputs fail loudly: argument checks must come before any work."""
    import crm_ml.scoring

    def fail(*args, **kwargs):
        raise AssertionError("inputs were read before the arguments were checked")

    monkeypatch.setattr(crm_ml.scoring, "load_inputs", fail)


def _one_line_error(capsys, command="score") -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"crm-ml {command}: error:") and "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("case", ["xlsx_output", "folder_output", "xlsx_rejects",
                                  "same_file", "chunk_size_0", "chunk_size_negative"])
def test_bad_arguments_are_refused_before_any_work(tmp_path, capsys, monkeypatch, case):
    _no_loading(monkeypatch)
    (tmp_path / "adir").mkdir()
    out, extra = tmp_path / "rx" / "scores.parquet", []
    if case == "xlsx_output":
        out = tmp_path / "out.xls"
    elif case == "folder_output":
        out = tmp_path / "adir"
    elif case == "xlsx_rejects":
        extra = ["--rejects", str(tmp_path / "rx" / "rej.xls")]
    elif case == "same_file":
        out = tmp_path / "same.csv"
        extra = ["--rejects", str(tmp_path / "adir" / ".." / "same.csv")]
    else:
        extra = ["--chunk-size", "0" if case == "chunk_size_0" else "-3"]
    assert main(["--quiet", "score", "--transactions", "tx.csv", "--as-of", "2024-12-31",
                 "--output", str(out), *extra]) == 2
    err = _one_line_error(capsys)
    flag = {"xlsx_rejects": "--rejects", "same_file": "--rejects"}.get(
        case, "--chunk-size" if case.startswith("chunk") else "--output")
    assert flag in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]  # nothing written


def test_semicolon_latin1_files_are_read_with_sep_and_encoding(inputs, tmp_path):
    # a European spreadsheet export: ';' between fields, latin-1 text
    for name in ("transactions", "interactions", "customers"):
        df = pd.read_csv(inputs / f"{name}.csv", dtype=str)
        (tmp_path / f"{name}.csv").write_bytes(df.to_csv(sep=";", index=False)
                                               .encode("latin-1"))
    plain, euro = tmp_path / "plain.csv", tmp_path / "euro.csv"
    assert main(_score_args(inputs, plain)) == 0
    assert main([*_score_args(tmp_path, euro), "--sep", ";", "--encoding", "latin-1"]) == 0
    assert plain.read_bytes() == euro.read_bytes()


def test_an_as_of_long_after_the_data_is_warned_about(inputs):
    with pytest.warns(UserWarning, match="days after the last transaction"):
        load_inputs(inputs / "transactions.csv", as_of="2025-12-31")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        load_inputs(inputs / "transactions.csv", as_of="2024-12-31")


def test_score_library_refuses_a_chunk_size_below_one(inputs):
    data = load_inputs(inputs / "transactions.csv", as_of="2024-12-31")
    with pytest.raises(ValueError, match="chunk_size"):
        score_customers(data, chunk_size=0, show_progress=False)


@pytest.mark.parametrize("case", ["xlsx", "folder", "latin1", "ragged_rows", "broken_toml"])
def test_unreadable_input_gives_one_line_error(tmp_path, capsys, case):
    good = "customer_id,timestamp,amount\nA,2024-01-01,10\nB,2024-02-01,5\n"
    tx, extra = tmp_path / "tx.csv", []
    if case == "xlsx":
        tx = tmp_path / "tx.xlsx"
        tx.write_text(good)
    elif case == "folder":
        tx = tmp_path / "adir"
        tx.mkdir()
    elif case == "latin1":
        tx.write_bytes((good + "Café,2024-03-01,1\n").encode("latin-1"))
    elif case == "ragged_rows":
        tx.write_text(good + "C,2024-03-01,1,extra,more\n")
    else:
        tx.write_text(good)
        (tmp_path / "bad.toml").write_text('[transactions\ncustomer_id = "x"\n')
        extra = ["--columns", str(tmp_path / "bad.toml")]
    out = tmp_path / "scores.csv"
    assert main(["--quiet", "score", "--transactions", str(tx), "--as-of", "2024-12-31",
                 "--output", str(out), *extra]) == 2
    err = _one_line_error(capsys)
    assert ("bad.toml" if case == "broken_toml" else tx.name) in err
    assert not out.exists()


@pytest.mark.parametrize("missing", ["interactions", "customers", "customer_column"])
def test_scoring_without_a_file_the_model_needs_names_the_flag(inputs, tmp_path, capsys,
                                                               missing):
    args = _score_args(inputs, tmp_path / "scores.csv")
    if missing == "customer_column":
        cust = pd.read_csv(inputs / "customers.csv").drop(columns=["industry"])
        cust.to_csv(tmp_path / "customers.csv", index=False)
        args[args.index("--customers") + 1] = str(tmp_path / "customers.csv")
    else:
        i = args.index(f"--{missing}")
        del args[i:i + 2]
    assert main(args) == 2
    err = _one_line_error(capsys)
    if missing == "interactions":
        assert "--interactions" in err and "tickets_30d" in err and "--customers" not in err
    elif missing == "customers":
        assert "--customers" in err and "region" in err and "--interactions" not in err
    else:
        assert "customers: missing column(s) ['industry']" in err
    assert not list(tmp_path.glob("scores*"))


def test_score_help_says_as_of_is_required(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "scoring day, YYYY-MM-DD (required)" in help_text
    assert "default: day of the last transaction" not in help_text


def test_a_registry_error_is_one_line_without_the_data(tmp_path, capsys, monkeypatch):
    from mlflow.exceptions import MlflowException

    import crm_ml.scoring

    def refuse(*args, **kwargs):
        raise MlflowException("Failed to enforce schema of data '   customer_id  x\n0  A  1\n"
                              "[1 rows x 2 columns]' with schema '['x': double]'. Error: "
                              "Model is missing inputs ['region'].")

    monkeypatch.setattr(crm_ml.scoring, "train_all", refuse)
    (tmp_path / "tx.csv").write_text("customer_id,timestamp,amount\nA,2024-01-01,10\n")
    assert main(["--quiet", "train", "--transactions", str(tmp_path / "tx.csv")]) == 2
    err = _one_line_error(capsys, "train")
    assert err.endswith("Model is missing inputs ['region'].") and "rows x" not in err
