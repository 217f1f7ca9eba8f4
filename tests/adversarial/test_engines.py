"""The pandas and Spark scoring engines apply the same row policies and write the same table.

Inputs with what makes engines disagree: exact duplicate rows (some straddling Spark
partitions), returns, zero amounts, timestamps with UTC offsets, customers and interactions.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from crm_ml.cli import main
from crm_ml.data.quality import card_row_policies
from crm_ml.scoring import load_inputs, pair_is_consistent
from crm_ml.scoring.outputs import RUN_COLUMN

pytestmark = pytest.mark.slow

AS_OF = "2024-12-31"
N_DUPLICATES = 12


@pytest.fixture(scope="module")
def messy(demo_workspace, tmp_path_factory):
    """150 demo customers' files with duplicates, returns, zero amounts and offsets."""
    data = demo_workspace["data"]
    root = tmp_path_factory.mktemp("engines")
    customers = pd.read_csv(data / "customers.csv", dtype={"customer_id": str})
    keep = set(customers["customer_id"].sort_values().head(150))
    customers = customers[customers["customer_id"].isin(keep)]
    extra = pd.DataFrame({"customer_id": ["ONLY-RETURNS", "ONLY-ZEROS"],
                          "signup_date": ["2024-01-05", "2024-01-05"]})
    pd.concat([customers, extra]).to_csv(root / "customers.csv", index=False)

    tx = pd.read_csv(data / "transactions.csv", dtype={"customer_id": str})
    tx = tx[tx["customer_id"].isin(keep)].reset_index(drop=True)
    assert not tx.duplicated().any()  # every duplicate below is one this fixture made
    rng = np.random.default_rng(0)
    zero = rng.choice(len(tx), 15, replace=False)
    tx.loc[zero, "amount"] = 0.0
    # timestamps with UTC offsets: the same instant, written in other time zones
    stamps = pd.to_datetime(tx["timestamp"])
    shifted = rng.choice(len(tx), len(tx) // 3, replace=False)
    for k, i in enumerate(shifted):
        tz = ("Europe/Berlin", "America/New_York", "Asia/Kolkata")[k % 3]
        tx.loc[i, "timestamp"] = stamps[i].tz_localize("UTC").tz_convert(tz).isoformat()
    odd = pd.DataFrame({"customer_id": ["ONLY-RETURNS", "ONLY-ZEROS", "ONLY-ZEROS"],
                        "timestamp": ["2024-06-01 10:00:00", "2024-06-02 10:00:00",
                                      "2024-06-02 10:00:00"],  # an exact duplicate pair
                        "amount": [-30.0, 0.0, 0.0]})
    # copies of rows from the top of the file go to its end: with small input splits the two
    # rows of a pair are read by different Spark partitions
    copies = tx.iloc[rng.choice(len(tx) // 4, N_DUPLICATES - 1, replace=False)]
    pd.concat([tx, odd, copies], ignore_index=True).to_csv(root / "transactions.csv",
                                                           index=False)

    it = pd.read_csv(data / "interactions.csv", dtype={"customer_id": str})
    it = it[it["customer_id"].isin(keep)]
    pd.concat([it, it.head(3)]).to_csv(root / "interactions.csv", index=False)
    return root


def _args(root, output, *policy, engine="pandas", rejects=None):
    args = ["--quiet", "score", "--engine", engine, "--as-of", AS_OF,
            "--transactions", str(root / "transactions.csv"),
            "--interactions", str(root / "interactions.csv"),
            "--customers", str(root / "customers.csv"), "--output", str(output), *policy]
    return args + (["--rejects", str(rejects)] if rejects else [])


def test_exact_duplicates_are_kept_by_default_and_counted(messy):
    data = load_inputs(messy / "transactions.csv", as_of=AS_OF)
    dropped = load_inputs(messy / "transactions.csv", as_of=AS_OF, drop_duplicates=True)
    assert len(data.transactions) - len(dropped.transactions) == N_DUPLICATES
    assert data.quality["transactions"]["exact_duplicates"] == N_DUPLICATES
    assert dropped.quality["transactions"]["dropped"] == {"duplicates": N_DUPLICATES}
    # the same line goes into the model cards' data section (crm-ml train)
    assert card_row_policies(data) == {
        "transactions row policy": f"exact duplicate rows: {N_DUPLICATES} kept"}
    assert card_row_policies(dropped) == {
        "transactions row policy": f"exact duplicate rows: {N_DUPLICATES} dropped"}


@pytest.mark.parametrize("policy", [(), ("--drop-duplicates",)])
def test_cli_summary_says_what_happened_to_exact_duplicates(messy, tmp_path, capsys, policy):
    assert main(_args(messy, tmp_path / "s.csv", *policy)) == 0
    verb = "dropped" if policy else "kept"
    printed = capsys.readouterr().out
    assert f"transactions: exact duplicate rows: {N_DUPLICATES} {verb}" in printed
    assert "interactions: exact duplicate rows: 3 kept" in printed


def test_pandas_engine_parquet_has_customer_id_as_first_column(messy, tmp_path):
    assert main(_args(messy, tmp_path / "s.parquet")) == 0
    assert main(_args(messy, tmp_path / "s.csv")) == 0
    from_parquet = pd.read_parquet(tmp_path / "s.parquet")
    from_csv = pd.read_csv(tmp_path / "s.csv", dtype={"customer_id": str})
    assert from_parquet.columns[0] == from_csv.columns[0] == "customer_id"
    assert isinstance(from_parquet.index, pd.RangeIndex)
    assert list(from_parquet.columns) == list(from_csv.columns)


@pytest.fixture(scope="module")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("the Spark engine needs Java 17+ on PATH")
    from pyspark.sql import SparkSession

    from crm_ml.scoring.spark_engine import use_this_python

    use_this_python()
    session = (SparkSession.builder.master("local[2]").appName("crm_ml-engines")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.ui.enabled", "false")
               .getOrCreate())
    # small input splits: the CSV files are read by several partitions
    session.conf.set("spark.sql.files.maxPartitionBytes", "16k")
    session.conf.set("spark.sql.files.openCostInBytes", "0")
    yield session
    session.stop()


@pytest.mark.parametrize("policy", [(), ("--drop-duplicates", "--drop-returns")],
                         ids=["default", "drop-duplicates-and-returns"])
def test_spark_and_pandas_engines_write_the_same_tables(messy, spark, tmp_path, capsys,
                                                        policy):
    assert spark.read.csv(str(messy / "transactions.csv")).rdd.getNumPartitions() > 2
    pandas_out, pandas_rej = tmp_path / "p.parquet", tmp_path / "p.rejects.parquet"
    assert main(_args(messy, pandas_out, *policy, rejects=pandas_rej)) == 0
    pandas_said = capsys.readouterr().out
    spark_out, spark_rej = tmp_path / "spark", tmp_path / "spark.rejects"
    assert main(_args(messy, spark_out, *policy, engine="spark", rejects=spark_rej)) == 0
    spark_said = capsys.readouterr().out

    expected, got = pd.read_parquet(pandas_out), pd.read_parquet(spark_out)
    expected_rej, got_rej = pd.read_parquet(pandas_rej), pd.read_parquet(spark_rej)
    # each engine's scores and rejects are one result; the identity's digest is engine-specific
    assert pair_is_consistent(expected, expected_rej) and pair_is_consistent(got, got_rej)
    assert got[RUN_COLUMN].iloc[0].rsplit("-", 2)[1:] == \
        expected[RUN_COLUMN].iloc[0].rsplit("-", 2)[1:]
    for frame in (expected, got, expected_rej, got_rej):
        frame.drop(columns=RUN_COLUMN, inplace=True)
    assert list(got.columns) == list(expected.columns)
    assert expected.columns[0] == "customer_id"
    assert dict(got.dtypes) == dict(expected.dtypes)
    got = got.sort_values("customer_id", ignore_index=True)  # Spark writes sorted part files
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9, atol=1e-9)

    assert dict(got_rej.dtypes) == dict(expected_rej.dtypes)
    pd.testing.assert_frame_equal(got_rej.sort_values("customer_id", ignore_index=True),
                                  expected_rej)
    reasons = expected_rej.set_index("customer_id")["reason"]
    if "--drop-returns" in policy:
        assert "ONLY-RETURNS" in reasons and reasons["ONLY-ZEROS"].startswith("only returns")
    else:
        assert reasons["ONLY-RETURNS"].startswith("only returns")

    verb = "dropped" if policy else "kept"
    line = f"transactions: exact duplicate rows: {N_DUPLICATES} {verb}"
    assert line in pandas_said and line in spark_said


def test_the_duplicate_policy_changes_the_scores_of_customers_with_duplicates(messy,
                                                                              tmp_path):
    """The equality above is not vacuous: the duplicates do change scores."""
    assert main(_args(messy, tmp_path / "keep.parquet")) == 0
    assert main(_args(messy, tmp_path / "drop.parquet", "--drop-duplicates")) == 0
    kept = pd.read_parquet(tmp_path / "keep.parquet").set_index("customer_id")
    dropped = pd.read_parquet(tmp_path / "drop.parquet").set_index("customer_id")
    assert (kept["monetary"] != dropped["monetary"]).any()
