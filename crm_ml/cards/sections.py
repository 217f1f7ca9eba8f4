"""Card sections describing a run's input data: where it came from and what was dropped.

:func:`data_source_section` names each input (file name, size, SHA-256, rows, period,
customers), so a card says which data a model was trained on; :func:`quality_section` renders
the :class:`~crm_ml.data.quality.DataQualityReport` of :func:`crm_ml.data.standardize`.
Both return plain dicts for :attr:`ModelCard.data <crm_ml.cards.ModelCard>` and
:attr:`ModelCard.data_quality <crm_ml.cards.ModelCard>`. Nothing here reveals a customer row.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from crm_ml.data.quality import DataQualityReport
from crm_ml.errors import DataValidationError

__all__ = ["data_source_section", "quality_section"]

_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (e.g. a Parquet dataset) in name order."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        with f.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def _frame_sha256(df: pd.DataFrame) -> str:
    """SHA-256 of a frame's column names, index and values (stable across runs)."""
    h = hashlib.sha256()
    h.update(repr([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def _frame_facts(df: pd.DataFrame) -> dict:
    out: dict = {"rows": len(df)}
    if "timestamp" in df.columns:
        ts = pd.to_datetime(df["timestamp"], errors="coerce")
        out["first_timestamp"] = None if ts.isna().all() else str(ts.min())
        out["last_timestamp"] = None if ts.isna().all() else str(ts.max())
    if "customer_id" in df.columns:
        out["customers"] = int(df["customer_id"].nunique())
    elif df.index.name == "customer_id":
        out["customers"] = int(df.index.nunique())
    return out


def data_source_section(files: Mapping[str, str | os.PathLike] | None,
                        frames: Mapping[str, pd.DataFrame], *,
                        description: str | None = None) -> dict[str, dict]:
    """Describe a run's input data for a model card.

    Parameters
    ----------
    files : mapping of label -> path, or None
        The files the frames were read from (e.g. ``{"transactions": "sales.csv"}``); None
        or a label left out when a frame did not come from a file (the built-in data).
    frames : mapping of label -> DataFrame
        The data the model saw, by the same labels (``"transactions"``, ``"customers"``,
        ``"interactions"``...), after standardizing.
    description : str, optional
        What the frames without a file are (e.g. ``"crm_ml built-in synthetic data
        (make_crm_dataset, seed 0)"``); default ``"in-memory data frame"``.

    Returns
    -------
    dict
        ``{label: entry}`` in the order of ``frames`` (then files without a frame). A file's
        entry has ``file`` (the name, not the full path), ``bytes``, ``sha256`` (of the
        file), and - when its frame is given - ``rows``, ``first_timestamp``,
        ``last_timestamp`` (when the frame has a ``timestamp`` column) and ``customers``
        (distinct ``customer_id``). A frame without a file has ``source`` (the
        description), the same row facts and ``content_sha256`` (of the frame's contents).

    Raises
    ------
    DataValidationError
        A frame is not a DataFrame.
    FileNotFoundError
        A listed file does not exist.
    """
    files = dict(files or {})
    out: dict[str, dict] = {}
    for label, df in frames.items():
        if not isinstance(df, pd.DataFrame):
            raise DataValidationError(
                f"{label}: expected a pandas DataFrame, got {type(df).__name__}",
                column=None, rule="DataFrame")
        if label in files:
            out[label] = _file_facts(label, files[label])
            out[label].update(_frame_facts(df))
        else:
            out[label] = {"source": description or "in-memory data frame", **_frame_facts(df),
                          "content_sha256": _frame_sha256(df)}
    for label, path in files.items():
        if label not in out:
            out[label] = _file_facts(label, path)
    return out


def _file_facts(label: str, path: str | os.PathLike) -> dict:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{label}: input file {p} does not exist")
    size = (sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir()
            else p.stat().st_size)
    return {"file": p.name, "bytes": size, "sha256": _file_sha256(p)}


def _report(report) -> DataQualityReport | None:
    if report is None or isinstance(report, DataQualityReport):
        return report
    if isinstance(report, pd.DataFrame):
        return DataQualityReport.of(report)
    if isinstance(report, Mapping) and "rows_in" in report:
        return DataQualityReport.from_dict(dict(report))
    raise DataValidationError(
        f"quality_section: expected a DataQualityReport, its to_dict(), a standardized "
        f"DataFrame or a mapping of label -> report, got {type(report).__name__}",
        column=None, rule="DataQualityReport")


def _render(r: DataQualityReport) -> dict:
    out: dict = {"rows read": r.rows_in, "rows kept": r.rows_out,
                 "rows dropped": r.n_dropped}
    for rule, n in r.dropped.items():
        out[f"dropped: {rule.replace('_', ' ')}"] = n
    if r.exact_duplicates is not None:
        n = r.exact_duplicates
        kept = n and "duplicates" not in r.dropped
        out["exact duplicates found"] = f"{n} (kept)" if kept else n
    for i, note in enumerate(r.notes, 1):
        out[f"note {i}"] = note
    return out


def quality_section(report) -> dict | None:
    """Render data-quality reports for a card's ``data_quality``.

    Parameters
    ----------
    report : DataQualityReport, dict, DataFrame, mapping of label -> report, or None
        A report (or its :meth:`~DataQualityReport.to_dict`), a frame returned by
        :func:`crm_ml.data.standardize` (its report is read from ``attrs``), or several of
        these by label (``{"transactions": ..., "customers": ...}``).

    Returns
    -------
    dict or None
        For one report: ``rows read``, ``rows kept``, ``rows dropped``, one
        ``dropped: <rule>`` per policy that dropped rows (returns, zero amounts,
        duplicates...), ``exact duplicates found`` (with "(kept)" when they were not
        dropped) and the report's notes. For several: ``{label: that dict}`` (labels without
        a report are left out). None when there is no report at all.

    Raises
    ------
    DataValidationError
        ``report`` is none of the above.
    """
    if isinstance(report, Mapping) and not isinstance(report, DataQualityReport) \
            and "rows_in" not in report:
        rendered = {str(k): quality_section(v) for k, v in report.items()}
        rendered = {k: v for k, v in rendered.items() if v is not None}
        return rendered or None
    r = _report(report)
    return None if r is None else _render(r)
