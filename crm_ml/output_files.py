"""Writing output tables safely: never over an input, never half a file, no spreadsheet formulas.

- :func:`refuse_overwriting_inputs` compares output and input paths by file identity
  (device and inode when both exist, the resolved path otherwise), so ``./x``, ``../dir/x``,
  ``//x``, a symlink or a hard link to an input are all recognised as that input.
- :func:`write_atomic` writes to a temporary ``.<name>.tmp-<pid>`` beside the target and
  renames it into place: a crash or a kill never leaves a half-written table. Temporaries of
  killed runs (their process is gone) are removed at the next write to the same file.
- CSV outputs neutralise text cells a spreadsheet would run as a formula (OWASP "CSV
  injection"): a text value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading single quote, unless it is a plain number such as ``-12.5``.
  Parquet keeps every value unchanged.
- Excel outputs (``.xlsx``, :func:`write_xlsx`) are one sheet with the types kept: numbers
  are numbers, dates are Excel dates, text is text, and identifier columns (``customer_id``
  and any ``*_id``) are text so leading zeros survive. Text cells are neutralised as in CSV
  and always written as text, never as formulas. A table with more rows than an Excel sheet
  holds (:data:`EXCEL_MAX_ROWS`, the header included) is refused with
  :class:`OutputTooLargeError` before anything is written; :func:`check_excel_rows` lets a
  caller refuse it before the work that makes the table.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from crm_ml.errors import CrmMlError

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")
XLSX_SUFFIXES = (".xlsx",)
#: Rows of one Excel worksheet, the header row included (Excel 2007 and later).
EXCEL_MAX_ROWS = 1_048_576
#: Columns of one Excel worksheet.
EXCEL_MAX_COLUMNS = 16_384
#: Characters one Excel cell holds.
EXCEL_MAX_CELL_CHARS = 32_767


class OutputTooLargeError(CrmMlError, ValueError):
    """A table does not fit the output format asked for (more rows than an Excel sheet
    holds ...); nothing was written. The message names the file and the format to use."""

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_TEMP = re.compile(r"\.(?P<name>.+)\.tmp-(?P<pid>\d+)")


# ------------------------------------------------------------------ outputs vs inputs
def _resolved(path) -> str:
    # realpath keeps a leading "//" (POSIX allows it a meaning); Linux treats it as "/"
    return "/" + os.path.realpath(path).lstrip("/")


def same_file(a, b) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (any spelling, symlink or hard link)."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:  # one does not exist (yet): compare where the paths lead
        return _resolved(a) == _resolved(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def refuse_overwriting_inputs(outputs: Mapping[str, object],
                              inputs: Mapping[str, object]) -> None:
    """Raise ``ValueError`` when an output path is one of the input files.

    Parameters
    ----------
    outputs, inputs : mapping
        ``label -> path`` (e.g. ``{"--output": "scores.csv"}``); ``None`` paths are skipped.
        Labels name the paths in the message.
    """
    for out_label, out in outputs.items():
        for in_label, src in inputs.items():
            if out is not None and src is not None and same_file(out, src):
                raise ValueError(
                    f"{out_label} {out} is the input file {in_label} {src}: writing it would "
                    "destroy the input; give an output path that is not an input file")


def inputs_inside(folder, inputs: Mapping[str, object]) -> list[tuple[str, object]]:
    """The ``(label, path)`` of each input that lies inside ``folder`` (at any depth)."""
    root = _resolved(folder).rstrip("/") + "/"
    return [(label, p) for label, p in inputs.items()
            if p is not None and _resolved(p).startswith(root)]


# ------------------------------------------------------------------ path checks
def check_output_path(path) -> Path:
    """``path`` if :func:`write_atomic` can write there, else a ``ValueError`` saying why.

    Cheap (no file is written): call it before the work whose result goes there. The message
    starts with the path and names the rule and the fix.
    """
    path = Path(path)
    if path.is_dir() or not path.name or path.name in (".", ".."):
        raise ValueError(f"{path}: is a folder; give the path of a file to write, e.g. "
                         f"{path / 'scores.csv'}")
    if path.suffix.lower() not in PARQUET_SUFFIXES + CSV_SUFFIXES + XLSX_SUFFIXES:
        raise ValueError(f"{path}: output must end in .parquet, .csv or .xlsx, e.g. "
                         f"{path.with_suffix('.csv')}")
    folder = _first_existing(path.parent)
    if not folder.is_dir():
        raise ValueError(f"{path}: cannot create the folder: {folder} is a file; give a path "
                         "in a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: no permission to write in {folder}; give a path in a "
                         "folder you can write to")
    return path


def _first_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (where a write would create folders)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_folder(path) -> Path:
    """``path`` if a folder can be created (or written) there, else a ``ValueError``."""
    path = Path(path)
    existing = _first_existing(path)
    if not existing.is_dir():
        raise ValueError(f"{path}: must be a folder, but {existing} is a file; give a folder "
                         "path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{path}: no permission to write in {existing}; give a folder you "
                         "can write to")
    return path


# ------------------------------------------------------------------ CSV injection
def _unsafe(value) -> bool:
    return isinstance(value, str) and (value.startswith(FORMULA_STARTS) or "\r" in value)


def _neutralise(value):
    if not _unsafe(value):
        return value
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        value = "'" + value
    # Python's csv module quotes a cell with "\n" but not one with a lone "\r", which
    # readers take for a line end: the rest of the cell would start a new row
    return value.replace("\r\n", "\n").replace("\r", "\n")


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell, index value and column name that a spreadsheet would
    run as a formula prefixed with a single quote (OWASP CSV injection guidance), and
    carriage returns inside text turned into line feeds (which the CSV writer quotes).

    Only text is touched: numbers, dates and text that is a plain number (``"-12.5"``) stay
    as they are. Returns ``df`` itself when nothing needs changing.
    """
    out = df
    for i in range(df.shape[1]):  # by position: column names may repeat
        if _has_formula(df.iloc[:, i]):
            out = out.copy() if out is df else out
            out.isetitem(i, _neutralised(df.iloc[:, i]))
    if isinstance(df.index, pd.MultiIndex):
        if any(_has_formula(level) for level in df.index.levels):
            out = out.copy() if out is df else out
            out.index = df.index.set_levels([_neutralised(level) for level in df.index.levels])
    elif _has_formula(df.index):
        out = out.copy() if out is df else out
        out.index = _neutralised(df.index)
    if any(isinstance(c, str) and _neutralise(c) != c for c in df.columns):
        out = out.rename(columns=_neutralise)
    return out


def _has_formula(values: pd.Series | pd.Index) -> bool:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.dtype.categories
    if not (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
        return False
    return any(_unsafe(v) for v in values)


def _neutralised(values: pd.Series | pd.Index):
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)  # renamed categories could collide
    return values.map(_neutralise)


# ------------------------------------------------------------------ atomic writes
def temp_path(path) -> Path:
    """The temporary file this process writes before renaming it to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(path) -> list[Path]:
    """Remove ``.<name>.tmp-<pid>`` files of ``path`` left by processes that no longer run.

    A temporary of a running process (another scoring run) is left alone. Returns the
    removed files.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for tmp in path.parent.glob(f".{glob_escape(path.name)}.tmp-*"):
        match = _TEMP.fullmatch(tmp.name)
        if match and match["name"] == path.name and not _alive(int(match["pid"])):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob wildcards escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_temporary(df: pd.DataFrame, path, index: bool = True) -> Path:
    """Write ``df`` to ``path``'s temporary file (CSV, Parquet or Excel by ``path``'s suffix)
    and return it; :func:`os.replace` it onto ``path`` to publish it.

    CSV and Excel text that a spreadsheet would run as a formula is neutralised
    (:func:`neutralise_formulas`); the same frame always gives the same bytes. A table too
    large for an Excel sheet raises :class:`OutputTooLargeError` before anything is written.
    """
    path = check_output_path(path)
    is_xlsx = path.suffix.lower() in XLSX_SUFFIXES
    if is_xlsx:
        check_excel_rows(len(df), path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temp_path(path)
    try:
        if is_xlsx:
            write_xlsx(df, tmp, index=index, sheet=sheet_title(path))
        elif path.suffix.lower() in PARQUET_SUFFIXES:
            df.to_parquet(tmp, index=index, engine="pyarrow", compression="zstd")
        else:
            neutralise_formulas(df).to_csv(tmp, index=index, float_format="%.10g",
                                           lineterminator="\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(df: pd.DataFrame, path, index: bool = True) -> None:
    """Write CSV, Parquet or Excel (by suffix) to a temporary file, then rename it into place.

    A crash never leaves a half-written table, and the same frame gives the same bytes.
    CSV cells that a spreadsheet would run as a formula are neutralised (see the module).
    """
    tmp = write_temporary(df, path, index=index)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------ Excel
def is_xlsx(path) -> bool:
    """Whether ``path`` names an Excel output (``.xlsx``)."""
    return path is not None and Path(path).suffix.lower() in XLSX_SUFFIXES


def check_excel_rows(n_rows: int, path, what: str = "the table") -> None:
    """Raise :class:`OutputTooLargeError` when ``n_rows`` data rows plus the header do not fit
    one Excel sheet (:data:`EXCEL_MAX_ROWS`) and ``path`` is an ``.xlsx`` file.

    Cheap: call it as soon as the row count is known, before the work that writes them.
    """
    if is_xlsx(path):
        _refuse_rows(n_rows, path, what)


def _refuse_rows(n_rows: int, path, what: str = "the table") -> None:
    limit = EXCEL_MAX_ROWS  # read at call time (tests lower it)
    if int(n_rows) + 1 > limit:
        raise OutputTooLargeError(
            f"{path}: {what} has {int(n_rows):,} rows, more than one Excel sheet holds "
            f"({limit:,} rows including the header); nothing was written: write "
            f"{Path(path).with_suffix('.parquet').name} (Parquet) instead, or .csv")


def sheet_title(path) -> str:
    """The worksheet name for the Excel file ``path``: its stem, cut to Excel's 31
    characters, without the characters Excel forbids in sheet names."""
    title = re.sub(r"[\\/*?:\[\]]", "_", Path(path).name.split(".tmp-")[0].lstrip("."))
    title = title[: -len(Path(title).suffix)] if Path(title).suffix else title
    return (title.strip("'") or "Sheet1")[:31]


#: Control characters XML (and so Excel) cannot store; written as U+FFFD.
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: Integers beyond this lose digits as Excel numbers (doubles): written as text.
_EXACT_INT = 2 ** 53
#: The fixed time written into every workbook, so the same table gives the same bytes.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def _is_id(name) -> bool:
    return isinstance(name, str) and (name == "customer_id" or name.endswith("_id"))


def _text(value: str, column, row: int) -> str:
    value = _ILLEGAL_XML.sub("\ufffd", value)
    if len(value) > EXCEL_MAX_CELL_CHARS:
        raise OutputTooLargeError(
            f"column {column!r}, row {row + 2}: {len(value):,} characters, more than an Excel "
            f"cell holds ({EXCEL_MAX_CELL_CHARS:,}); nothing was written: write .parquet or "
            ".csv instead")
    return value


def _cell_values(values: pd.Series, column) -> list:
    """Python values for one column's cells: None for missing, text, numbers, datetimes."""
    dtype = values.dtype
    if _is_id(column):
        return [None if _missing(v) else _text(_id_text(v), column, i)
                for i, v in enumerate(values)]
    if pd.api.types.is_bool_dtype(dtype):
        return [None if _missing(v) else bool(v) for v in values]
    if isinstance(dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)  # Excel has no time zones
        dtype = values.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        dates_only = bool((values.dropna() == values.dropna().dt.normalize()).all())
        return [None if pd.isna(v) else (v.date() if dates_only else v.to_pydatetime())
                for v in values]
    if pd.api.types.is_numeric_dtype(dtype):
        return [_number(v, column, i) for i, v in enumerate(values.tolist())]
    return [_any(v, column, i) for i, v in enumerate(values.astype(object).tolist())]


def _missing(value) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and other containers
        return False


def _id_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(value, column, row: int):
    if _missing(value):
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < _EXACT_INT else str(value)
    value = float(value)
    return value if math.isfinite(value) else _text(str(value), column, row)


def _any(value, column, row: int):
    """A cell of an object column, its type kept."""
    if _missing(value):
        return None
    if isinstance(value, str):
        return _text(value, column, row)
    if isinstance(value, (bool, int, float)) or hasattr(value, "dtype") and \
            pd.api.types.is_number(value):
        return _number(value.item() if hasattr(value, "item") else value, column, row)
    if isinstance(value, pd.Timestamp):
        value = value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value
        return value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, dt.date):
        return value
    return _text(_neutralise(str(value)), column, row)


def write_xlsx(df: pd.DataFrame, path, index: bool = True, sheet: str = "Sheet1") -> None:
    """Write ``df`` as a one-sheet Excel workbook at ``path`` (not atomically: see
    :func:`write_atomic`).

    Parameters
    ----------
    df : pandas.DataFrame
        The table; with ``index=True`` its index becomes the first column(s).
    path : str or Path
        The file to write.
    index : bool, default True
        Write the index as columns.
    sheet : str, default "Sheet1"
        The worksheet's name.

    Notes
    -----
    Row 1 holds the column names (frozen, so it stays visible when scrolling). Numbers stay
    numbers (integers beyond 2**53 and infinities are written as text so no digit is lost),
    datetimes are Excel dates (``yyyy-mm-dd`` when every value is a whole day; time zones are
    converted to UTC, as Excel has none), booleans are TRUE/FALSE, missing values are empty
    cells, and ``customer_id`` and ``*_id`` columns are text. Text is neutralised as in CSV
    (:func:`neutralise_formulas`), forced to be text (never a formula), its control
    characters Excel cannot store become U+FFFD. The workbook carries fixed timestamps, so
    the same table gives the same bytes.

    Raises
    ------
    OutputTooLargeError
        More rows or columns than a sheet holds, or a text longer than a cell holds.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    frame = neutralise_formulas(df.reset_index() if index else df)
    _refuse_rows(len(frame), path)
    if frame.shape[1] > EXCEL_MAX_COLUMNS:
        raise OutputTooLargeError(f"{path}: {frame.shape[1]:,} columns, more than an Excel "
                                  f"sheet holds ({EXCEL_MAX_COLUMNS:,}); nothing was written: "
                                  "write .parquet or .csv instead")
    names = [str(c) for c in frame.columns]
    columns = [_cell_values(frame.iloc[:, i], names[i]) for i in range(frame.shape[1])]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=sheet)
    ws.freeze_panes = "A2"

    def text_cell(value: str):
        cell = WriteOnlyCell(ws, value)
        cell.data_type = "s"  # text, even if it looks like a formula
        return cell

    ws.append([text_cell(_text(n, n, -1)) for n in names])
    for row in zip(*columns, strict=True) if columns else ():
        ws.append([text_cell(v) if isinstance(v, str) and v.startswith("=") else v
                   for v in row])
    buffer = io.BytesIO()
    wb.properties.creator = "crm_ml"
    wb.save(buffer)
    _write_reproducibly(buffer, Path(path))


def _write_reproducibly(buffer: io.BytesIO, path: Path) -> None:
    """Copy the workbook zip in ``buffer`` to ``path`` with fixed times in the zip entries and
    in the document properties, so the same table always gives the same bytes."""
    stamp = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
    buffer.seek(0)
    with zipfile.ZipFile(buffer) as src, \
            zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = stamp.sub(rb"\g<1>1980-01-01T00:00:00Z\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, data)
