"""The ``crm-ml`` command line.

User errors (bad input or arguments, unreadable files, a missing model, a registry that
refuses the data) end with a one-line message and exit code 2, never a traceback; ``--debug``
shows the traceback. Arguments and output paths are checked before any expensive work.
"""

from __future__ import annotations

import argparse
import logging
import sys

from crm_ml.errors import CrmMlError, DataValidationError
from crm_ml.model_names import CHURN


class UsageError(CrmMlError, ValueError):
    """A command-line argument that cannot work (checked before any work is done)."""


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
        p.add_argument("--transactions", required=True,
                       help="CSV, Parquet or Excel (.xlsx) file")
        p.add_argument("--interactions",
                       help="CSV, Parquet or Excel file (service tickets, ...)")
        p.add_argument("--customers", help="CSV, Parquet or Excel file (customer attributes)")
        p.add_argument("--sheet", action="append", metavar="NAME|KIND=NAME",
                       help="Excel: the sheet to read (default: the first); KIND=NAME for one "
                       "input, e.g. --sheet customers=Clients (repeatable)")
        p.add_argument("--as-of", required=as_of_required,
                       help="scoring day, YYYY-MM-DD (required)" if as_of_required else
                       "scoring day, YYYY-MM-DD (default: day of the last transaction)")
        p.add_argument("--columns", help="column map for other schemas: a TOML file, or "
                       "online_retail (UCI Online Retail layout)")
        p.add_argument("--drop-returns", action="store_true",
                       help="drop negative amounts (counted in the summary)")
        p.add_argument("--drop-duplicates", action="store_true",
                       help="drop exact duplicate transaction rows, e.g. a file exported twice "
                       "(default: keep them, counted in the summary)")
        p.add_argument("--sep", help="CSV delimiter, e.g. ';' (default: ',' for .csv, tab "
                       "for .tsv)")
        p.add_argument("--encoding", default="utf-8",
                       help="CSV text encoding, e.g. latin-1 (default utf-8)")

    train = sub.add_parser(
        "train", help="train, register and document every model",
        description="Train, register and document every model on your files. Settings come "
        "from production defaults, then --config FILE, then the flags below (flags win).")
    inputs(train)
    train.add_argument("--contacts", help="campaign contacts (CSV, Parquet or Excel: "
                       "customer_id, campaign_id, timestamp, treated, ...): adds the "
                       "campaigns step (campaign summary, uplift model)")
    train.add_argument("--output", default="output")
    train.add_argument("--models-dir", default="models")
    _config_flags(train)
    train.add_argument("--allow-column", action="append", default=[], metavar="NAME",
                       help="use this customer column as a feature although it looks like a "
                       "personal identifier or free text (repeatable; by default such "
                       "columns are dropped with a warning)")

    score = sub.add_parser("score", help="score every customer into one table")
    inputs(score, as_of_required=True)
    score.add_argument("--output", required=True,
                       help="scores file (.parquet, .csv or .xlsx)")
    score.add_argument("--rejects", help="rejects file (default: <output stem>.rejects.csv, "
                       ".rejects.xlsx for an .xlsx output)")
    score.add_argument("--models", default="champion", help="registry alias or version")
    score.add_argument("--chunk-size", type=int, default=200_000,
                       help="customers per chunk, >= 1 (default 200,000)")
    score.add_argument("--engine", choices=["pandas", "spark"], default="pandas",
                       help="spark: score with pyspark (output and rejects are Parquet folders)")
    score.add_argument("--spark-master", default=None,
                       help="Spark master for --engine spark (default: the session's, or local[*])")

    fc = sub.add_parser("forecast", help="forecast sales (overall or per group)")
    inputs(fc)
    fc.add_argument("--freq", default="M", choices=["D", "W", "M", "Q"],
                    help="period: day, week (from Monday), month or quarter (default M)")
    fc.add_argument("--by", help="one series per value of this column (e.g. region)")
    fc.add_argument("--h", type=int, default=12, help="periods ahead, >= 1 (default 12)")
    fc.add_argument("--level", type=int, default=95,
                    help="prediction interval level in %%, 1 to 99 (default 95)")
    fc.add_argument("--engine", default="fast", choices=["fast", "statsforecast", "bagged"],
                    help="ARIMA engine (default fast: see forecast_many)")
    fc.add_argument("--output", required=True,
                    help="forecast file (.parquet, .csv or .xlsx)")

    rep = sub.add_parser("report", help="KPI report: one self-contained HTML file")
    inputs(rep)
    rep.add_argument("--costs", help="acquisition costs (CSV, Parquet or Excel): period (or "
                     "timestamp), acquisition_cost[, the --by column]")
    rep.add_argument("--freq", default="M", choices=["W", "M", "Q"],
                     help="period: week (from Monday), month or quarter (default M)")
    rep.add_argument("--by", help="one row per period and value of this customers or "
                     "transactions column (e.g. region)")
    rep.add_argument("--min-customers", type=int, default=10,
                     help="suppress cells about fewer customers, >= 0 (default 10)")
    rep.add_argument("--output", required=True, help="report file (.html)")
    rep.add_argument("--table", help="also write the KPI table (.csv, .parquet or .xlsx)")

    card = sub.add_parser("card", help="regenerate a model card from the registry")
    card.add_argument("model", help=f"registered model name, e.g. {CHURN}")
    card.add_argument("--alias", default="champion", help="alias or version number")
    card.add_argument("--models-dir", default="models")
    return parser


#: ``crm-ml train`` flag -> (config key, type, help).
TRAIN_FLAGS = {
    "--horizon-days": ("churn.horizon_days", int, "churn: no purchase in this many days after "
                       "a snapshot = churned (default 90)"),
    "--holdout-days": ("churn.holdout_days", int, "churn: days between the training and the "
                       "test snapshot, >= --horizon-days (default: the horizon)"),
    "--algorithms": ("churn.algorithms", lambda v: tuple(a.strip() for a in v.split(",")),
                     "churn: comma-separated, compared on held-out data (default "
                     "lightgbm,random_forest)"),
    "--cv": ("churn.cv", int, "churn: calibration folds, >= 2 (default 5)"),
    "--n-estimators": ("churn.n_estimators", int,
                       "churn: trees of the random forest (default: the model's choice)"),
    "--clv-horizon": ("clv.horizon", float, "CLV horizon in periods of the CLV time unit "
                      "(default 52 weeks)"),
    "--discount-rate": ("clv.discount_rate", float, "CLV annual discount rate (default 0.10)"),
    "--margin": ("clv.margin", float, "CLV profit margin on spend, 0..1 (default 1.0: revenue)"),
    "--freq": ("forecast.freq", str, "forecast period: D, W, M or Q (default M)"),
    "--by": ("forecast.by", str, "forecast one series per value of this transaction column "
             "too (default region; 'none' for the overall series only)"),
    "--forecast-h": ("forecast.h", int, "forecast periods ahead (default 12)"),
    "--segments": ("segmentation.n_segments", lambda v: v if v == "auto" else int(v),
                   "number of clustering segments, or auto (default auto)"),
    "--rec-method": ("recommend.method", str, "recommendations: auto, popular, item_knn or "
                     "als (default auto: chosen by a backtest)"),
    "--rec-k": ("recommend.k", int, "recommendations per customer in recommendations.csv "
                "(default 10)"),
}


def _config_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("training settings (override --config)")
    group.add_argument("--config", metavar="TOML", help="training settings: a TOML file with "
                       "[churn], [clv], [forecast], [segmentation], [rfm] and [recommend] "
                       "tables")
    for flag, (key, _, text) in TRAIN_FLAGS.items():
        group.add_argument(flag, metavar=key.split(".")[1].upper(), help=f"{text} [{key}]")


def train_config(args: argparse.Namespace):
    """The :class:`~crm_ml.pipelines.config.TrainConfig` of ``crm-ml train``: defaults, then
    ``--config``, then the flags."""
    from crm_ml.pipelines.config import TrainConfig

    config = TrainConfig.from_toml(args.config) if args.config else TrainConfig()
    overrides = {}
    for flag, (key, convert, _) in TRAIN_FLAGS.items():
        raw = getattr(args, flag[2:].replace("-", "_"))
        if raw is None:
            continue
        try:
            overrides[key] = convert(raw)
        except ValueError:
            raise UsageError(f"{flag}: cannot read {raw!r} ({TRAIN_FLAGS[flag][2]})") from None
    try:
        return config.override(overrides)
    except ValueError as exc:
        flag = next((f for f, (k, _, _) in TRAIN_FLAGS.items() if str(exc).startswith(k)), None)
        raise UsageError(f"{flag} {exc}" if flag else str(exc)) from None


def _rejects_path(args: argparse.Namespace):
    from pathlib import Path

    out = Path(args.output)
    if args.rejects:
        return Path(args.rejects)
    suffix = ".xlsx" if out.suffix.lower() == ".xlsx" else ".csv"
    return out.with_name(out.stem + ".rejects" + suffix)


def _input_files(args: argparse.Namespace) -> dict:
    return {flag: getattr(args, flag[2:], None) for flag in
            ("--transactions", "--interactions", "--customers", "--contacts", "--columns")}


def _check_sheets(args: argparse.Namespace) -> None:
    """Refuse ``--sheet`` values that cannot apply (no Excel input, a KIND=NAME for an input
    that is not a workbook, more than one plain NAME)."""
    from crm_ml.scoring.inputs import is_excel, sheets_by_kind

    sheets = getattr(args, "sheet", None)
    if not sheets:
        return
    files = {k: getattr(args, k) for k in ("transactions", "interactions", "customers")}
    if not any(is_excel(f) for f in files.values()):
        raise UsageError("--sheet applies to Excel (.xlsx) inputs, and none was given")
    try:
        chosen = sheets_by_kind(sheets)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    for item in sheets:
        kind = item.partition("=")[0].strip()
        if kind in files and "=" in item and not is_excel(files[kind]):
            raise UsageError(f"--sheet {item}: --{kind} is not an Excel file "
                             f"({files[kind] or 'not given'})")
    args.sheets = chosen


def _check_args(args: argparse.Namespace) -> None:
    """Refuse arguments that cannot work, before any data is read or model trained."""
    import os

    from crm_ml.output_files import refuse_overwriting_inputs

    if args.command in ("train", "score", "forecast", "report"):
        _check_sheets(args)
    if args.command == "score":
        if args.engine == "pandas":
            if args.chunk_size < 1:
                raise UsageError(f"--chunk-size: must be >= 1, got {args.chunk_size}")
            _check_output("--output", args.output)
            rejects = _rejects_path(args)
            _check_output("--rejects", rejects)
        else:
            if args.sep is not None or args.encoding.lower() not in ("utf-8", "utf8"):
                raise UsageError("--sep and --encoding apply to --engine pandas; convert the "
                                 "files to UTF-8, comma-separated CSV or Parquet for Spark")
            _refuse_excel_for_spark(args)
            rejects = args.rejects
        if rejects is not None and \
                os.path.realpath(args.output) == os.path.realpath(rejects):
            raise UsageError(f"--rejects and --output are the same file ({args.output}); "
                             "give two different paths")
        _guard(refuse_overwriting_inputs, {"--output": args.output,
                                           "--rejects": args.rejects or rejects},
               _input_files(args))
    elif args.command == "forecast":
        if args.h < 1:
            raise UsageError(f"--h: must be >= 1, got {args.h}")
        if not 0 < args.level < 100:
            raise UsageError(f"--level: must be between 0 and 100 (exclusive), got {args.level}")
        _check_output("--output", args.output)
        _guard(refuse_overwriting_inputs, {"--output": args.output}, _input_files(args))
    elif args.command == "report":
        _check_report_args(args)
    elif args.command in ("train", "demo"):
        from crm_ml.output_files import check_output_folder

        for flag in ("--output", "--models-dir"):
            _guard(check_output_folder, getattr(args, flag[2:].replace("-", "_")), flag=flag)
        if args.command == "train":
            from crm_ml.scoring.train import refuse_overwriting_inputs as refuse_train

            args.train_config = train_config(args)
            _guard(refuse_train, args.output, args.models_dir,
                   {**_input_files(args), "--config": args.config}, args.train_config)


def _check_report_args(args: argparse.Namespace) -> None:
    import os
    from pathlib import Path

    from crm_ml.output_files import check_output_folder, refuse_overwriting_inputs

    if args.min_customers < 0:
        raise UsageError(f"--min-customers: must be >= 0, got {args.min_customers}")
    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"--output {out} is a folder; give the report's file name, e.g. "
                         f"{out / 'report.html'}")
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--output {out}: the report must be an .html file, e.g. "
                         f"{out.with_suffix('.html').name}")
    _guard(check_output_folder, out.parent, flag="--output")
    if args.table:
        _check_output("--table", args.table)
        if os.path.realpath(args.table) == os.path.realpath(args.output):
            raise UsageError("--table and --output are the same file; give two paths")
    _guard(refuse_overwriting_inputs, {"--output": args.output, "--table": args.table},
           {**_input_files(args), "--costs": args.costs})


def _refuse_excel_for_spark(args: argparse.Namespace) -> None:
    from crm_ml.output_files import is_xlsx
    from crm_ml.scoring.inputs import is_excel

    for flag in ("--transactions", "--interactions", "--customers", "--output", "--rejects"):
        value = getattr(args, flag[2:])
        if is_excel(value) or is_xlsx(value):
            raise UsageError(f"{flag} {value}: Excel files are read and written by --engine "
                             "pandas; for Spark save them as CSV UTF-8 or Parquet")


def _guard(check, *args, flag: str = "") -> None:
    """Run ``check(*args)``; its ``ValueError`` becomes a usage error (prefixed by ``flag``)."""
    try:
        check(*args)
    except ValueError as exc:
        raise UsageError(f"{flag} {exc}".strip()) from None


def _check_output(flag: str, path) -> None:
    from crm_ml.output_files import check_output_path

    _guard(check_output_path, path, flag=flag)


def _run(args: argparse.Namespace) -> int:
    _check_args(args)
    if args.command == "demo":
        from crm_ml.demo import run_demo

        run_demo(output=args.output, n_customers=args.n_customers, seed=args.seed,
                 models_dir=args.models_dir)
        return 0
    if args.command == "score" and args.engine == "spark":
        return _score_spark(args)
    if args.command in ("train", "score", "forecast", "report"):
        from crm_ml.scoring import load_inputs

        data = load_inputs(args.transactions, interactions=args.interactions,
                           customers=args.customers, as_of=args.as_of, columns=args.columns,
                           drop_returns=args.drop_returns,
                           drop_duplicates=args.drop_duplicates, sep=args.sep,
                           encoding=args.encoding, sheet=getattr(args, "sheets", None))
        print(f"Read {data}")
        _print_row_policies(data.quality)
        if args.command == "report":
            from crm_ml.kpi.command import run_report

            return run_report(args, data)
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

    columns = [] if data.customers is None else [str(c) for c in data.customers.columns]
    unknown = [c for c in args.allow_column if c not in columns]
    if unknown:
        raise UsageError(f"--allow-column {unknown[0]}: no such column in the --customers "
                         f"file (its columns: {columns[:20] or 'no --customers file given'})")
    if args.contacts:
        import dataclasses

        from crm_ml.data import read_table

        contacts = read_table(args.contacts, kind="contacts", sep=args.sep,
                              encoding=args.encoding)
        data = dataclasses.replace(data, contacts=contacts)
        print(f"Read {len(contacts):,} campaign contacts")
    result = train_all(data, output_dir=args.output, models_dir=args.models_dir,
                       allow_columns=args.allow_column, config=args.train_config)
    for module, out in result["modules"].items():
        if out.get("skipped"):
            print(f"  {module}: skipped, {out['skipped']}")
            continue
        if "registered_version" not in out:  # a step without a model (kpi)
            print(f"  {module}: done, no model")
            continue
        print(f"  {module}: version {out.get('registered_version')}, "
              f"promoted={out.get('promoted')}, grade {out.get('grade')}")
    return 0


def _score(args: argparse.Namespace, data) -> int:
    from pathlib import Path

    from crm_ml.scoring import score_customers, stable_float
    from crm_ml.scoring.outputs import write_scores

    out, rejects = Path(args.output), _rejects_path(args)
    _check_excel_rows(data, out, rejects)
    result = score_customers(data, alias=args.models, chunk_size=args.chunk_size)
    run = write_scores(stable_float(result.scores), result.rejects, out, rejects)
    s = result.summary
    print(f"Scored {s['customers_scored']:,} of {s['customers_in_input']:,} customers "
          f"as of {s['as_of']} in {s['seconds']} s -> {out}")
    for kind, n in s["rows_read"].items():
        dropped = s["rows_dropped"].get(kind) or {}
        print(f"  {kind}: {n:,} rows read, dropped {dict(dropped) or 'none'}")
    print(f"  rejected {s['customers_rejected']:,} customers -> {rejects}: "
          f"{s['rejects_by_reason'] or 'none'}")
    print(f"  recommendations: {s['recommendations']}")
    print(f"  models: {s['models']}; scoring_run {run} (in both files)")
    return 0


def _check_excel_rows(data, out, rejects) -> None:
    """Refuse, before scoring, an Excel output the scores or rejects would not fit in: the
    customers to score and to reject are known once the inputs are read."""
    from crm_ml.output_files import check_excel_rows, is_xlsx

    if not (is_xlsx(out) or is_xlsx(rejects)):
        return
    from crm_ml.scoring.engine import _universe

    ids, rejected = _universe(data)
    check_excel_rows(len(ids), out, f"the scores table ({len(ids):,} customers to score)")
    check_excel_rows(len(rejected), rejects,
                     f"the rejects table ({len(rejected):,} customers to reject)")


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
                               alias=args.models, rejects=args.rejects, columns=args.columns,
                               drop_returns=args.drop_returns,
                               drop_duplicates=args.drop_duplicates)
    print(f"Scored {result['customers_scored']:,} customers with Spark -> {result['output']}; "
          f"rejected {result['customers_rejected']:,} -> {result['rejects']}")
    for kind, report in result["quality"].items():
        print(f"  {kind}: {report['rows_in']:,} rows read, dropped "
              f"{report['dropped'] or 'none'}")
    _print_row_policies(result["quality"])
    return 0


def _print_row_policies(quality: dict) -> None:
    from crm_ml.data.quality import row_policies

    for kind, line in row_policies(quality).items():
        print(f"  {kind}: {line}")


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
    from crm_ml.output_files import check_excel_rows

    n_series = long_df["series_id"].nunique()
    check_excel_rows(n_series * args.h, args.output,
                     f"the forecast ({n_series:,} series x {args.h} periods)")
    try:
        fc = forecast_many(long_df, h=args.h, level=args.level, engine=args.engine)
    except DataValidationError as exc:
        if exc.column != "h":
            raise
        raise UsageError(f"--{exc}") from None  # an impossible horizon, found before fitting
    failed = fc.drop_duplicates("series_id").query("model == 'failed'")
    if len(failed) == long_df["series_id"].nunique():
        raise CrmMlError(f"every series failed to forecast ({len(failed)}), nothing written; "
                         f"first error: {failed['fallback'].iloc[0]}")
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
    except Exception as exc:
        if args.debug or not _is_user_error(exc):
            raise
        print(f"crm-ml {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2


def _is_user_error(exc: Exception) -> bool:
    """Errors caused by the input, the arguments or the environment (not bugs in crm_ml).

    ``ValueError`` covers pandas' parser errors, bad encodings and broken TOML; ``OSError``
    missing files, folders given for files and permissions; ``MlflowException`` a registry
    that refuses the data (e.g. the champion's input schema).
    """
    if isinstance(exc, (CrmMlError, ValueError, OSError)):
        return True
    mlflow_exceptions = sys.modules.get("mlflow.exceptions")  # never raised unless imported
    return mlflow_exceptions is not None and isinstance(exc, mlflow_exceptions.MlflowException)


def _one_line(exc: Exception, limit: int = 600) -> str:
    """The error message on one line: MLflow's schema errors embed the whole data frame, so
    only their final ``Error: ...`` part is kept; long messages are cut at ``limit``."""
    text = str(exc)
    if "Failed to enforce schema" in text and "Error: " in text:
        text = "a registered model refuses the data: " + text.rsplit("Error: ", 1)[1]
    elif not isinstance(exc, CrmMlError) and \
            type(exc).__module__.startswith(("pandas", "mlflow")):
        text = f"{type(exc).__name__}: {text}"
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


if __name__ == "__main__":
    sys.exit(main())
