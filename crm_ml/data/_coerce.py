"""Vectorised coercion of raw columns to canonical dtypes.

Each function returns ``(values, parse_failed)`` where ``parse_failed`` is a boolean numpy array
(or ``None``) marking non-null input values that could not be converted; those become nulls in
``values`` and are reported by the validator as parse failures with their original values.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

_INT_SAFE = 2.0**63  # integral floats below this convert exactly to int64


def _float_ids(values: np.ndarray) -> np.ndarray:
    """Float ids as strings: integral floats without '.0' (12346.0 -> '12346')."""
    out = np.full(values.shape, np.nan, dtype=object)
    ok = ~np.isnan(values)
    v = values[ok]
    integral = (np.floor(v) == v) & (np.abs(v) < _INT_SAFE)
    strs = np.empty(v.shape, dtype=object)
    strs[integral] = _int_strings(v[integral].astype(np.int64))
    strs[~integral] = v[~integral].astype(str).astype(object)
    out[ok] = strs
    return out


def _int_strings(v: np.ndarray) -> np.ndarray:
    """int64 -> object array of decimal strings (pyarrow's cast is ~4x faster than numpy's)."""
    import pyarrow as pa

    return pa.array(v, type=pa.int64()).cast(pa.string()).to_numpy(zero_copy_only=False)


def _strip(values: np.ndarray) -> np.ndarray:
    """Strip surrounding whitespace from an object array of str (untouched if none has any)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(values, type=pa.string(), from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(arr)
    if pc.all(pc.equal(arr, trimmed)).as_py() is not False:
        return values
    return pd.Series(values, dtype=object).str.strip().to_numpy(dtype=object)


def _one_id(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return np.nan
    if isinstance(v, float | np.floating):
        f = float(v)
        if np.isfinite(f) and f == int(f) and abs(f) < _INT_SAFE:
            return str(int(f))
        return str(f)
    if isinstance(v, bytes):
        return v.decode("utf-8", errors="replace").strip()
    return str(v).strip()


def _unique_ids(u: pd.Index) -> tuple[np.ndarray, bool]:
    """String form of the distinct id values (few compared with the rows).

    Returns (strings, whether they are certainly distinct).
    """
    if ptypes.is_bool_dtype(u.dtype):
        return u.astype(str).to_numpy(dtype=object), False
    if ptypes.is_float_dtype(u.dtype):
        # distinct floats give distinct strings (factorize already merged -0.0 and 0.0)
        return _float_ids(u.to_numpy(dtype="float64", na_value=np.nan)), True
    if ptypes.is_integer_dtype(u.dtype):
        if u.dtype.kind == "u" and len(u) and u.max() > np.iinfo(np.int64).max:
            return u.astype(str).to_numpy(dtype=object), True
        return _int_strings(u.to_numpy(dtype="int64")), True
    if pd.api.types.infer_dtype(u, skipna=True) == "string":
        values = u.to_numpy(dtype=object)
        stripped = _strip(values)
        return stripped, stripped is values
    # mixed python objects (ints, floats, strings...): element by element over distinct values
    return np.array([_one_id(v) for v in u], dtype=object), False


def to_id(s: pd.Series) -> tuple[pd.Categorical, None]:
    """Ids to stripped python strings, returned as a Categorical over the distinct strings.

    Works on the distinct values (``pd.factorize``) and maps back, so 10M rows with 1M
    customers convert 1M values; nulls are code -1. :func:`to_object` gives the final
    object-dtype column.
    """
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    if not isinstance(uniques, pd.Index):
        uniques = pd.Index(uniques)
    strs, distinct = _unique_ids(uniques)
    if not distinct:
        # distinct inputs can give the same string (1 and "1", " a" and "a"): factorize again
        codes2, strs = pd.factorize(pd.Index(strs, dtype=object), use_na_sentinel=True)
        codes = np.append(codes2, -1)[codes]
    return _categorical(codes, pd.Index(strs, dtype=object)), None


def _categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """Categorical from codes and categories known to be distinct, without re-hashing them."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = fast(categories, False) if fast is not None else pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def to_object(values, keep: np.ndarray | None = None) -> np.ndarray:
    """Final column values, rows ``keep`` only (Categorical ids -> object strings, NaN null)."""
    if isinstance(values, pd.Categorical):
        lookup = np.append(values.categories.to_numpy(dtype=object), np.nan).astype(object)
        codes = values.codes if keep is None else values.codes[keep]
        return lookup[codes]
    return values if keep is None else values[keep]


def to_label(s: pd.Series) -> tuple[np.ndarray, None]:
    """Labels (region, channel...) to strings; nulls stay NaN."""
    if pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        return s.to_numpy(dtype=object, na_value=np.nan), None
    return to_id(s)


def to_kind(s: pd.Series) -> tuple[pd.Categorical, None]:
    """Interaction kinds: lower-case, stripped strings (as a Categorical, see :func:`to_id`)."""
    cat, _ = to_id(s)
    low = pd.Index(cat.categories.to_numpy(dtype=object), dtype=object).str.lower()
    codes2, cats = pd.factorize(low)
    codes = np.append(codes2, -1)[cat.codes]
    return _categorical(codes, pd.Index(cats, dtype=object)), None


# day/month/year written with numbers only, e.g. 31/12/2024, 05.01.24, 1-2-2024 10:00
_NUMERIC_DATE = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b"


def to_datetime(s: pd.Series) -> tuple[np.ndarray, np.ndarray | None, str | None]:
    """Timestamps to naive datetime64[ns]; timezone-aware values converted to UTC first.

    Returns (values, parse_failed, hint).
    """
    dt = s.dtype
    if isinstance(dt, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC").dt.tz_localize(None)
        return out.to_numpy(dtype="datetime64[ns]"), None, None
    if ptypes.is_datetime64_dtype(dt):
        return s.to_numpy(dtype="datetime64[ns]"), None, None
    notna = s.notna().to_numpy()
    if ptypes.is_numeric_dtype(dt) or ptypes.is_bool_dtype(dt):
        out = np.full(len(s), np.datetime64("NaT"), dtype="datetime64[ns]")
        return out, notna, ("numbers are not read as timestamps; convert epoch values with "
                            "pd.to_datetime(values, unit='s') first")
    with warnings.catch_warnings():
        # pandas warns when the first value fixes no format; such values are retried below
        # and any still unreadable are reported row by row
        warnings.filterwarnings("ignore", message="Could not infer format", category=UserWarning)
        parsed = pd.to_datetime(s, errors="coerce", utc=True)
    failed = parsed.isna().to_numpy() & notna
    hint = None
    if failed.any():
        order = _numeric_date_order(s[notna])
        numeric = (s.astype("string").str.match(_NUMERIC_DATE).fillna(False).to_numpy()
                   if order else None)
        if order == "both":
            # some dates can only be day-first and others only month-first: refuse, don't mix
            failed = notna & numeric
            hint = ("the column writes dates both day-first (e.g. 31/12/2024) and month-first "
                    "(e.g. 12/31/2024); parse it yourself with pd.to_datetime first")
        else:
            dayfirst = order == "day-first"
            if dayfirst:  # a day above 12 settles it: read every numeric date day-first
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Could not infer format",
                                            category=UserWarning)
                    parsed = parsed.copy()
                    parsed[numeric] = pd.to_datetime(s[numeric], errors="coerce", utc=True,
                                                     dayfirst=True)
                failed = parsed.isna().to_numpy() & notna
            if failed.any():
                # values in a different format than the first one: retry those one by one
                retry = pd.to_datetime(s[failed], errors="coerce", utc=True, format="mixed",
                                       dayfirst=dayfirst)
                parsed = parsed.copy()
                parsed[failed] = retry
                failed = parsed.isna().to_numpy() & notna
    out = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return out, (failed if failed.any() else None), hint


def _numeric_date_order(values: pd.Series) -> str | None:
    """``"day-first"`` when some numeric date has a first number above 12 (and none a second
    one above 12), ``"month-first"`` for the reverse, ``"both"`` when both occur, else None.

    Only called when some values failed the format pandas inferred from the first one, so
    clean columns never pay for this scan.
    """
    parts = values.astype("string").str.extract(_NUMERIC_DATE)
    if parts[0].isna().all():
        return None
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[1], errors="coerce")
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        return "both"
    return "day-first" if day_first else "month-first" if month_first else None


def to_float(s: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Numbers to float64; non-numeric values become NaN and are flagged."""
    if ptypes.is_bool_dtype(s.dtype) and not ptypes.is_object_dtype(s.dtype):
        return s.to_numpy(dtype="float64"), None
    if ptypes.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype="float64", na_value=np.nan), None
    num = pd.to_numeric(s, errors="coerce")
    vals = num.to_numpy(dtype="float64", na_value=np.nan)
    failed = np.isnan(vals) & s.notna().to_numpy()
    if failed.any():
        # literal "nan"/"inf" strings are numbers too (to_numeric reads "inf" but not all spellings)
        txt = s[failed].astype(str).str.strip().str.lower()
        special = txt.isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]).to_numpy()
        idx = np.flatnonzero(failed)[special]
        vals[idx] = pd.to_numeric(txt[special].str.replace("infinity", "inf"),
                                  errors="coerce").to_numpy(dtype="float64")
        failed[idx] = False
    return vals, (failed if failed.any() else None)


def to_number(s: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Numbers: integers stay int64 when there are no nulls, otherwise float64."""
    if ptypes.is_integer_dtype(s.dtype) and not s.isna().any():
        return s.to_numpy(dtype="int64"), None
    return to_float(s)
