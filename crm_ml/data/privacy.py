"""Keep personal data out of features and out of everything stored with a model.

Customer tables often carry contact data and free text next to useful attributes. Such
columns are no use to a model (one value per customer) and, once a model's preprocessing
stores its category levels, they would end up in MLflow. :func:`screen_columns` finds them:

by name
    a text column whose name says it holds contact data or free text: e-mail, phone,
    mobile, tel, fax, (first / last / full / sur)name, address, street, zip / postcode,
    IBAN, SSN, passport, IP address, URL / website, notes / comment / description / remarks.
    Numeric columns only by a phone / zip / IBAN / SSN-like name *and* whole numbers of four
    digits or more (so ``phone_calls_90d`` stays a feature).
by value (a sample of up to :data:`SAMPLE_SIZE` values)
    at least half of the values look like e-mail addresses, phone numbers or URLs, or the
    values are free text (a median of :data:`FREE_TEXT_WORDS` words or
    :data:`FREE_TEXT_CHARS` characters or more);
by cardinality
    near-unique: distinct values / non-missing values above :data:`NEAR_UNIQUE_SHARE`
    (judged from :data:`MIN_LEVEL_CUSTOMERS` non-missing values on); or more than
    :data:`MAX_LEVELS` distinct values.

Such columns are dropped with ONE :class:`PersonalDataWarning` naming each column and the
reason; ``allow_columns`` forces a column in (``crm_ml.features.build(...,
allow_columns=["region_code"])``, ``ChurnModel(allow_columns=...)``, ``crm-ml train
--allow-column region_code``).

Levels of the categorical columns that stay are limited by :func:`frequent_levels`: only levels
shared by at least :data:`MIN_LEVEL_CUSTOMERS` customers (k = 20) are ever stored with a model
(preprocessing spec, input examples, cards, reasons); every other level is the one
:data:`OTHER_LEVEL`, at training and at scoring alike.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["PersonalDataWarning", "screen_columns", "identifier_reason", "frequent_levels",
           "looks_like_contact", "warn_dropped", "MIN_LEVEL_CUSTOMERS", "NEAR_UNIQUE_SHARE",
           "MAX_LEVELS", "OTHER_LEVEL"]

#: k: a category level is stored with a model only when at least this many customers share it.
MIN_LEVEL_CUSTOMERS = 20
#: Distinct values per non-missing value above which a text column counts as an identifier.
NEAR_UNIQUE_SHARE = 0.5
#: A text column with more distinct values than this is an identifier or free text.
MAX_LEVELS = 1000
#: Values read per column for the value patterns.
SAMPLE_SIZE = 1000
#: Share of the sampled values that must match a pattern (e-mail, phone, URL).
PATTERN_SHARE = 0.5
#: Free text: median words per value at or above this ...
FREE_TEXT_WORDS = 6
#: ... or median characters per value at or above this.
FREE_TEXT_CHARS = 50
#: The level that stands for every level shared by fewer than k customers (and unseen ones).
OTHER_LEVEL = "__other__"


class PersonalDataWarning(UserWarning):
    """Columns were dropped because they look like personal identifiers or free text."""


# Name tokens (after splitting on non-letters and camelCase) that mark a text column.
_TEXT_NAME_TOKENS = {
    "email": "e-mail address", "mail": "e-mail address", "emails": "e-mail address",
    "phone": "phone number", "mobile": "phone number", "tel": "phone number",
    "telephone": "phone number", "fax": "phone number", "cell": "phone number",
    "firstname": "person name", "lastname": "person name", "fullname": "person name",
    "surname": "person name", "username": "person name", "nickname": "person name",
    "address": "postal address", "street": "postal address",
    "zip": "postcode", "zipcode": "postcode", "postcode": "postcode", "postal": "postcode",
    "iban": "bank account", "ssn": "national id", "passport": "national id",
    "ip": "IP address", "url": "URL", "website": "URL", "homepage": "URL",
    "notes": "free text", "note": "free text", "comment": "free text",
    "comments": "free text", "description": "free text", "remarks": "free text",
    "remark": "free text", "memo": "free text", "freetext": "free text",
}
# "name" marks a person's name alone or with one of these words (not "product_name").
_NAME_QUALIFIERS = {"first", "last", "full", "given", "middle", "sur", "family", "customer",
                    "contact", "person", "user", "display", "maiden", "nick", "client"}
_NUMERIC_NAME_TOKENS = {"phone", "mobile", "tel", "telephone", "fax", "cell", "zip", "zipcode",
                        "postcode", "postal", "iban", "ssn", "passport"}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[\d\s().\-/]{7,}$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
# dates and decimal amounts written as text are not phone numbers
_NOT_PHONE = re.compile(r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d+\.\d{1,2})$")


def _is_phone(sample: pd.Series) -> pd.Series:
    return (sample.str.match(_PHONE) & ~sample.str.match(_NOT_PHONE)
            & (sample.str.count(r"\d") >= 7))


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def _name_reason(name: str, numeric: bool) -> str | None:
    """What the column name says it holds, or None."""
    tokens = _tokens(name)
    if numeric:
        hit = next((t for t in tokens if t in _NUMERIC_NAME_TOKENS), None)
        return None if hit is None else _TEXT_NAME_TOKENS[hit]
    joined = "".join(tokens)
    if joined in ("email", "freetext", "ipaddress"):
        return _TEXT_NAME_TOKENS[joined if joined != "ipaddress" else "ip"]
    for t in tokens:
        if t in _TEXT_NAME_TOKENS:
            return _TEXT_NAME_TOKENS[t]
    if "name" in tokens and (tokens == ["name"] or _NAME_QUALIFIERS & set(tokens)):
        return "person name"
    return None


def _value_reason(values: pd.Series) -> str | None:
    """What the (sampled, non-missing) text values look like, or None."""
    sample = values.astype(str).str.strip()
    sample = sample[sample != ""]
    if sample.empty:
        return None
    for pattern, what in ((_EMAIL, "e-mail addresses"), (_URL, "URLs")):
        if sample.str.match(pattern).mean() >= PATTERN_SHARE:
            return f"values look like {what}"
    if _is_phone(sample).mean() >= PATTERN_SHARE:
        return "values look like phone numbers"
    words = sample.str.split().str.len()
    if words.median() >= FREE_TEXT_WORDS or sample.str.len().median() >= FREE_TEXT_CHARS:
        return f"free text (typically {int(words.median())} words)"
    return None


def identifier_reason(s: pd.Series, name: str | None = None) -> str | None:
    """Why column ``s`` looks like a personal identifier or free text, or None.

    Parameters
    ----------
    s : Series
        The column (any dtype; datetime and boolean columns are never identifiers here).
    name : str, optional
        Column name (default ``s.name``).

    Returns
    -------
    str or None
        A short reason, e.g. ``"values look like e-mail addresses"``.
    """
    name = str(s.name if name is None else name)
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_datetime64_any_dtype(s) \
            or pd.api.types.is_timedelta64_dtype(s):
        return None
    if pd.api.types.is_numeric_dtype(s):
        what = _name_reason(name, numeric=True)
        if what is None:
            return None
        v = s.to_numpy(dtype=float, na_value=np.nan)
        v = v[np.isfinite(v)]
        if len(v) and np.all(v == np.round(v)) and np.median(np.abs(v)) >= 1000:
            return f"column name and whole numbers suggest a {what}"
        return None
    what = _name_reason(name, numeric=False)
    if what:
        return f"column name suggests {what}"
    present = s.dropna()
    if present.empty:
        return None
    sample = present.sample(SAMPLE_SIZE, random_state=0) if len(present) > SAMPLE_SIZE \
        else present
    why = _value_reason(sample)
    if why:
        return why
    n_levels = present.astype(str).nunique()
    if n_levels > MAX_LEVELS:
        return f"high cardinality ({n_levels:,} distinct values)"
    if len(present) >= MIN_LEVEL_CUSTOMERS and n_levels > NEAR_UNIQUE_SHARE * len(present):
        return (f"near-unique ({n_levels:,} distinct values for {len(present):,} "
                "customers)")
    return None


def screen_columns(df: pd.DataFrame, allow_columns: Iterable[str] | None = None,
                   ) -> dict[str, str]:
    """Columns of ``df`` that look like personal identifiers or free text, with the reason.

    Parameters
    ----------
    df : DataFrame
    allow_columns : iterable of str, optional
        Columns never reported (the user vouches for them).

    Returns
    -------
    dict
        ``{column: reason}`` in column order; empty when nothing looks personal.
    """
    allowed = {str(c) for c in (allow_columns or ())}
    found = {}
    for col in df.columns:
        if str(col) in allowed:
            continue
        why = identifier_reason(df[col], str(col))
        if why:
            found[str(col)] = why
    return found


def warn_dropped(dropped: dict[str, str], where: str, how_to_allow: str,
                 stacklevel: int = 3) -> None:
    """Emit the one :class:`PersonalDataWarning` for ``dropped`` (nothing when empty).

    Parameters
    ----------
    dropped : dict
        ``{column: reason}`` from :func:`screen_columns`.
    where : str
        The input, e.g. ``"customers"``.
    how_to_allow : str
        The parameter that forces a column in, with ``{cols}`` for the column list, e.g.
        ``"build(..., allow_columns={cols})"``.
    """
    if not dropped:
        return
    listed = "; ".join(f"{c!r} ({why})" for c, why in dropped.items())
    example = how_to_allow.format(cols=repr([next(iter(dropped))]))
    warnings.warn(
        f"{where}: dropped {len(dropped)} column(s) that look like personal identifiers or "
        f"free text; they are not used as features and not stored with any model: {listed}. "
        f"To use one anyway, pass {example}.", PersonalDataWarning, stacklevel=stacklevel)


def frequent_levels(s: pd.Series, k: int = MIN_LEVEL_CUSTOMERS,
                    max_levels: int | None = None) -> list[str]:
    """Levels (as strings) of ``s`` shared by at least ``k`` rows, most frequent first.

    Parameters
    ----------
    s : Series
        One value per customer.
    k : int, default :data:`MIN_LEVEL_CUSTOMERS`
    max_levels : int, optional
        Keep at most this many.
    """
    counts = s.dropna().astype(str).value_counts()
    keep = counts.index[counts.to_numpy() >= k]
    return keep[:max_levels].tolist() if max_levels is not None else keep.tolist()


def looks_like_contact(value) -> bool:
    """True when one value looks like an e-mail address, a phone number or a URL."""
    if not isinstance(value, str):
        return False
    v = value.strip()
    return bool(_EMAIL.match(v) or _URL.match(v) or _is_phone(pd.Series([v])).iloc[0])
