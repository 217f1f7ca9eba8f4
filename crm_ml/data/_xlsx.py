"""Read one sheet of an Excel workbook (``.xlsx``/``.xlsm``) into a raw frame of cell values.

One streaming pass over the sheet's XML (openpyxl's read-only parser, so memory stays small)
collects the cell values Excel saved, the merged ranges and the formula cells that have no
saved value. The sheet must be a plain table: the header on row 1, one name per column, no
merged cells, every formula with its value saved. Anything else is refused with a one-line
:class:`~crm_ml.errors.DataValidationError` that names the file, the sheet, the cells and
what to do in Excel.

Cell types are kept: numbers stay numbers, Excel dates become datetimes and text stays text
(dates typed as text are parsed later by :func:`crm_ml.data.standardize`, like CSV text).
The frame's index is the Excel row number minus 2, as for CSV (file line = index + 2), so
error messages that name rows point at the rows in the sheet.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from crm_ml.errors import DataValidationError

#: Rows searched for the real header when row 1 is not it (a title, a blank line ...).
HEADER_SEARCH_ROWS = 20
#: Cells listed in a message (the count says how many there are in all).
_SHOW = 5


def _error(path: Path, sheet: str | None, what: str, rule: str, column=None,
           rows=None) -> DataValidationError:
    where = f"{path}" + (f" (sheet {sheet!r})" if sheet is not None else "")
    return DataValidationError(f"{where}: {what} (rule {rule!r})", column=column, rule=rule,
                               rows=rows)


def _parser_class():
    """openpyxl's worksheet parser, extended to note formula cells without a saved value."""
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.uncached: list[str] = []

        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                self.uncached.append(element.get("r") or f"row {cell['row']}")
            return cell

    return Parser


def open_workbook(path: Path):
    """The workbook at ``path`` opened read-only with saved values (not formulas).

    Raises :class:`~crm_ml.errors.DataValidationError` (rule ``'readable file'``) for a file
    openpyxl cannot open (a damaged or truncated workbook).
    """
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            # styles, data validation and extension notices: about formatting, not data
            warnings.simplefilter("ignore", UserWarning)
            return load_workbook(path, read_only=True, data_only=True, keep_links=False)
    except Exception as exc:  # zipfile, XML and openpyxl raise many types for a broken file
        msg = " ".join(str(exc).split())[:200]
        raise _error(path, None, f"cannot read as an Excel workbook ({type(exc).__name__}: "
                     f"{msg}); open it in Excel and save it again as .xlsx, or save the sheet "
                     "as CSV UTF-8", "readable file") from None


def sheet_names(path) -> list[str]:
    """The names of the worksheets (not chart sheets) of the workbook at ``path``."""
    wb = open_workbook(Path(path))
    try:
        return [ws.title for ws in wb.worksheets]
    finally:
        wb.close()


def _pick_sheet(path: Path, wb, sheet: str | None):
    tables = wb.worksheets
    names = [ws.title for ws in tables]
    if sheet is None:
        visible = [ws for ws in tables if getattr(ws, "sheet_state", "visible") == "visible"]
        if not visible:
            raise _error(path, None, f"the workbook has no visible worksheet (sheets: "
                         f"{wb.sheetnames})", "sheet exists")
        return visible[0], names
    if not isinstance(sheet, str):
        raise TypeError(f"sheet: a sheet name (str), got {type(sheet).__name__}")
    for ws in tables:
        if ws.title == sheet:
            return ws, names
    if sheet in wb.sheetnames:
        raise _error(path, sheet, f"is a chart sheet, not a table; the worksheets are "
                     f"{names}", "sheet exists")
    near = [n for n in names if n.strip().lower() == sheet.strip().lower()]
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise _error(path, None, f"no sheet named {sheet!r}; the workbook's sheets are "
                 f"{names}{hint} (crm-ml: --sheet NAME)", "sheet exists")


def _scan(ws):
    """(rows, merged ranges, uncached formula cells) of a read-only worksheet, one pass.

    ``rows`` is a list of ``(excel_row_number, [values by column from A])``; rows without a
    value are left out.
    """
    wb = ws.parent
    Parser = _parser_class()
    with ws._get_source() as src:
        parser = Parser(src, wb.shared_strings, data_only=True, epoch=wb.epoch,
                        date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        rows = []
        for number, cells in parser.parse():
            values = {c["column"]: c["value"] for c in cells if c["value"] is not None
                      and not (isinstance(c["value"], str) and c["value"].strip() == "")}
            if values:
                width = max(values)
                rows.append((number, [values.get(i) for i in range(1, width + 1)]))
        merged = [str(m.ref) for m in (parser.merged_cells.mergeCell
                                       if parser.merged_cells is not None else [])]
    return rows, merged, parser.uncached


def _header_names(values: list) -> list[str]:
    return ["" if v is None else str(v).strip() for v in values]


def _looks_like_header(values: list, kind: str, mapping: dict) -> bool:
    from crm_ml.data.columns import resolve

    names = _header_names(values)
    if len([n for n in names if n]) < 2 or len(set(names) - {""}) != len([n for n in names
                                                                          if n]):
        return False
    try:
        resolve(kind, [n for n in names if n], mapping)
    except DataValidationError:
        return False
    return True


def read_sheet(path: Path, kind: str, mapping: dict, sheet: str | None = None,
               id_columns=()) -> tuple[pd.DataFrame, str, list[str]]:
    """Read one worksheet of ``path`` as a raw table (before :func:`standardize`).

    Parameters
    ----------
    path : Path
        An existing ``.xlsx``/``.xlsm`` workbook (its content already checked).
    kind : str
        The canonical layout wanted (used to recognise a header that is not on row 1).
    mapping : dict
        The user's column map (canonical name -> source column).
    sheet : str, optional
        The worksheet's name; default the first visible worksheet.
    id_columns : callable
        ``id_columns(header_names) -> set`` of source columns holding identifiers: their
        cells are read as text (``123`` -> ``"123"``; ``"00123"`` keeps its zeros).

    Returns
    -------
    (pandas.DataFrame, str, list of str)
        The raw table, the sheet read and the names of every worksheet.

    Raises
    ------
    crm_ml.DataValidationError
        A missing sheet (the message lists the sheets), an empty sheet, a header that is not on
        row 1, merged cells, an empty or repeated header name, a column with values but no
        header, formulas without a saved value.
    """
    wb = open_workbook(path)
    try:
        ws, names = _pick_sheet(path, wb, sheet)
        title = ws.title
        try:
            rows, merged, uncached = _scan(ws)
        except DataValidationError:
            raise
        except Exception as exc:  # damaged sheet XML
            raise _error(path, title, f"cannot read the sheet ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:200]}); open it in Excel and save it "
                         "again", "readable file") from None
    finally:
        wb.close()
    if not rows:
        others = [n for n in names if n != title]
        hint = f"; the workbook's other sheets: {others} (crm-ml: --sheet NAME)" if others \
            else ""
        raise _error(path, title, f"the sheet is empty{hint}", "non-empty file", rows=[])
    first_number, first = rows[0]
    if first_number != 1 or not _looks_like_header(first, kind, mapping):
        found = next((n for n, values in rows[:HEADER_SEARCH_ROWS]
                      if n != 1 and _looks_like_header(values, kind, mapping)), None)
        if found is not None:
            raise _error(path, title, f"the header must be on row 1, but it is on row {found} "
                         f"(rows above it: {found - 1}): delete the rows above the header "
                         "(titles, notes, blank lines) and save", "header on row 1",
                         rows=[found])
        if first_number != 1:
            raise _error(path, title, f"row 1 is empty; the first filled row is "
                         f"{first_number}: the header (column names) must be on row 1",
                         "header on row 1", rows=[first_number])
    header_merges = [m for m in merged if _rows_of(m)[0] <= 1]
    if header_merges:
        raise _error(path, title, f"the header row has merged cells {header_merges[:_SHOW]}: "
                     "unmerge them (Home > Merge & Center > Unmerge Cells) and give every "
                     "column its own name on row 1", "no merged header cells")
    if merged:
        raise _error(path, title, f"{len(merged)} merged cell range(s) in the data, e.g. "
                     f"{merged[:_SHOW]}: only the first cell of a merged range holds a value; "
                     "unmerge them and fill every cell", "no merged cells",
                     rows=[_rows_of(m)[0] for m in merged[:_SHOW]])
    if uncached:
        raise _error(path, title, f"{len(uncached)} formula cell(s) without a saved value, "
                     f"e.g. {uncached[:_SHOW]} (the file was written by a program that does "
                     "not calculate formulas): open the workbook in Excel (or LibreOffice) and "
                     "save it, so the values are stored, or paste the cells as values",
                     "formulas have saved values")
    header = _header_names(first)
    width = max(len(values) for _, values in rows)
    header += [""] * (width - len(header))
    data = [(n, values + [None] * (width - len(values))) for n, values in rows[1:]]
    unnamed = [i for i, name in enumerate(header) if not name]
    filled = [i for i in unnamed if any(values[i] is not None for _, values in data)]
    if filled:
        from openpyxl.utils import get_column_letter

        letters = [get_column_letter(i + 1) for i in filled]
        raise _error(path, title, f"column(s) {letters[:_SHOW]} have values but no name on "
                     "row 1: give them a header, or delete them", "named columns",
                     column=letters[0])
    keep = [i for i, name in enumerate(header) if name]
    seen = [header[i] for i in keep]
    repeated = sorted({n for n in seen if seen.count(n) > 1})
    if repeated:
        raise _error(path, title, f"the header names column(s) {repeated} more than once; "
                     "rename or delete the repeated column(s)", "unique column names",
                     column=repeated[0])
    if not data:
        raise _error(path, title, f"the sheet has a header {seen} but no data rows",
                     "non-empty file", rows=[])
    ids = set(id_columns(seen))
    columns = {}
    for i in keep:
        cells = [values[i] for _, values in data]
        if header[i] in ids:
            cells = [_as_text(v) for v in cells]
        columns[header[i]] = pd.Series(cells, dtype=object)
    df = pd.DataFrame(columns)
    df.index = pd.Index([n - 2 for n, _ in data])
    for name in df.columns:  # let pandas type plain number and date columns
        if name not in ids:
            df[name] = _infer(df[name])
    return df, title, names


def _rows_of(ref: str) -> tuple[int, int]:
    from openpyxl.utils.cell import range_boundaries

    _, min_row, _, max_row = range_boundaries(ref)
    return min_row, max_row


def _as_text(value):
    """An identifier cell as text: Excel stores ``123`` as the number 123.0."""
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat") and not isinstance(value, str):
        return value.isoformat()
    return str(value)


def _infer(values: pd.Series) -> pd.Series:
    """Numbers -> float/int, Excel dates -> datetime64, anything mixed stays object (text and
    mixed columns are coerced, and refused with the rows, by ``standardize``)."""
    present = values.dropna()
    if present.empty:
        return values
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.to_numeric(values)
    import datetime as dt

    if all(isinstance(v, dt.datetime) for v in present):
        return pd.to_datetime(values)
    return values
