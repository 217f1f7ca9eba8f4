"""The Spark scoring engine: the same scores as the pandas engine, for data beyond one machine.

Customers are hashed into buckets; each bucket's transactions and interactions are cogrouped
and scored by the pandas code (:func:`crm_ml.scoring.engine.score_chunk`) inside
``applyInPandas``, so both engines compute exactly the same features and scores. RFM cut
points need the whole population: a first pass computes each customer's recency, frequency
and monetary value in Spark, the driver fits the cut points on them (three numbers per
customer), and the second pass applies them.

Executors load the registered models themselves (once per Python worker), so they need
crm_ml installed (``PYSPARK_PYTHON`` pointing at that Python) and read access to the registry
(``MLFLOW_TRACKING_URI``).
pyspark is an optional extra: ``pip install "crm_ml[spark]"``.
"""

from __future__ import annotations

import warnings

import pandas as pd

from crm_ml.data.quality import DataPolicyWarning
from crm_ml.data.windows import as_of_day
from crm_ml.errors import CrmMlError
from crm_ml.scoring.engine import (
    MODEL_NAMES,
    REC_COLUMNS,
    REJECT_NO_PURCHASE,
    REJECT_ONLY_RETURNS,
    SCORE_DTYPES,
    Champions,
    finalize,
    fit_rfm_scorer,
    rfm_scores,
    score_chunk,
    stable_float,
)
from crm_ml.scoring.inputs import CRMData
from crm_ml.scoring.outputs import RUN_COLUMN

_SPARK_TYPES = {"datetime64[ns]": "timestamp", "int64": "bigint", "float64": "double",
                "object": "string"}
_TX_COLUMNS = ["customer_id", "timestamp", "amount", "order_id", "product_id", "channel",
               "region"]
_IX_COLUMNS = ["customer_id", "timestamp", "kind", "satisfaction", "resolution_hours"]


def _require_pyspark():
    try:
        import pyspark  # noqa: F401
        from pyspark.sql import functions
    except ImportError as exc:
        raise CrmMlError('the Spark engine needs pyspark: pip install "crm_ml[spark]"') from exc
    return functions


def use_this_python() -> None:
    """Make Spark's Python workers run this interpreter (the one with crm_ml installed).

    Without it, local Spark starts workers with whatever ``python3`` is first on PATH, which
    need not have crm_ml or pandas. Call before the SparkSession is created; an explicit
    ``PYSPARK_PYTHON`` is left alone.
    """
    import os
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


def _model_names(recommend: bool) -> tuple[str, ...]:
    from crm_ml.model_names import RECOMMEND

    return MODEL_NAMES + ((RECOMMEND,) if recommend else ())


def scores_schema(recommend: bool = False) -> str:
    """Spark DDL schema of the scores table (same columns and types as the pandas engine);
    with ``recommend``, ``rec_1..rec_3`` and the ``crm-recommend`` model column too."""
    cols = ["customer_id string"]
    cols += [f"{c} {_SPARK_TYPES[t]}" for c, t in SCORE_DTYPES.items()]
    cols += [f"{c} string" for c in REC_COLUMNS] if recommend else []
    cols += [f"model_{n.replace('-', '_')} string" for n in _model_names(recommend)]
    return ", ".join(cols)


def _keep(sdf, columns):
    return sdf.select(*[c for c in columns if c in sdf.columns])


def score_customers_spark(spark, transactions, as_of, *, interactions=None, customers=None,
                          alias: str = "champion", n_buckets: int | None = None):
    """Score every customer with Spark.

    Parameters
    ----------
    spark : SparkSession
    transactions, interactions, customers : Spark DataFrame
        Canonical columns (see :func:`crm_ml.data.standardize`); only transactions required.
    as_of : date-like
        Scoring day.
    alias : str, default "champion"
        Registry alias (or version) of the models.
    n_buckets : int, optional
        Customer buckets scored as one pandas frame each (default: 2 x default parallelism).

    Returns
    -------
    (scores, rejects) : Spark DataFrames
        ``scores`` has ``customer_id`` and the pandas engine's columns; ``rejects`` has
        ``customer_id`` and ``reason``.
    """
    F = _require_pyspark()
    # Pandas timestamps are naive UTC; a UTC session makes Spark round-trip them unchanged.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    day = as_of_day(as_of)
    end = day + pd.Timedelta(days=1)
    # rec_1..rec_3 as in the pandas engine: product ids in the data and crm-recommend registered
    products = "product_id" in transactions.columns and \
        transactions.where(F.col("product_id").isNotNull()).limit(1).count() > 0
    # fail fast on the driver if a model is missing
    versions = Champions.load(alias, recommend=products).versions
    from crm_ml.model_names import RECOMMEND

    recommend = RECOMMEND in versions
    n_buckets = int(n_buckets or 2 * spark.sparkContext.defaultParallelism)

    def bucketed(sdf):
        return sdf.withColumn("_bucket", F.pmod(F.xxhash64("customer_id"), F.lit(n_buckets)))

    tx = bucketed(_keep(transactions, _TX_COLUMNS))
    hist = tx.where(F.col("timestamp") < F.lit(end.to_pydatetime()))

    # Pass 1: per-customer recency/frequency/monetary, then cut points on the driver.
    from crm_ml.rfm import rfm_table

    rfm_cols = "customer_id string, recency_days bigint, frequency bigint, monetary double"

    def rfm_bucket(pdf: pd.DataFrame) -> pd.DataFrame:
        table = rfm_table(pdf.drop(columns="_bucket"), day)
        return table[["recency_days", "frequency", "monetary"]].reset_index()

    rfm = hist.groupBy("_bucket").applyInPandas(rfm_bucket, schema=rfm_cols).toPandas()
    scorer = fit_rfm_scorer(rfm.set_index("customer_id"))

    # Pass 2: everything else, bucket by bucket, with the pandas engine's code.
    ix = bucketed(_keep(interactions, _IX_COLUMNS)) if interactions is not None else None
    cust_pdf = customers.toPandas() if customers is not None else None

    def score_bucket(key, tx_pdf: pd.DataFrame, ix_pdf: pd.DataFrame | None = None):
        tx_pdf = tx_pdf.drop(columns="_bucket")
        buys = tx_pdf.loc[(tx_pdf["timestamp"] < end) & (tx_pdf["amount"] > 0), "customer_id"]
        ids = pd.Index(sorted(buys.unique()), name="customer_id")
        if ids.empty:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in
                                 [("customer_id", "object"), *SCORE_DTYPES.items()]}
                                | {c: pd.Series(dtype="object")
                                   for c in (REC_COLUMNS if recommend else ())}
                                | {f"model_{n.replace('-', '_')}": pd.Series(dtype="object")
                                   for n in _model_names(recommend)})
        cust = None
        if cust_pdf is not None:
            cust = cust_pdf.loc[cust_pdf["customer_id"].isin(ids)]
        ix_part = ix_pdf.drop(columns="_bucket") if ix_pdf is not None else None
        data = CRMData(transactions=tx_pdf, as_of=day, customers=cust, interactions=ix_part)
        rfm_part = rfm_scores(rfm_table(tx_pdf, day), scorer)
        models = Champions.load(alias, recommend=recommend)
        scores = finalize(score_chunk(data, ids, models, rfm_part), day, versions, alias)
        return stable_float(scores).reset_index()  # rounded as the pandas engine writes them

    schema = scores_schema(recommend)
    if ix is not None:
        scores = (tx.groupBy("_bucket").cogroup(ix.groupBy("_bucket"))
                  .applyInPandas(score_bucket, schema=schema))
    else:
        scores = tx.groupBy("_bucket").applyInPandas(lambda pdf: score_bucket(None, pdf),
                                                     schema=schema)

    # Rejects: every customer in any input who is not scored, with the reason.
    ids = tx.select("customer_id")
    if customers is not None:
        ids = ids.unionByName(customers.select("customer_id"))
    if interactions is not None:
        ids = ids.unionByName(interactions.select("customer_id"))
    any_row = hist.select("customer_id").distinct().withColumn("_any", F.lit(True))
    rejects = (ids.distinct().join(scores.select("customer_id"), "customer_id", "left_anti")
               .join(any_row, "customer_id", "left")
               .select("customer_id",
                       F.when(F.col("_any"), F.lit(REJECT_ONLY_RETURNS))
                       .otherwise(F.lit(REJECT_NO_PURCHASE)).alias("reason")))
    return scores, rejects


def _spark_type(dtype) -> str:
    kind = pd.api.types
    if kind.is_datetime64_any_dtype(dtype):
        return "timestamp"
    if kind.is_integer_dtype(dtype):
        return "bigint"
    if kind.is_float_dtype(dtype):
        return "double"
    if kind.is_bool_dtype(dtype):
        return "boolean"
    return "string"


def read_standardized(spark, path: str, kind: str, columns: dict | None = None, *,
                      drop_returns: bool = False, drop_duplicates: bool = False,
                      return_report: bool = False):
    """Read a CSV/Parquet file with Spark and standardize it with the pandas engine's rules.

    Every partition goes through :func:`crm_ml.data.standardize` (coercion, validation,
    tz-aware timestamps to naive UTC, ``drop_returns``), so a bad row fails the job with the
    same DataValidationError. Exact duplicate rows are judged on the whole table, as
    ``standardize`` judges them on the whole file: a duplicate pair can straddle two
    partitions, so they are found with ``dropDuplicates`` on every standardized column
    (extra input columns included), not per partition.

    Parameters
    ----------
    spark : SparkSession
    path : str
        CSV (with a header) or Parquet file or folder.
    kind : {"transactions", "customers", "interactions"}
    columns : dict, optional
        Column map, as for :func:`crm_ml.data.standardize`.
    drop_returns : bool, default False
        Transactions only: drop negative amounts.
    drop_duplicates : bool, default False
        Drop exact duplicate rows (they are kept by default, as in ``standardize``).
    return_report : bool, default False
        Also return the data-quality report as a dict (the keys of
        :meth:`crm_ml.data.DataQualityReport.to_dict`); counting runs Spark jobs.

    Returns
    -------
    Spark DataFrame, or (Spark DataFrame, dict)
        Canonical columns (every column for customers). The output schema is learned by
        standardizing the first rows on the driver.
    """
    from crm_ml.data import standardize
    from crm_ml.data.columns import SPECS
    from crm_ml.data.quality import DataQualityReport

    # Spark hands timestamps to pandas in the session time zone: UTC keeps them naive UTC,
    # as standardize makes them.
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    fmt = "parquet" if str(path).endswith((".parquet", ".pq")) else "csv"
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True)
    raw = reader.load(str(path))
    columns = dict(columns or {})
    policies = {"drop_returns": drop_returns} if kind == "transactions" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataPolicyWarning)
        sample, sample_report = standardize(raw.limit(1000).toPandas(), kind, columns=columns,
                                            return_report=True)
    canonical = {spec.name for spec in SPECS[kind]}
    # Customer attributes are all kept (models may use them); other kinds keep the contract.
    keep = [c for c in sample.columns if kind == "customers" or c in canonical]
    schema = ", ".join(f"`{c}` {_spark_type(sample[c].dtype)}" for c in sample.columns)

    def standardize_partitions(frames):
        for pdf in frames:
            if len(pdf):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DataPolicyWarning)
                    yield standardize(pdf, kind, columns=columns, **policies)

    rows = raw.mapInPandas(standardize_partitions, schema=schema)
    checked_duplicates = kind != "customers"  # a repeated customer id is an error
    out = rows.dropDuplicates() if drop_duplicates and checked_duplicates else rows
    out = out.select(*[f"`{c}`" for c in keep])  # quoted: a customer attribute may hold a dot
    if not return_report:
        return out
    rows_in, rows_kept = raw.count(), rows.count()
    n_dup = rows_kept - rows.dropDuplicates().count() if checked_duplicates else None
    dropped = {"returns": rows_in - rows_kept} if policies.get("drop_returns") else {}
    if drop_duplicates:
        dropped["duplicates"] = n_dup or 0
    report = DataQualityReport(kind=kind, rows_in=rows_in,
                               rows_out=rows_kept - dropped.get("duplicates", 0),
                               dropped=dropped, columns=sample_report.columns,
                               exact_duplicates=n_dup)
    return out, report.to_dict()


def spark_scoring_run_id(scores, rejects) -> str:
    """The ``scoring_run`` identity of a Spark run: ``<digest>-<n scored>-<n rejected>``.

    Like :func:`crm_ml.scoring.outputs.scoring_run_id`, the digest covers as_of, the model
    versions, the scored customers and the rejects, and the same run gives the same identity;
    the customers enter through an order-independent XOR of Spark's ``xxhash64``, so the
    digest differs from the pandas engine's (the counts and :func:`pair_is_consistent` work
    the same).
    """
    import hashlib

    from pyspark.sql import functions as F

    models = sorted(c for c in scores.columns if c.startswith("model_"))
    head = sorted(str(tuple(r)) for r in scores.select("as_of", *models).distinct().collect())
    s = scores.agg(F.count("*").alias("n"),
                   F.bit_xor(F.xxhash64("customer_id")).alias("h")).first()
    r = rejects.agg(F.count("*").alias("n"),
                    F.bit_xor(F.xxhash64("customer_id", "reason")).alias("h")).first()
    digest = hashlib.sha256(repr((head, s["h"], r["h"])).encode("utf-8")).hexdigest()[:16]
    return f"{digest}-{s['n']}-{r['n']}"


def score_files_spark(spark, transactions: str, as_of, output: str, *, interactions=None,
                      customers=None, alias: str = "champion", rejects: str | None = None,
                      columns=None, drop_returns: bool = False,
                      drop_duplicates: bool = False) -> dict:
    """Read CSV/Parquet inputs with Spark, score them and write Parquet output folders.

    The row policies are those of :func:`crm_ml.scoring.load_inputs`, with the same
    defaults: returns and exact duplicate rows of the transactions are kept unless
    ``drop_returns`` / ``drop_duplicates``. The scores and rejects folders hold the same
    columns, in the same order and with the same types, as the pandas engine's Parquet files
    (``customer_id`` first), including the ``scoring_run`` identity
    (:func:`spark_scoring_run_id`); the rejects folder is written first.

    Returns
    -------
    dict
        ``output`` and ``rejects`` paths, ``customers_scored``, ``customers_rejected``, and
        ``quality``: ``{kind: data-quality report dict}`` of each input, as
        ``CRMData.quality``.
    """
    from pyspark.sql import functions as F

    from crm_ml.scoring.inputs import _column_maps

    maps = _column_maps(columns)
    quality = {}
    tx, quality["transactions"] = read_standardized(
        spark, transactions, "transactions", maps.get("transactions"),
        drop_returns=drop_returns, drop_duplicates=drop_duplicates, return_report=True)
    ix = cust = None
    if interactions:
        ix, quality["interactions"] = read_standardized(
            spark, interactions, "interactions", maps.get("interactions"), return_report=True)
    if customers:
        cust, quality["customers"] = read_standardized(
            spark, customers, "customers", maps.get("customers"), return_report=True)
    scores, rej = score_customers_spark(spark, tx, as_of, interactions=ix, customers=cust,
                                        alias=alias)
    scores = scores.persist()  # used for the rejects, the run identity and the output
    run = spark_scoring_run_id(scores, rej)
    rej_path = rejects or f"{output.rstrip('/')}.rejects"
    # rejects first, then the scores, as the pandas engine publishes them
    rej.withColumn(RUN_COLUMN, F.lit(run)).orderBy("customer_id") \
        .write.mode("overwrite").parquet(rej_path)
    scores.withColumn(RUN_COLUMN, F.lit(run)).orderBy("customer_id") \
        .write.mode("overwrite").parquet(output)
    scores.unpersist()
    read_back = spark.read.parquet
    return {"output": output, "rejects": rej_path,
            "customers_scored": read_back(output).count(),
            "customers_rejected": read_back(rej_path).count(),
            "quality": quality}


def forecast_many_spark(long_sdf, h: int, *, level: int = 95, **forecaster_params):
    """:func:`crm_ml.forecast.forecast_many` on Spark: one group per series.

    Parameters
    ----------
    long_sdf : Spark DataFrame
        Columns ``series_id``, ``timestamp``, ``y`` (e.g. ``sales_series(..., by=...)``).
    h : int
        Horizon in periods.
    level : int, default 95
        Interval level.
    **forecaster_params
        Passed to every :class:`~crm_ml.forecast.ARIMAForecaster`.

    Returns
    -------
    Spark DataFrame
        ``series_id``, ``timestamp``, ``forecast``, ``lower``, ``upper``, ``model``,
        ``fallback``: the same rows as the pandas version.
    """
    _require_pyspark()
    schema = ("series_id string, timestamp timestamp, forecast double, lower double, "
              "upper double, model string, fallback string")

    def one_series(pdf: pd.DataFrame) -> pd.DataFrame:
        from crm_ml.forecast import forecast_many

        out = forecast_many(pdf, h=h, n_jobs=1, level=level, show_progress=False, track=False,
                            **forecaster_params)
        out["fallback"] = out["fallback"].astype(object).where(out["fallback"].notna(), None)
        return out[["series_id", "timestamp", "forecast", "lower", "upper", "model",
                    "fallback"]]

    return long_sdf.groupBy("series_id").applyInPandas(one_series, schema=schema)
