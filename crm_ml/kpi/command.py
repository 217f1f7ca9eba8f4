"""``crm-ml report``: the KPI report from files (the command line's part that is the KPI
module's own: reading the costs file and writing the report and table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.errors import DataValidationError


def read_costs(path, sep: str | None = None, encoding: str = "utf-8") -> pd.DataFrame:
    """Read an acquisition-costs table (CSV, Parquet or Excel ``.xlsx``).

    Parameters
    ----------
    path : str or Path
        Columns ``period`` (or ``timestamp``), ``acquisition_cost`` and optionally a segment
        column (see :func:`~crm_ml.kpi.kpi_table`).
    sep, encoding : str, optional
        CSV delimiter (default ``,``) and text encoding.

    Returns
    -------
    DataFrame
        The table as read; :func:`~crm_ml.kpi.kpi_table` validates it.

    Raises
    ------
    FileNotFoundError, DataValidationError, ValueError
        Missing file, empty or unreadable file, unsupported type.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"costs file not found: {path.resolve()}")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        df = pd.read_parquet(path)
    elif name.endswith((".xlsx", ".xlsm")):
        df = pd.read_excel(path, engine="openpyxl")
    elif name.endswith((".csv", ".txt", ".tsv", ".csv.gz")):
        try:
            df = pd.read_csv(path, sep=sep or ("\t" if name.endswith(".tsv") else ","),
                             encoding=encoding)
        except pd.errors.EmptyDataError:
            df = pd.DataFrame()
    else:
        raise ValueError(f"{path}: unsupported costs file type; use .csv, .parquet or .xlsx")
    if df.empty:
        raise DataValidationError(f"{path}: the costs file has no rows", column=None,
                                  rule="non-empty file")
    return df


def run_report(args, data) -> int:
    """Build the report of ``crm-ml report`` and write it (and the table with ``--table``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed ``crm-ml report`` arguments, already checked (output paths, threshold).
    data : CRMData
        The inputs, read and standardized by :func:`crm_ml.scoring.load_inputs`.

    Returns
    -------
    int
        The exit code (0).
    """
    from crm_ml.kpi.html_report import report
    from crm_ml.kpi.table import kpi_table
    from crm_ml.output_files import write_atomic

    costs = read_costs(args.costs, sep=args.sep, encoding=args.encoding) if args.costs \
        else None
    options = dict(interactions=data.interactions, customers=data.customers, costs=costs,
                   freq=args.freq, by=args.by, min_customers=args.min_customers)
    report(data.transactions, data.as_of, path=args.output, **options)
    print(f"KPI report as of {data.as_of.date()} -> {args.output}")
    if args.table:
        table = kpi_table(data.transactions, data.as_of, **options)
        write_atomic(table, args.table, index=False)
        print(f"KPI table ({len(table)} rows, {table.attrs['suppressed_cells']} cells "
              f"suppressed) -> {args.table}")
    return 0
