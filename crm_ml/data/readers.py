"""Read CSV, Parquet and Excel files straight into canonical frames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from crm_ml.data._sniff import check_content
from crm_ml.data.columns import check_kind, resolve
from crm_ml.data.standardize import standardize
from crm_ml.errors import DataValidationError

_PARQUET = (".parquet", ".pq")
_EXCEL = (".xlsx", ".xlsm")
#: Spreadsheet formats crm_ml does not read: suffix -> what to do.
_OTHER_SPREADSHEETS = {".xlsb": "Excel binary workbook (.xlsb)",
                       ".ods": "OpenDocument spreadsheet (.ods)",
                       ".numbers": "Numbers spreadsheet (.numbers)"}
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
    for ext in _EXCEL:
        if name.endswith(ext):
            return "xlsx", None, ""
    if name.endswith(".xls"):
        return "xls", None, ""
    for ext, what in _OTHER_SPREADSHEETS.items():
        if name.endswith(ext):
            raise ValueError(f"{path}: a {what} is not read by crm_ml; save the sheet as .xlsx "
                             "(Excel Workbook) or CSV UTF-8")
    for comp in _COMPRESSION:
        for ext in _CSV:
            if name.endswith(ext + comp):
                return "csv", ",", comp
        for ext in _TSV:
            if name.endswith(ext + comp):
                return "csv", "\t", comp
    raise ValueError(
        f"{path}: unsupported file type; crm_ml reads .csv/.tsv/.txt (optionally .gz/.bz2/.zip/"
        ".xz/.zst compressed), .parquet/.pq and Excel .xlsx/.xlsm")


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
               encoding: str = "utf-8", read_options: dict | None = None,
               sheet: str | None = None, **options):
    """Read a CSV, Parquet or Excel file (chosen by suffix) and :func:`standardize` it.

    Parameters
    ----------
    path : str or Path
        ``.csv``/``.txt`` (comma), ``.tsv``/``.tab`` (tab), optionally compressed
        (``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``), ``.parquet``/``.pq``, or an Excel
        workbook ``.xlsx``/``.xlsm`` (one sheet: see ``sheet``).
    kind : {"transactions", "customers", "interactions", "contacts"}
        Canonical layout to produce.
    sheet : str, optional
        Excel only: the name of the worksheet to read (default: the first visible one).
        The sheet must be a plain table: column names on row 1, one row per record, no
        merged cells, formulas with saved values (open and save the file in Excel if a
        program wrote it). Numbers, Excel dates, dates typed as text and text cells are all
        read; identifier columns are read as text (a number cell ``123`` becomes ``"123"``;
        a text cell ``"00123"`` keeps its zeros). ``sep``, ``encoding`` and
        ``read_options`` do not apply to workbooks and are ignored for them.
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
        index + 2; Excel row number = index + 2), so error messages point at the rows in the
        file. For a workbook, ``df.attrs["sheet"]`` names the sheet that was read.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    crm_ml.DataValidationError
        Empty file, header only, wrong delimiter, a header naming a column twice, a file whose
        bytes are not what its name says (gzip, Parquet, Excel or other binary data named
        ``.csv``; text named ``.parquet``, ``.gz`` or ``.xlsx``), or any standardize error
        (the message starts with the file path). Excel: a password-protected workbook, a
        legacy ``.xls``, a missing sheet (the message lists the sheets), an empty sheet, a
        header that is not on row 1, merged cells, formulas without saved values.
    ValueError
        An unsupported suffix (``.xlsb``, ``.ods`` ...: save as .xlsx or CSV), or ``sheet``
        given for a file that is not a workbook.
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
    if sheet is not None and fmt not in ("xlsx", "xls"):
        raise ValueError(f"{path}: sheet={sheet!r} applies to Excel workbooks (.xlsx), and "
                         "this file is not one")
    check_content(path, fmt, compression, encoding)
    read_options = dict(read_options or {})
    mapping = {**dict(options.pop("columns", None) or {}),
               **{k: v for k, v in options.items() if k not in _STANDARDIZE_OPTIONS}}
    title = names = None
    if fmt in ("xlsx", "xls"):  # an .xls that is really an .xlsx was refused by check_content
        df, title, names = _read_excel(path, kind, specs, mapping, sheet)
    elif fmt == "parquet":
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
        out = standardize(df, kind, columns=mapping, **{k: v for k, v in options.items()
                                                        if k in _STANDARDIZE_OPTIONS})
    except DataValidationError as exc:
        raise _in_file(path, exc, title, names) from None
    if title is not None:
        (out[0] if isinstance(out, tuple) else out).attrs["sheet"] = title
    return out


def _read_excel(path: Path, kind: str, specs, mapping: dict, sheet: str | None):
    """(raw frame, sheet read, every sheet name) of a workbook; see :mod:`crm_ml.data._xlsx`."""
    from crm_ml.data._xlsx import read_sheet

    id_types = {s.name for s in specs if s.type == "id"}

    def id_columns(names: list[str]) -> set[str]:
        try:
            full, _ = resolve(kind, names, mapping)
        except DataValidationError:
            return set()
        return {src for canon, src in full.items() if canon in id_types and isinstance(src, str)}

    df, title, names = read_sheet(path, kind, mapping, sheet=sheet, id_columns=id_columns)
    try:
        resolve(kind, [str(c) for c in df.columns], mapping)
    except DataValidationError as exc:
        raise _in_file(path, exc, title, names) from None
    return df, title, names


def _in_file(path: Path, exc: DataValidationError, sheet: str | None = None,
             sheets: list[str] | None = None) -> DataValidationError:
    """``exc`` with the file path (and sheet) in front of its message, so it names the input.

    When a workbook has other sheets, a missing-column error says which sheet was read and
    how to choose another.
    """
    where = f"{path}" if sheet is None else f"{path} (sheet {sheet!r})"
    hint = ""
    if sheets and len(sheets) > 1 and exc.rule in ("required column", "required columns"):
        hint = (f"; read sheet {sheet!r} of {sheets}: choose another with sheet= "
                "(crm-ml: --sheet NAME)")
    return DataValidationError(f"{where}: {exc}{hint}", column=exc.column, rule=exc.rule,
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


def read_contacts(path, **options):
    """``read_table(path, "contacts", **options)``: campaign contacts (``customer_id,
    campaign_id, timestamp, treated``; optional ``channel, cost, opened, clicked``)."""
    return read_table(path, "contacts", **options)
