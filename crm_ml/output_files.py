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
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt")

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
    if path.suffix.lower() not in PARQUET_SUFFIXES + CSV_SUFFIXES:
        raise ValueError(f"{path}: output must end in .parquet or .csv, e.g. "
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
    """Write ``df`` to ``path``'s temporary file (CSV or Parquet by ``path``'s suffix) and
    return it; :func:`os.replace` it onto ``path`` to publish it.

    CSV text that a spreadsheet would run as a formula is neutralised
    (:func:`neutralise_formulas`); the same frame always gives the same bytes.
    """
    path = check_output_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temp_path(path)
    try:
        if path.suffix.lower() in PARQUET_SUFFIXES:
            df.to_parquet(tmp, index=index, engine="pyarrow", compression="zstd")
        else:
            neutralise_formulas(df).to_csv(tmp, index=index, float_format="%.10g",
                                           lineterminator="\n")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(df: pd.DataFrame, path, index: bool = True) -> None:
    """Write CSV or Parquet (by suffix) to a temporary file, then rename it into place.

    A crash never leaves a half-written table, and the same frame gives the same bytes.
    CSV cells that a spreadsheet would run as a formula are neutralised (see the module).
    """
    tmp = write_temporary(df, path, index=index)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
