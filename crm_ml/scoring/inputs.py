"""Load and standardize the batch job's input files into one CRM data object."""

from __future__ import annotations

import os
import re
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from crm_ml.data import ONLINE_RETAIL, load_column_map, read_table, standardize
from crm_ml.data.quality import DataPolicyWarning
from crm_ml.data.windows import as_of_day, history_end
from crm_ml.errors import DataValidationError
from crm_ml.features.snapshot import feature_names

Source = str | os.PathLike | pd.DataFrame | None
#: Suffixes of the Excel workbooks :func:`load_inputs` reads (``.xls`` is refused with advice).
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
_KINDS = ("transactions", "interactions", "customers")
#: An as_of this many days after the last transaction gets a warning.
STALE_DAYS = 90

#: Column maps known by name (``--columns online_retail``).
BUILTIN_MAPS = {"online_retail": ONLINE_RETAIL}


@dataclass
class CRMData:
    """Canonical customers, transactions and interactions with the day they are seen from.

    It has the same attributes as :class:`crm_ml.datasets.CRMDataset` (``truth`` is None), so
    the module pipelines run on it unchanged. ``allow_columns`` names customer columns the
    user vouches for although they look like personal identifiers (``crm-ml train
    --allow-column``; see :mod:`crm_ml.data.privacy`). ``sources`` says where each input came
    from (``{kind: {"file", "path", "rows"}}``; see :func:`source_facts`), for the
    model cards.
    """

    transactions: pd.DataFrame
    as_of: pd.Timestamp
    customers: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    allow_columns: tuple[str, ...] = ()
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: campaign contacts (``crm-ml train --contacts``); the campaigns step runs when given
    contacts: pd.DataFrame | None = None

    def __repr__(self) -> str:
        n_c = "-" if self.customers is None else f"{len(self.customers):,}"
        n_i = "-" if self.interactions is None else f"{len(self.interactions):,}"
        return (f"CRMData(transactions={len(self.transactions):,}, customers={n_c}, "
                f"interactions={n_i}, as_of={self.as_of.date()})")


def _column_maps(columns) -> dict[str, dict]:
    """``--columns`` as {kind: map}: a built-in layout name (``online_retail``), or a TOML file
    (or dict) with ``[transactions]``, ``[customers]``, ``[interactions]`` tables, or a flat
    map that applies to transactions."""
    kinds = ("transactions", "customers", "interactions")
    if columns is None:
        return {}
    if isinstance(columns, str) and columns.lower().replace("-", "_") in BUILTIN_MAPS:
        return {"transactions": dict(BUILTIN_MAPS[columns.lower().replace("-", "_")])}
    if isinstance(columns, dict):
        if any(k in kinds for k in columns):
            return {k: dict(columns[k]) for k in kinds if k in columns}
        return {"transactions": dict(columns)}
    path = Path(columns)
    if not path.is_file():
        raise FileNotFoundError(f"column map file not found: {path}")
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise DataValidationError(f"{path}: not a valid TOML column map ({exc})",
                                  column=None, rule="readable file") from None
    present = [k for k in kinds if isinstance(tables.get(k), dict)]
    if present:
        return {k: load_column_map(path, k) for k in present}
    return {"transactions": load_column_map(path)}


def _load(source: Source, kind: str, columns: dict, csv: dict | None = None,
          **policy) -> tuple[pd.DataFrame, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataPolicyWarning)  # counted in the report instead
        if isinstance(source, pd.DataFrame):
            df, report = standardize(source, kind, columns=columns, return_report=True,
                                     **policy)
        else:
            try:
                df = read_table(source, kind, columns=columns, **(csv or {}), **policy)
            except pd.errors.ParserError as exc:  # ragged rows, unbalanced quotes ...
                msg = " ".join(str(exc).split())
                raise DataValidationError(f"{source}: cannot parse as CSV ({msg}) "
                                          "(rule 'readable file')", column=None,
                                          rule="readable file") from None
            report = df.attrs.get("data_quality", {})
    report = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    return df, report


def is_excel(source: Source) -> bool:
    """Whether ``source`` is the path of an Excel workbook (by its suffix)."""
    return isinstance(source, (str, os.PathLike)) and \
        Path(source).name.lower().endswith(EXCEL_SUFFIXES)


def sheets_by_kind(sheet) -> dict[str, str]:
    """``sheet`` of :func:`load_inputs` as ``{kind: sheet name}``.

    ``None`` -> ``{}``; a name -> that name for every input; a mapping -> itself (keys
    checked); a list of ``"NAME"`` / ``"KIND=NAME"`` strings (``crm-ml --sheet``, repeatable)
    -> a name for every input, overridden per input by ``KIND=NAME``.
    """
    if sheet is None:
        return {}
    if isinstance(sheet, str):
        return dict.fromkeys(_KINDS, sheet)
    if isinstance(sheet, dict):
        unknown = [k for k in sheet if k not in _KINDS]
        if unknown:
            raise ValueError(f"sheet: unknown input {unknown[0]!r}; use {list(_KINDS)}")
        return {k: str(v) for k, v in sheet.items()}
    out: dict[str, str] = {}
    every = [s for s in sheet if s.split("=", 1)[0].strip() not in _KINDS]
    if len(every) > 1:
        raise ValueError(f"--sheet: {len(every)} sheet names for every input ({every}); give "
                         "one, and KIND=NAME (e.g. customers=Clients) for the others")
    if every:
        out = dict.fromkeys(_KINDS, every[0])
    for item in sheet:
        kind, _, name = item.partition("=")
        if kind.strip() in _KINDS and name:
            out[kind.strip()] = name
    return out


def source_facts(source: Source, report: dict) -> dict[str, Any]:
    """Where one input came from: file name, path and rows read (a DataFrame:
    ``"in-memory DataFrame"`` and its rows). Model cards add the file's size and SHA-256
    (:func:`crm_ml.cards.data_source_section`)."""
    rows = report.get("rows_in")
    if isinstance(source, pd.DataFrame):
        return {"file": "in-memory DataFrame", "rows": int(len(source) if rows is None else rows)}
    path = Path(source)
    return {"file": path.name, "path": str(path.resolve()),
            "rows": None if rows is None else int(rows)}


def load_inputs(transactions: Source, *, interactions: Source = None, customers: Source = None,
                as_of=None, columns=None, drop_returns: bool = False,
                drop_duplicates: bool = False, sep: str | None = None,
                encoding: str = "utf-8", sheet=None) -> CRMData:
    """Read (CSV, Parquet or Excel paths, or DataFrames) and standardize the job's inputs.

    Parameters
    ----------
    transactions, interactions, customers : path or DataFrame
        Raw inputs; only transactions are required.
    as_of : date-like, optional
        The scoring day; defaults to the day of the last transaction. Rows after it are kept
        in the data (they may be needed as labels when training) but no feature uses them.
    columns : str, path or dict, optional
        Column map for other schemas: ``"online_retail"`` (the UCI Online Retail layout), or a
        TOML file / dict (see :func:`crm_ml.data.load_column_map`) that may hold
        ``[transactions]``, ``[customers]`` and ``[interactions]`` tables.
    drop_returns, drop_duplicates : bool, default False
        Row policies for transactions (see :func:`crm_ml.data.standardize`). Exact duplicate
        rows are kept by default, as in ``standardize``: without an order id, two identical
        purchases on one day are usually two purchases. Pass ``drop_duplicates=True`` for a
        file that may hold rows exported twice. Either way ``quality`` counts them
        (``exact_duplicates``; :func:`crm_ml.data.quality.row_policies` says it in words).
    sep, encoding : str, optional
        Delimiter and text encoding of every CSV file (default: the file type's usual
        delimiter, UTF-8); see :func:`crm_ml.data.read_table`. Not used for Excel files.
    sheet : str, dict or list of str, optional
        The worksheet to read from Excel inputs (default: each workbook's first visible
        sheet): one name for every workbook, ``{"customers": "Clients", ...}`` per input, or
        ``crm-ml --sheet`` values (``["Data", "customers=Clients"]``). Ignored for CSV and
        Parquet inputs. The sheet read is recorded in ``sources[kind]["sheet"]``.

    Returns
    -------
    CRMData
    """
    maps = _column_maps(columns)
    sheets = sheets_by_kind(sheet)
    given = {"transactions": transactions, "interactions": interactions, "customers": customers}

    def csv(kind: str) -> dict:
        if is_excel(given[kind]):
            return {"sheet": sheets.get(kind)}
        return {"sep": sep, "encoding": encoding}

    quality: dict[str, Any] = {}
    tx, quality["transactions"] = _load(transactions, "transactions",
                                        maps.get("transactions", {}), csv("transactions"),
                                        drop_returns=drop_returns,
                                        drop_duplicates=drop_duplicates)
    day = as_of_day(as_of) if as_of is not None else as_of_day(tx["timestamp"].max())
    idle = (day - as_of_day(tx["timestamp"].max())).days
    if idle > STALE_DAYS:
        warnings.warn(f"as_of {day.date()} is {idle} days after the last transaction: every "
                      "customer will look long lapsed; is it the right day, or are the newest "
                      "transactions missing?", UserWarning, stacklevel=2)
    if not (tx["timestamp"] < history_end(day)).any():
        where = transactions if not isinstance(transactions, pd.DataFrame) else "transactions"
        raise DataValidationError(
            f"{where}: timestamp: every transaction is after as_of {day.date()} (the first is on "
            f"{tx['timestamp'].min().date()}): give a later --as-of, or check the timestamp "
            "column for dates in the future (rule 'history before as_of')", column="timestamp",
            rule="history before as_of")
    ix = cust = None
    if interactions is not None:
        ix, quality["interactions"] = _load(interactions, "interactions",
                                            maps.get("interactions", {}), csv("interactions"))
    if customers is not None:
        cust, quality["customers"] = _load(customers, "customers", maps.get("customers", {}),
                                           csv("customers"))
    sources = {kind: source_facts(given[kind], quality[kind]) for kind in quality}
    for kind, frame in (("transactions", tx), ("interactions", ix), ("customers", cust)):
        if frame is not None and frame.attrs.get("sheet") is not None:
            sources[kind]["sheet"] = frame.attrs["sheet"]
    return CRMData(transactions=tx, as_of=day, customers=cust, interactions=ix,
                   quality=quality, sources=sources)


_WINDOWED_TX = re.compile(r"^(orders|spend|orders_change|spend_change)_\d+d$")
_WINDOWED_IX = re.compile(r"^(tickets|complaints)_\d+d$")
_TX_FEATURES = frozenset(feature_names(interactions=False))
_IX_FEATURES = frozenset(feature_names(interactions=True)) - _TX_FEATURES
#: Input kind -> (what its features are called, the command-line flag that gives the file).
_SOURCES = {"interactions": ("interaction features", "--interactions"),
            "customers": ("customer attributes", "--customers")}


def feature_source(name: str) -> str:
    """Which input a churn feature is built from: "transactions", "interactions" (tickets,
    complaints, satisfaction, resolution, last interaction) or "customers" (the rest: customer
    attributes and dates such as ``days_since_signup``)."""
    if name in _TX_FEATURES or _WINDOWED_TX.match(name):
        return "transactions"
    if name in _IX_FEATURES or _WINDOWED_IX.match(name):
        return "interactions"
    return "customers"


def check_model_inputs(required, data: CRMData, model: str = "the model") -> None:
    """Refuse (before any work) data that lack an input file the model's features come from.

    ``required`` are the model's input columns (``customer_id`` is ignored). Raises
    :class:`~crm_ml.errors.DataValidationError` naming the missing features and the flag to
    pass (``--interactions`` / ``--customers``).
    """
    needs: dict[str, list[str]] = {}
    for name in required:
        if name == "customer_id":
            continue
        source = feature_source(name)
        if source in _SOURCES and getattr(data, source) is None:
            needs.setdefault(source, []).append(name)
    if not needs:
        _check_customer_columns(required, data, model)
        return
    what = " and ".join(f"{_SOURCES[k][0]} {v[:5]}" + (f" (+{len(v) - 5} more)"
                                                       if len(v) > 5 else "")
                        for k, v in needs.items())
    files = " or ".join(needs)
    flags = " and ".join(f"{_SOURCES[k][1]} FILE" for k in needs)
    first = next(iter(needs.values()))[0]
    raise DataValidationError(
        f"{model} was trained with {what} but no {files} file was given: pass {flags}",
        column=first, rule="required input")


def _check_customer_columns(required, data: CRMData, model: str) -> None:
    """Refuse a customers file without a column one of the model's attributes comes from."""
    if data.customers is None:
        return
    have = set(map(str, data.customers.columns))
    absent = []
    for name in required:
        if name == "customer_id" or feature_source(name) != "customers" or name in have:
            continue
        column = "signup_date" if name == "days_since_signup" else name.removesuffix("_days_ago")
        if column not in have:
            absent.append(column)
    if absent:
        raise DataValidationError(
            f"customers: missing column(s) {absent[:5]} that {model} was trained with",
            column=absent[0], rule="required input")
