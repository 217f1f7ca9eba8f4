"""Read CSV and Parquet files straight into canonical frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.data._sniff import check_content
from crm_ml.data.columns import check_kind, resolve
from crm_ml.data.standardize import standardize
from crm_ml.errors import DataValidationError

_PARQUET = (".parquet", ".pq")
_CSV = (".csv", ".txt")
_TSV = (".tsv", ".tab")
_COMPRESSION = ("", ".gz", ".bz2", ".zip", ".xz", ".zst")
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def _format_of(path: Path) -> tuple[str, str | None, str]:
    """(format, default delimiter, compression suffix) named by the file's suffix."""
    name = path.name.lower()
    for ext in _PARQUET:
        if name.endswith(ext):
            return "parquet", None, ""
    for comp in _COMPRESSION:
        for ext in _CSV:
            if name.endswith(ext + comp):
                return "csv", ",", comp
        for ext in _TSV:
            if name.endswith(ext + comp):
                return "csv", "\t", comp
    raise ValueError(
        f"{path}: unsupported file type; crm_ml reads .csv/.tsv/.txt (optionally .gz/.bz2/.zip/"
        ".xz/.zst compressed) and .parquet/.pq")


def _empty_file(path: Path, what: str) -> DataValidationError:
    return DataValidationError(f"{path}: {what} (rule 'non-empty file')", column=None,
                               rule="non-empty file", rows=[])


def _refuse_repeated_names(path: Path, sep: str, encoding: str, read_options: dict) -> None:
    """Refuse a header that names a column twice.

    pandas renames the second ``amount`` to ``amount.1``, so the file would silently be read
    with its first ``amount`` column only; the header is therefore read as a plain row.
    """
    opts = {k: v for k, v in read_options.items() if k not in ("dtype", "header", "nrows",
                                                                "usecols", "names")}
    first = pd.read_csv(path, sep=sep, encoding=encoding, header=None, nrows=1, dtype=str,
                        **opts)
    names = [str(v) for v in first.iloc[0].tolist() if pd.notna(v)] if len(first) else []
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataValidationError(
            f"{path}: the header names column(s) {repeated} more than once; only the first "
            "would be read: rename or drop the repeated column(s) (rule 'unique column names')",
            column=repeated[0], rule="unique column names")


def read_table(path, kind: str = "transactions", *, sep: str | None = None,
               encoding: str = "utf-8", read_options: dict | None = None, **options):
    """Read a CSV or Parquet file (chosen by suffix) and :func:`standardize` it.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt`` (comma), ``.tsv``/``.tab`` (tab), optionally compressed
        (``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``), or ``.parquet``/``.pq``.
    kind : {"transactions", "customers", "interactions"}
        Canonical layout to produce.
    sep : str, optional
        CSV delimiter; default by suffix. A file whose header splits into a single column that
        contains another delimiter is rejected with a message saying which one it looks like.
    encoding : str, default "utf-8"
        Text encoding of CSV files (``"latin-1"`` for many spreadsheet exports).
    read_options : dict, optional
        Extra keyword arguments for :func:`pandas.read_csv` / :func:`pandas.read_parquet`.
    **options
        Passed to :func:`standardize`: ``as_of``, ``drop_returns``, ``drop_zero_amounts``,
        ``drop_duplicates``, ``columns``, ``return_report`` and column names
        (``customer_id="CustomerID"`` ...).

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, DataQualityReport)
        As :func:`standardize`. The index is the 0-based data row number (CSV file line =
        index + 2), so error messages point at the rows in the file.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    crm_ml.DataValidationError
        Empty file, header only, wrong delimiter, a header naming a column twice, a file whose
        bytes are not what its name says (gzip, Parquet, Excel or other binary data named
        ``.csv``; text named ``.parquet`` or ``.gz``), or any standardize error (the message
        starts with the file path).
    """
    specs = check_kind(kind)
    path = Path(path)
    if not path.exists():
        folder = path.parent if str(path.parent) else Path(".")
        near = sorted(p.name for p in folder.iterdir())[:10] if folder.is_dir() else []
        extra = f"; files in {folder.resolve()}: {near}" if folder.is_dir() else \
            f"; the folder {folder.resolve()} does not exist either"
        raise FileNotFoundError(f"{kind} file not found: {path.resolve()}{extra}")
    if path.is_dir():
        raise IsADirectoryError(f"{path.resolve()} is a folder; give the path of a file")
    fmt, default_sep, compression = _format_of(path)
    if path.stat().st_size == 0:
        raise _empty_file(path, "the file is empty (0 bytes)")
    check_content(path, fmt, compression, encoding)
    read_options = dict(read_options or {})
    mapping = {**dict(options.pop("columns", None) or {}),
               **{k: v for k, v in options.items() if k not in _STANDARDIZE_OPTIONS}}
    if fmt == "parquet":
        try:
            df = pd.read_parquet(path, **read_options)
        except Exception as exc:  # pyarrow raises several error types for a broken file
            raise DataValidationError(
                f"{path}: cannot read as Parquet ({type(exc).__name__}: {exc}) "
                "(rule 'readable file')", column=None, rule="readable file") from exc
    else:
        sep = sep if sep is not None else default_sep
        try:
            header = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding, **read_options)
        except pd.errors.EmptyDataError:
            raise _empty_file(path, "the file has no header and no rows") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not {encoding} text ({exc}); pass encoding='latin-1' "
                             "(or the file's encoding; crm-ml: --encoding latin-1)") from None
        _refuse_repeated_names(path, sep, encoding, read_options)
        cols = [str(c) for c in header.columns]
        if len(cols) == 1:
            seen = [d for d in _OTHER_DELIMITERS if d != sep and d in cols[0]]
            if seen:
                guess = seen[0]
                raise DataValidationError(
                    f"{path}: read with sep={sep!r} the header is a single column {cols[0]!r}, "
                    f"which contains {guess!r}; the file looks {guess!r}-separated: pass "
                    f"sep={guess!r} (crm-ml: --sep {guess!r}) (rule 'delimiter')", column=cols[0],
                    rule="delimiter")
        try:
            full, _ = resolve(kind, cols, mapping)
        except DataValidationError as exc:
            raise _in_file(path, exc) from None
        id_types = {s.name for s in specs if s.type == "id"}
        dtype = {src: str for canon, src in full.items()
                 if canon in id_types and isinstance(src, str)}
        dtype.update(read_options.pop("dtype", {}) or {})
        try:
            df = pd.read_csv(path, sep=sep, encoding=encoding, dtype=dtype, **read_options)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not {encoding} text ({exc}); pass encoding='latin-1' "
                             "(or the file's encoding; crm-ml: --encoding latin-1)") from None
    if len(df) == 0:
        raise _empty_file(path, f"the file has a header {[str(c) for c in df.columns]} but no "
                                "data rows")
    try:
        return standardize(df, kind, columns=mapping, **{k: v for k, v in options.items()
                                                         if k in _STANDARDIZE_OPTIONS})
    except DataValidationError as exc:
        raise _in_file(path, exc) from None


def _in_file(path: Path, exc: DataValidationError) -> DataValidationError:
    """``exc`` with the file path in front of its message, so it names the input."""
    return DataValidationError(f"{path}: {exc}", column=exc.column, rule=exc.rule,
                               rows=exc.rows)


_STANDARDIZE_OPTIONS = frozenset(
    {"as_of", "drop_returns", "drop_zero_amounts", "drop_duplicates", "return_report"})


def read_transactions(path, **options):
    """``read_table(path, "transactions", **options)``."""
    return read_table(path, "transactions", **options)


def read_customers(path, **options):
    """``read_table(path, "customers", **options)``."""
    return read_table(path, "customers", **options)


def read_interactions(path, **options):
    """``read_table(path, "interactions", **options)``."""
    return read_table(path, "interactions", **options)
