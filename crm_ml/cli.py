"""The ``crm-ml`` command line.

User errors (bad input, a missing model) end with a one-line message and exit code 2,
never a traceback; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crm_ml.errors import CrmMlError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crm-ml",
                                     description="Scores and forecasts from CRM data.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline on built-in data")
    demo.add_argument("--output", default="output", help="folder for output tables")
    demo.add_argument("--models-dir", default="models", help="folder for model cards")
    demo.add_argument("--n-customers", type=int, default=5000, help="size of the built-in data")
    demo.add_argument("--seed", type=int, default=0)

    def inputs(p: argparse.ArgumentParser, as_of_required: bool = False) -> None:
        p.add_argument("--transactions", required=True, help="CSV or Parquet file")
        p.add_argument("--interactions", help="CSV or Parquet file (service tickets, ...)")
        p.add_argument("--customers", help="CSV or Parquet file (customer attributes)")
        p.add_argument("--as-of", required=as_of_required,
                       help="scoring day (default: day of the last transaction)")
        p.add_argument("--columns", help="column map for other schemas: a TOML file, or "
                       "online_retail (UCI Online Retail layout)")
        p.add_argument("--drop-returns", action="store_true",
                       help="drop negative amounts (counted in the summary)")

    train = sub.add_parser("train", help="train, register and document every model")
    inputs(train)
    train.add_argument("--output", default="output")
    train.add_argument("--models-dir", default="models")

    score = sub.add_parser("score", help="score every customer into one table")
    inputs(score, as_of_required=True)
    score.add_argument("--output", required=True, help="scores file (.parquet or .csv)")
    score.add_argument("--rejects", help="rejects file (default: <output stem>.rejects.csv)")
    score.add_argument("--models", default="champion", help="registry alias or version")
    score.add_argument("--chunk-size", type=int, default=200_000, help="customers per chunk")
    score.add_argument("--engine", choices=["pandas", "spark"], default="pandas",
                       help="spark: score with pyspark (output and rejects are Parquet folders)")
    score.add_argument("--spark-master", default=None,
                       help="Spark master for --engine spark (default: the session's, or local[*])")

    fc = sub.add_parser("forecast", help="forecast sales (overall or per group)")
    inputs(fc)
    fc.add_argument("--freq", default="M", choices=["D", "W", "M", "Q"],
                    help="period: day, week (from Monday), month or quarter (default M)")
    fc.add_argument("--by", help="one series per value of this column (e.g. region)")
    fc.add_argument("--h", type=int, default=12, help="periods ahead (default 12)")
    fc.add_argument("--level", type=int, default=95,
                    help="prediction interval level in %% (default 95)")
    fc.add_argument("--engine", default="fast", choices=["fast", "statsforecast", "bagged"],
                    help="ARIMA engine (default fast: see forecast_many)")
    fc.add_argument("--output", required=True, help="forecast file (.parquet or .csv)")

    card = sub.add_parser("card", help="regenerate a model card from the registry")
    card.add_argument("model", help="registered model name, e.g. crm-churn")
    card.add_argument("--alias", default="champion", help="alias or version number")
    card.add_argument("--models-dir", default="models")
    return parser


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from crm_ml.demo import run_demo

        run_demo(output=args.output, n_customers=args.n_customers, seed=args.seed,
                 models_dir=args.models_dir)
        return 0
    if args.command == "score" and args.engine == "spark":
        return _score_spark(args)
    if args.command in ("train", "score", "forecast"):
        from crm_ml.scoring import load_inputs

        data = load_inputs(args.transactions, interactions=args.interactions,
                           customers=args.customers, as_of=args.as_of, columns=args.columns,
                           drop_returns=args.drop_returns)
        print(f"Read {data}")
        return {"train": _train, "score": _score, "forecast": _forecast}[args.command](args, data)
    if args.command == "card":
        from crm_ml.cards import card_from_registry

        paths = card_from_registry(args.model, alias=args.alias, models_dir=args.models_dir)
        for kind, path in paths.items():
            print(f"{kind}: {path}")
        return 0
    raise AssertionError(f"unhandled command {args.command}")  # argparse prevents this


def _train(args: argparse.Namespace, data) -> int:
    from crm_ml.scoring import train_all

    result = train_all(data, output_dir=args.output, models_dir=args.models_dir)
    for module, out in result["modules"].items():
        print(f"  {module}: version {out.get('registered_version')}, "
              f"promoted={out.get('promoted')}, grade {out.get('grade')}")
    return 0


def _score(args: argparse.Namespace, data) -> int:
    from pathlib import Path

    from crm_ml.scoring import score_customers, stable_float, write_atomic

    result = score_customers(data, alias=args.models, chunk_size=args.chunk_size)
    out = Path(args.output)
    rejects = Path(args.rejects) if args.rejects else out.with_name(out.stem + ".rejects.csv")
    write_atomic(stable_float(result.scores), out)
    write_atomic(result.rejects, rejects, index=False)
    s = result.summary
    print(f"Scored {s['customers_scored']:,} of {s['customers_in_input']:,} customers "
          f"as of {s['as_of']} in {s['seconds']} s -> {out}")
    for kind, n in s["rows_read"].items():
        dropped = s["rows_dropped"].get(kind) or {}
        print(f"  {kind}: {n:,} rows read, dropped {dict(dropped) or 'none'}")
    print(f"  rejected {s['customers_rejected']:,} customers -> {rejects}: "
          f"{s['rejects_by_reason'] or 'none'}")
    print(f"  models: {s['models']}")
    return 0


def _score_spark(args: argparse.Namespace) -> int:
    from crm_ml.scoring.spark_engine import _require_pyspark, score_files_spark, use_this_python

    _require_pyspark()
    use_this_python()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("crm-ml score")
    if args.spark_master:
        builder = builder.master(args.spark_master)
    spark = builder.getOrCreate()
    result = score_files_spark(spark, args.transactions, args.as_of, args.output,
                               interactions=args.interactions, customers=args.customers,
                               alias=args.models, rejects=args.rejects, columns=args.columns)
    print(f"Scored {result['customers_scored']:,} customers with Spark -> {result['output']}; "
          f"rejected {result['customers_rejected']:,} -> {result['rejects']}")
    return 0


def _forecast(args: argparse.Namespace, data) -> int:
    import pandas as pd

    from crm_ml.forecast import forecast_many, sales_series
    from crm_ml.scoring import stable_float, write_atomic

    series = sales_series(data.transactions, freq=args.freq, by=args.by, as_of=data.as_of)
    if isinstance(series, pd.DataFrame):  # long table (by=...)
        long_df = series
    else:
        long_df = series.rename("y").rename_axis("timestamp").reset_index()
        long_df.insert(0, "series_id", "total")
    fc = forecast_many(long_df, h=args.h, level=args.level, engine=args.engine)
    write_atomic(stable_float(fc), args.output, index=False)
    print(f"Forecast {long_df['series_id'].nunique()} series {args.h} periods ahead "
          f"-> {args.output}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``crm-ml``; returns the exit code."""
    args = _build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.quiet:
        from crm_ml import set_progress

        set_progress(False)
    try:
        return _run(args)
    except (CrmMlError, FileNotFoundError) as exc:
        if args.debug:
            raise
        print(f"crm-ml {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
