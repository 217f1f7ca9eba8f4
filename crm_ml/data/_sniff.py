"""What a file really is, from its first bytes (magic numbers), whatever its name says.

A gzip, Parquet or Excel file saved as ``tx.csv`` would otherwise be read as text and fail
with an encoding error or a garbage header; :func:`check_content` names what the file is and
how to make it readable instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from crm_ml.errors import DataValidationError

#: Bytes read to recognise a file (magic numbers sit at the start; NUL bytes in the first
#: kilobyte mean binary data rather than text).
SNIFF_BYTES = 1024

#: Compressed formats pandas decompresses by suffix: suffix -> (magic bytes, name).
COMPRESSED = {
    ".gz": (b"\x1f\x8b", "gzip"),
    ".bz2": (b"BZh", "bzip2"),
    ".xz": (b"\xfd7zXZ\x00", "xz"),
    ".zst": (b"\x28\xb5\x2f\xfd", "zstandard"),
    ".zip": (b"PK\x03\x04", "zip"),
}
PARQUET_MAGIC = b"PAR1"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 (.xls) and other Office files
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def _refuse(path: Path, what: str, fix: str) -> DataValidationError:
    return DataValidationError(f"{path} is {what}, not CSV text: {fix} "
                               "(rule 'file content matches its name')", column=None,
                               rule="file content matches its name")


def _zip_kind(path: Path) -> str:
    """``"xlsx"`` for an Excel workbook, ``"ods"`` for a spreadsheet, else ``"zip"``."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return "zip"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    return "zip"


def _binary_kind(path: Path, head: bytes) -> tuple[str, str] | None:
    """(what the file is, how to fix it) for a non-text file, None for text."""
    stem = path.name
    if head.startswith(PARQUET_MAGIC):
        return "a Parquet file", f"name it {Path(stem).stem}.parquet"
    if head.startswith(_OLE2):
        return ("an Excel 97-2003 workbook (.xls)",
                "save the sheet as CSV UTF-8 (or Parquet) and pass that file")
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(path)
        if kind == "xlsx":
            return ("an Excel workbook (.xlsx)",
                    "save the sheet as CSV UTF-8 (or Parquet) and pass that file")
        if kind == "ods":
            return ("an OpenDocument spreadsheet (.ods)",
                    "save the sheet as CSV UTF-8 (or Parquet) and pass that file")
        return ("a zip archive", f"name it {stem}.zip (a zip holding one CSV file is read "
                                 "directly) or extract it")
    for suffix, (magic, name) in COMPRESSED.items():
        if suffix != ".zip" and head.startswith(magic):
            return (f"a {name}-compressed file",
                    f"name it {stem}{suffix} (it is then decompressed while reading) or "
                    "decompress it")
    return None


def check_content(path: Path, fmt: str, compression: str, encoding: str) -> None:
    """Refuse a file whose bytes do not match what its name promises.

    Parameters
    ----------
    path : Path
        An existing, non-empty file.
    fmt : {"csv", "parquet"}
        The format its suffix names.
    compression : str
        Its compression suffix (``""``, ``".gz"``, ``".bz2"``, ``".zip"``, ``".xz"``,
        ``".zst"``).
    encoding : str
        The text encoding the caller will read a CSV file with.

    Raises
    ------
    crm_ml.DataValidationError
        Rule ``'file content matches its name'``: the message says what the file is and what
        to do (rename it, decompress it, export it as CSV, or pass its encoding).
    """
    head = _head(path)
    if fmt == "parquet":
        if not head.startswith(PARQUET_MAGIC):
            found = _binary_kind(path, head)
            what = found[0] if found else "text" if b"\x00" not in head else "binary data"
            raise DataValidationError(
                f"{path} is {what}, not a Parquet file (Parquet files start with "
                f"'PAR1'): name it after its real type (.csv for CSV text) or export it as "
                "Parquet (rule 'file content matches its name')", column=None,
                rule="file content matches its name")
        return
    if compression:
        magic, name = COMPRESSED[compression]
        if not head.startswith(magic):
            plain = Path(path.name).stem
            raise DataValidationError(
                f"{path} is named {compression} but is not {name}-compressed: "
                f"name it {plain} if it is plain CSV text (rule 'file content matches its "
                "name')", column=None, rule="file content matches its name")
        return
    found = _binary_kind(path, head)
    if found is not None:
        raise _refuse(path, *found)
    if head.startswith(_UTF16_BOMS) and not encoding.lower().replace("-", "").startswith(
            ("utf16", "utf32")):
        raise DataValidationError(
            f"{path} is UTF-16 text (it starts with a UTF-16 byte order mark): "
            "pass encoding='utf-16' (crm-ml: --encoding utf-16) or save it as UTF-8 "
            "(rule 'text encoding')", column=None, rule="text encoding")
    if b"\x00" in head and not encoding.lower().replace("-", "").startswith(("utf16", "utf32")):
        raise _refuse(path, "binary data (it has NUL bytes in its first kilobyte)",
                      "pass a CSV text file, or Parquet named .parquet")
