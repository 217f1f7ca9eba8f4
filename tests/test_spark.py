"""The Spark engine gives the same scores as the pandas engine (pyspark on local[2])."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:  # Spark needs a Java 17+ runtime beside pyspark
    pytest.skip("the Spark engine needs Java 17+ on PATH", allow_module_level=True)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    from crm_ml.scoring.spark_engine import use_this_python

    use_this_python()
    session = (SparkSession.builder.master("local[2]").appName("crm_ml-tests")
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.session.timeZone", "UTC")
               .getOrCreate())
    yield session
    session.stop()


def test_spark_and_pandas_engines_give_the_same_scores(demo_workspace, spark, tmp_path):
    from crm_ml.scoring import load_inputs, score_customers
    from crm_ml.scoring.spark_engine import score_files_spark

    data_dir = demo_workspace["data"]
    files = {"transactions": data_dir / "transactions.csv",
             "interactions": data_dir / "interactions.csv",
             "customers": data_dir / "customers.csv"}
    as_of = "2024-10-31"
    data = load_inputs(files["transactions"], interactions=files["interactions"],
                       customers=files["customers"], as_of=as_of)
    expected = score_customers(data, show_progress=False)

    out = tmp_path / "scores"
    result = score_files_spark(spark, str(files["transactions"]), as_of, str(out),
                               interactions=str(files["interactions"]),
                               customers=str(files["customers"]))
    got = pd.read_parquet(out).set_index("customer_id").sort_index()
    rejects = pd.read_parquet(result["rejects"]).sort_values("customer_id")
    # the written pair carries one run identity (added when written, as the CLI's writer does)
    from crm_ml.scoring import pair_is_consistent
    from crm_ml.scoring.outputs import RUN_COLUMN

    assert pair_is_consistent(got, rejects)
    got, rejects = got.drop(columns=RUN_COLUMN), rejects.drop(columns=RUN_COLUMN)

    assert result["customers_scored"] == len(expected.scores)
    assert list(got.columns) == list(expected.scores.columns)
    pd.testing.assert_frame_equal(got, expected.scores, check_exact=False, rtol=1e-9,
                                  check_dtype=False, check_index_type=False)
    pd.testing.assert_frame_equal(
        rejects.reset_index(drop=True),
        expected.rejects.sort_values("customer_id").reset_index(drop=True))


def test_cli_spark_engine_writes_parquet(demo_workspace, tmp_path, spark):
    from crm_ml.cli import main

    data_dir = demo_workspace["data"]
    out = tmp_path / "scores"
    code = main(["--quiet", "score", "--engine", "spark", "--transactions",
                 str(data_dir / "transactions.csv"), "--interactions",
                 str(data_dir / "interactions.csv"), "--customers", str(data_dir / "customers.csv"),
                 "--as-of", "2024-12-31",
                 "--output", str(out)])
    assert code == 0
    scores = pd.read_parquet(out)
    assert scores["customer_id"].is_unique
    assert scores["churn_probability"].between(0, 1).all()


def test_forecast_many_on_spark_equals_pandas(demo_workspace, spark):
    from crm_ml.forecast import forecast_many, sales_series
    from crm_ml.scoring.spark_engine import forecast_many_spark

    tx = pd.read_csv(demo_workspace["data"] / "transactions.csv", parse_dates=["timestamp"],
                     dtype={"customer_id": str})
    long = sales_series(tx, freq="M", by="region")
    expected = forecast_many(long, h=4, n_jobs=1, track=False, show_progress=False)
    got = forecast_many_spark(spark.createDataFrame(long), h=4).toPandas()
    got = got.sort_values(["series_id", "timestamp"]).reset_index(drop=True)
    expected = expected.sort_values(["series_id", "timestamp"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["series_id", "timestamp", "forecast", "lower", "upper"]],
                                  expected[["series_id", "timestamp", "forecast", "lower",
                                            "upper"]], check_dtype=False, rtol=1e-9)
