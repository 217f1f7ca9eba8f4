"""What a file really is, from its first bytes (magic numbers), whatever its name says.

A gzip, Parquet or Excel file saved as ``tx.csv`` would otherwise be read as text and fail
with an encoding error or a garbage header; :func:`check_content` names what the file is and
how to make it readable instead. Files named ``.xlsx`` are checked too: a password-protected
workbook and a legacy ``.xls`` are OLE2 compound files, not zip archives, and
:func:`cfb_streams` tells them apart from their directory.
"""

from __future__ import annotations

import struct
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


def cfb_streams(path: Path) -> list[str]:
    """The stream and storage names in an OLE2 compound file (what ``.xls`` files and
    password-protected Office files are), read from its directory; ``[]`` if unreadable.

    A password-protected ``.xlsx`` is a compound file holding ``EncryptionInfo`` and
    ``EncryptedPackage`` streams; an Excel 97-2003 workbook holds a ``Workbook`` (or
    ``Book``) stream. Only the header, the FAT sectors it lists and the directory chain are
    read.
    """
    end = 0xFFFFFFFA  # sector numbers from here on are markers (end of chain, free ...)
    try:
        with open(path, "rb") as fh:
            header = fh.read(512)
            if len(header) < 512 or not header.startswith(_OLE2):
                return []
            size = 1 << struct.unpack_from("<H", header, 0x1E)[0]
            if size not in (512, 4096):
                return []
            n_fat, first_dir = struct.unpack_from("<I", header, 0x2C)[0], \
                struct.unpack_from("<I", header, 0x30)[0]

            def sector(number: int) -> bytes:
                fh.seek((number + 1) * size)
                return fh.read(size)

            fat: list[int] = []
            for number in struct.unpack_from("<109I", header, 0x4C)[:min(n_fat, 109)]:
                block = sector(number)
                fat.extend(struct.unpack(f"<{len(block) // 4}I", block[:len(block) // 4 * 4]))
            names, seen, number = [], set(), first_dir
            while number < end and number not in seen and len(seen) < 10_000:
                seen.add(number)
                block = sector(number)
                for off in range(0, len(block) - 127, 128):
                    entry = block[off:off + 128]
                    length = struct.unpack_from("<H", entry, 64)[0]
                    if entry[66] in (1, 2) and 2 <= length <= 64:  # storage or stream
                        names.append(entry[:length - 2].decode("utf-16-le", "replace"))
                number = fat[number] if number < len(fat) else end
            return names
    except (OSError, struct.error):
        return []


def ole2_kind(path: Path) -> tuple[str, str]:
    """(what an OLE2 compound file is, how to fix it) for a workbook Excel can open."""
    streams = cfb_streams(path)
    if "EncryptedPackage" in streams or "EncryptionInfo" in streams:
        return ("a password-protected (encrypted) Excel workbook",
                "open it in Excel, remove the password (File > Info > Protect Workbook > "
                "Encrypt with Password: clear it) and save it as .xlsx, or save the sheet as "
                "CSV UTF-8")
    if "Workbook" in streams or "Book" in streams:
        return ("an Excel 97-2003 workbook (.xls)",
                "open it in Excel and save it as .xlsx (Excel Workbook) or CSV UTF-8")
    return ("an OLE2 compound file (a legacy .xls workbook, a password-protected workbook or "
            "another Office document)",
            "open it in Excel and save it, without a password, as .xlsx or CSV UTF-8")


def _binary_kind(path: Path, head: bytes) -> tuple[str, str] | None:
    """(what the file is, how to fix it) for a non-text file, None for text."""
    stem = path.name
    if head.startswith(PARQUET_MAGIC):
        return "a Parquet file", f"name it {Path(stem).stem}.parquet"
    if head.startswith(_OLE2):
        return ole2_kind(path)
    if head.startswith(b"PK\x03\x04"):
        kind = _zip_kind(path)
        if kind == "xlsx":
            return ("an Excel workbook (.xlsx)", "save the sheet as CSV UTF-8, or name it "
                    f"{Path(stem).stem}.xlsx (crm_ml reads Excel workbooks)")
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
    fmt : {"csv", "parquet", "xlsx", "xls"}
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
        to do (rename it, decompress it, export it as CSV, or pass its encoding). A
        password-protected workbook and a legacy ``.xls`` are refused whatever their suffix.
    """
    head = _head(path)
    if fmt in ("xlsx", "xls"):
        _check_workbook(path, head, fmt)
        return
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


def _check_workbook(path: Path, head: bytes, fmt: str) -> None:
    """Refuse a file named ``.xlsx``/``.xlsm``/``.xls`` that is not an Office Open XML
    workbook crm_ml can read."""
    rule = "file content matches its name"
    if head.startswith(_OLE2):
        what, fix = ole2_kind(path)
        rule = "readable workbook" if "Excel" in what else rule
        raise DataValidationError(f"{path} is {what}: crm_ml reads .xlsx workbooks; {fix} "
                                  f"(rule {rule!r})", column=None, rule=rule)
    if head.startswith(b"PK\x03\x04") and _zip_kind(path) == "xlsx":
        if fmt == "xls":
            raise DataValidationError(
                f"{path} is an Excel workbook (.xlsx) named .xls: name it "
                f"{Path(path.name).stem}.xlsx (rule {rule!r})", column=None, rule=rule)
        return
    found = _binary_kind(path, head)
    if found is not None:
        what, fix = found
    elif b"\x00" in head and not head.startswith(_UTF16_BOMS):
        what, fix = "binary data", "pass an .xlsx workbook, CSV text or Parquet"
    else:
        text = head.lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n").lower()
        if text.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")):
            what = "an HTML or XML page (some programs export web tables named .xls)"
            fix = "open it in Excel and save it as .xlsx or CSV UTF-8"
        else:
            what = "text (CSV or similar), not an Excel workbook"
            fix = f"name it {Path(path.name).stem}.csv (or .tsv for tab-separated text)"
    raise DataValidationError(f"{path} is {what}: {fix} (rule {rule!r})", column=None,
                              rule=rule)
