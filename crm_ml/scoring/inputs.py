"""Load and standardize the batch job's input files into one CRM data object."""

from __future__ import annotations

import os
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

Source = str | os.PathLike | pd.DataFrame | None

#: Column maps known by name (``--columns online_retail``).
BUILTIN_MAPS = {"online_retail": ONLINE_RETAIL}


@dataclass
class CRMData:
    """Canonical customers, transactions and interactions with the day they are seen from.

    It has the same attributes as :class:`crm_ml.datasets.CRMDataset` (``truth`` is None), so
    the module pipelines run on it unchanged.
    """

    transactions: pd.DataFrame
    as_of: pd.Timestamp
    customers: pd.DataFrame | None = None
    interactions: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    quality: dict[str, Any] = field(default_factory=dict)

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
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    present = [k for k in kinds if isinstance(tables.get(k), dict)]
    if present:
        return {k: load_column_map(path, k) for k in present}
    return {"transactions": load_column_map(path)}


def _load(source: Source, kind: str, columns: dict, **policy) -> tuple[pd.DataFrame, dict]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataPolicyWarning)  # counted in the report instead
        if isinstance(source, pd.DataFrame):
            df, report = standardize(source, kind, columns=columns, return_report=True,
                                     **policy)
        else:
            df = read_table(source, kind, columns=columns, **policy)
            report = df.attrs.get("data_quality", {})
    report = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    return df, report


def load_inputs(transactions: Source, *, interactions: Source = None, customers: Source = None,
                as_of=None, columns=None, drop_returns: bool = False,
                drop_duplicates: bool = True) -> CRMData:
    """Read (CSV or Parquet paths, or DataFrames) and standardize the job's inputs.

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
    drop_returns, drop_duplicates : bool
        Row policies for transactions (counted in ``quality``; see
        :func:`crm_ml.data.standardize`). Exact duplicate rows are dropped by default: a file
        exported twice would otherwise double every customer's spend.

    Returns
    -------
    CRMData
    """
    maps = _column_maps(columns)
    quality: dict[str, Any] = {}
    tx, quality["transactions"] = _load(transactions, "transactions",
                                        maps.get("transactions", {}),
                                        drop_returns=drop_returns,
                                        drop_duplicates=drop_duplicates)
    day = as_of_day(as_of) if as_of is not None else as_of_day(tx["timestamp"].max())
    if not (tx["timestamp"] < history_end(day)).any():
        raise DataValidationError(
            f"timestamp: no transaction on or before as_of {day.date()} (rule: history "
            f"needed; first transaction {tx['timestamp'].min()})", column="timestamp",
            rule="history before as_of")
    ix = cust = None
    if interactions is not None:
        ix, quality["interactions"] = _load(interactions, "interactions",
                                            maps.get("interactions", {}))
    if customers is not None:
        cust, quality["customers"] = _load(customers, "customers", maps.get("customers", {}))
    return CRMData(transactions=tx, as_of=day, customers=cust, interactions=ix,
                   quality=quality)
