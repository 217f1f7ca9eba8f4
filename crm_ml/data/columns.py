"""Canonical columns of each frame kind and how a user's columns map onto them.

A column map is ``{canonical name: your column}``. The value is a column name, or (for
``amount`` only) a tuple of column names whose *product* is the amount, e.g.
``amount=("Quantity", "UnitPrice")``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from crm_ml.errors import DataValidationError

KINDS = ("transactions", "customers", "interactions", "contacts")

#: Column types: how a column is coerced and checked.
#: id: string, no ".0" from float ids, stripped; datetime: datetime64[ns] naive UTC;
#: amount: float64, finite, |amount| <= 1e12; number: numeric (NaN allowed); label: string
#: (NaN allowed); kind: lower-case string; score: float 1..5 (NaN allowed); hours: float
#: 0..1e6 (NaN allowed); flag: float 0 or 1 (NaN allowed unless required; the required
#: ``treated`` becomes int64); cost: float, finite and >= 0;
#: any: left as it is.


@dataclass(frozen=True)
class Spec:
    """One canonical column."""

    name: str
    type: str
    required: bool = False
    unique: bool = False
    nullable: bool = True


SPECS: dict[str, tuple[Spec, ...]] = {
    "transactions": (
        Spec("customer_id", "id", required=True, nullable=False),
        Spec("timestamp", "datetime", required=True, nullable=False),
        Spec("amount", "amount", required=True, nullable=False),
        Spec("order_id", "id"),
        Spec("product_id", "id"),
        Spec("quantity", "number"),
        Spec("channel", "label"),
        Spec("region", "label"),
    ),
    "customers": (
        Spec("customer_id", "id", required=True, unique=True, nullable=False),
        Spec("signup_date", "datetime"),
        Spec("region", "label"),
        Spec("industry", "label"),
        Spec("channel", "label"),
        Spec("company_size", "any"),
    ),
    "interactions": (
        Spec("customer_id", "id", required=True, nullable=False),
        Spec("timestamp", "datetime", required=True, nullable=False),
        Spec("kind", "kind", required=True, nullable=False),
        Spec("satisfaction", "score"),
        Spec("resolution_hours", "hours"),
        Spec("channel", "label"),
    ),
    # campaign contacts: one row per (customer, campaign); treated 1 = sent, 0 = held-out
    # control; opened/clicked are known for treated rows only (NaN for control rows)
    "contacts": (
        Spec("customer_id", "id", required=True, nullable=False),
        Spec("campaign_id", "id", required=True, nullable=False),
        Spec("timestamp", "datetime", required=True, nullable=False),
        Spec("treated", "flag", required=True, nullable=False),
        Spec("channel", "label"),
        Spec("cost", "cost", nullable=False),
        Spec("opened", "flag"),
        Spec("clicked", "flag"),
    ),
}

#: Interaction kinds the library knows; others are kept and mentioned in the report notes.
KNOWN_INTERACTION_KINDS = frozenset(
    {"ticket", "complaint", "call", "email", "visit", "marketing"})

#: Column map for the UCI Online Retail layout
#: (InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country):
#: amount = Quantity x UnitPrice. Use as ``standardize(df, **ONLINE_RETAIL)``; cancelled
#: invoices ("C...") have negative quantities and come out as returns (negative amounts).
ONLINE_RETAIL: Mapping[str, str | tuple[str, ...]] = MappingProxyType({
    "customer_id": "CustomerID",
    "timestamp": "InvoiceDate",
    "amount": ("Quantity", "UnitPrice"),
    "order_id": "InvoiceNo",
    "product_id": "StockCode",
    "quantity": "Quantity",
    "region": "Country",
})


def check_kind(kind: str) -> tuple[Spec, ...]:
    """The column specs of ``kind`` (clear error for an unknown kind)."""
    if kind not in SPECS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return SPECS[kind]


def _norm(name) -> str:
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


def describe_source(source) -> str:
    """Human form of a mapping value: ``'Sales'`` or ``'Quantity x UnitPrice'``."""
    if isinstance(source, tuple):
        return " x ".join(str(s) for s in source)
    return str(source)


def normalise_map(kind: str, mapping: Mapping) -> dict[str, str | tuple[str, ...]]:
    """Check a user column map: canonical keys, string or tuple values."""
    specs = {s.name: s for s in check_kind(kind)}
    out: dict[str, str | tuple[str, ...]] = {}
    for canon, source in mapping.items():
        if source is None:
            continue
        if canon not in specs and kind != "customers":
            raise ValueError(
                f"{canon!r} is not a canonical {kind} column; known: {', '.join(specs)} "
                "(extra columns are kept under their own names without mapping)")
        if isinstance(source, list | tuple):
            source = tuple(source)
            if canon != "amount" or len(source) < 2:
                raise ValueError(
                    f"{canon}={source!r}: a tuple of columns is only allowed for amount "
                    "(their product), e.g. amount=('Quantity', 'UnitPrice')")
        elif not isinstance(source, str | int):
            raise TypeError(f"{canon}=: expected a column name, got {type(source).__name__}")
        out[canon] = source
    return out


def resolve(kind: str, columns, mapping: Mapping) -> tuple[dict, list[str]]:
    """Complete the map for a frame with ``columns``; returns (map, notes).

    A canonical column not in ``mapping`` is taken from a column of the same name, or else from
    the one column whose name matches ignoring case, spaces and punctuation
    (``CustomerID`` -> ``customer_id``). Missing required columns raise
    :class:`~crm_ml.DataValidationError` naming the columns that exist and the map used.
    """
    specs = check_kind(kind)
    mapping = normalise_map(kind, mapping)
    cols = list(columns)
    notes: list[str] = []
    dupes = sorted({str(c) for c in cols if cols.count(c) > 1}) if len(set(cols)) < len(cols) else []
    if dupes:
        raise DataValidationError(
            f"{kind}: column names must be unique; repeated: {dupes}", column=dupes[0],
            rule="unique column names")
    used = {c for src in mapping.values() for c in (src if isinstance(src, tuple) else (src,))}
    by_norm: dict[str, list] = {}
    for c in cols:
        by_norm.setdefault(_norm(c), []).append(c)
    full = dict(mapping)
    for spec in specs:
        if spec.name in full:
            continue
        _refuse_variants(kind, spec.name, cols, by_norm, used)
        if spec.name in cols:
            full[spec.name] = spec.name
            continue
        cands = [c for c in by_norm.get(_norm(spec.name), []) if c not in used]
        if len(cands) == 1:
            full[spec.name] = cands[0]
            notes.append(f"{spec.name} taken from column {cands[0]!r} (matched by name)")
    for canon, src in full.items():
        for c in (src if isinstance(src, tuple) else (src,)):
            if c not in cols:
                raise DataValidationError(
                    f"{kind}.{canon}: column {c!r} is not in the frame (rule 'required column'). "
                    f"Columns in the frame: {[str(x) for x in cols]}. "
                    f"Column map used: {_show_map(mapping)}",
                    column=canon, rule="required column")
    missing = [s.name for s in specs if s.required and s.name not in full]
    if missing:
        # names that are also standardize() parameters can only be mapped through columns=
        as_keyword = [m for m in missing if m not in ("kind", "as_of", "columns")]
        as_mapping = [m for m in missing if m not in as_keyword]
        hint = ", ".join([f"{m}='<your column>'" for m in as_keyword]
                         + ([f"columns={{{', '.join(repr(m) + ': ...' for m in as_mapping)}}}"]
                            if as_mapping else []))
        raise DataValidationError(
            f"{kind}: required column(s) {missing} not found (rule 'required column'). "
            f"Columns in the frame: {[str(x) for x in cols]}. "
            f"Column map used: {_show_map(mapping)}. Map yours with standardize(df, {hint})",
            column=missing[0], rule="required column")
    # an input column named like a canonical column that is filled from elsewhere would clash
    sources = {c for v in full.values() for c in (v if isinstance(v, tuple) else (v,))}
    for canon, src in full.items():
        if canon in cols and src != canon and canon not in sources:
            raise DataValidationError(
                f"{kind}.{canon}: the frame has a column {canon!r} but {canon} is mapped "
                f"to {describe_source(src)!r}; drop or rename one of them "
                "(rule 'no clashing column')", column=canon, rule="no clashing column")
    return full, notes


def _refuse_variants(kind: str, canon: str, cols: list, by_norm: dict, used: set) -> None:
    """Refuse two columns that both claim the unmapped canonical column ``canon``.

    ``amount`` next to ``Amount `` (the same name up to case and surrounding spaces), or two
    columns that both match by name when neither is called ``canon`` (``CustomerID`` and
    ``customer id``): taking one silently would read the wrong column half of the time.
    """
    cands = [c for c in by_norm.get(_norm(canon), []) if c not in used]
    if canon in cols:
        cands = [c for c in cands if str(c).strip().casefold() == canon]
    if len(cands) > 1:
        shown = [str(c) for c in cands]
        raise DataValidationError(
            f"{kind}.{canon}: columns {shown} all name {canon} (they differ only in case, "
            f"spaces or punctuation), so which one to read is ambiguous: drop or rename all "
            f"but one, or map it explicitly ({canon}='<your column>') "
            "(rule 'one column per canonical name')", column=canon,
            rule="one column per canonical name")


def _show_map(mapping: Mapping) -> str:
    if not mapping:
        return "{} (none given: canonical names expected)"
    return "{" + ", ".join(f"{k}={describe_source(v)!r}" for k, v in mapping.items()) + "}"


def load_column_map(path, kind: str = "transactions") -> dict[str, str | tuple[str, ...]]:
    """Read a column map from a TOML file.

    Parameters
    ----------
    path : str or Path
        TOML file with ``canonical = "theirs"`` lines at top level, e.g.::

            customer_id = "CustomerID"
            timestamp = "InvoiceDate"
            amount = ["Quantity", "UnitPrice"]   # product of the two columns

        or with one table per frame kind (``[transactions]``, ``[customers]``,
        ``[interactions]``, ``[contacts]``), in which case the table for ``kind`` is returned.
    kind : str, default "transactions"
        Which table to read from a file that has per-kind tables.

    Returns
    -------
    dict
        Usable as ``standardize(df, columns=load_column_map(path))``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"column map file not found: {path.resolve()}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not valid TOML ({exc})") from exc
    if any(isinstance(v, dict) for v in data.values()):
        check_kind(kind)
        tables = [k for k, v in data.items() if isinstance(v, dict)]
        data = data.get(kind, {})
        if not isinstance(data, dict):
            raise ValueError(f"{path}: [{kind}] must be a table; tables found: {tables}")
    out: dict[str, str | tuple[str, ...]] = {}
    for k, v in data.items():
        if isinstance(v, str):
            out[k] = v
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            out[k] = tuple(v)
        else:
            raise ValueError(
                f"{path}: {k} must be a column name or a list of column names, got {v!r}")
    return out
