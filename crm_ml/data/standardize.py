"""standardize(): rename, coerce and validate raw CRM frames into the canonical form."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from crm_ml._logging import get_logger
from crm_ml.data import _coerce
from crm_ml.data._validate import validate
from crm_ml.data.columns import KNOWN_INTERACTION_KINDS, check_kind, describe_source, resolve
from crm_ml.data.quality import ATTRS_KEY, DataPolicyWarning, DataQualityReport
from crm_ml.data.windows import as_of_day, history_end
from crm_ml.errors import DataValidationError

log = get_logger("data")


def standardize(df: pd.DataFrame, kind: str = "transactions", *, as_of=None,
                drop_returns: bool = False, drop_zero_amounts: bool = False,
                drop_duplicates: bool = False, columns: Mapping | None = None,
                return_report: bool = False, **column_names):
    """Rename, coerce and validate a raw frame into crm_ml's canonical form.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw data. Never modified.
    kind : {"transactions", "customers", "interactions", "contacts"}
        Which canonical layout to produce (see DESIGN.md "Data contract"). ``contacts`` are
        campaign contacts: ``customer_id, campaign_id, timestamp, treated`` (1 sent, 0
        held-out control), optional ``channel, cost, opened, clicked``.
    as_of : date-like, optional
        When given, any ``timestamp`` (``signup_date`` for customers) after the as_of *day*
        is an error (see :mod:`crm_ml.data.windows`).
    drop_returns : bool, default False
        Transactions only: drop rows with a negative amount (returns).
    drop_zero_amounts : bool, default False
        Transactions only: drop rows whose amount is exactly 0.
    drop_duplicates : bool, default False
        Drop exact duplicate rows (all columns equal after standardization), keeping the first.
        Without an order id two identical purchases on one day are usually two purchases, so
        they are kept by default; either way the report counts them
        (``report.exact_duplicates``).
    columns : mapping, optional
        Column map ``{canonical: your column}`` (e.g. :data:`ONLINE_RETAIL` or
        :func:`load_column_map`). Keyword arguments override its entries. Needed for the
        interactions ``kind`` column, whose name clashes with the ``kind`` parameter:
        ``columns={"kind": "Type"}``.
    return_report : bool, default False
        Also return the :class:`DataQualityReport`.
    **column_names
        ``canonical=your_column``, e.g. ``customer_id="CustomerID", timestamp="InvoiceDate",
        amount="Sales"``. ``amount=("Quantity", "UnitPrice")`` makes the amount the product of
        those columns. Canonical columns you do not map are taken from a column with the same
        name, or from the single column whose name matches ignoring case and punctuation
        (``CustomerID`` -> ``customer_id``).

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, DataQualityReport)
        A new frame: canonical columns first (ids as ``str``, timestamps ``datetime64[ns]``
        naive UTC, amounts ``float64``), then every other input column unchanged. The input
        index is kept. ``result.attrs["data_quality"]`` holds ``report.to_dict()``.

    Raises
    ------
    crm_ml.DataValidationError
        Missing required column, two columns that both name one canonical column (same
        name up to case/spaces, and the column not mapped explicitly), empty frame,
        null/empty ids, unparseable timestamps, non-numeric or NaN/inf amounts, amounts
        beyond +-1e12 (``crm_ml.data._validate.MAX_ABS_AMOUNT``), timestamps after
        ``as_of``, satisfaction outside 1..5, negative resolution hours or more than 1e6,
        duplicate customer ids (customers); for contacts: ``treated``/``opened``/``clicked``
        not 0 or 1 (``treated`` also not missing), negative, NaN or infinite ``cost``, a
        customer twice in one campaign. The message names the column, the rule and up to
        five offending rows (label and value).

    Warns
    -----
    DataPolicyWarning
        When a row policy dropped rows; the counts are also in the report.

    Notes
    -----
    Policies run in this order: returns, zero amounts, duplicates; each count is the rows that
    policy removed, so ``rows_in == rows_out + sum(dropped.values())``.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"standardize expects a pandas DataFrame, got {type(df).__name__}")
    specs = check_kind(kind)
    if kind != "transactions" and (drop_returns or drop_zero_amounts):
        raise ValueError("drop_returns and drop_zero_amounts apply to transactions only")
    mapping = {**(dict(columns) if columns is not None else {}), **column_names}
    full, notes = resolve(kind, df.columns, mapping)
    n = len(df)
    if n == 0:
        raise DataValidationError(
            f"{kind}: the frame has no rows (rule 'non-empty frame'); columns: "
            f"{[str(c) for c in df.columns]}", column=None, rule="non-empty frame", rows=[])
    as_of_ts = as_of_day(as_of) if as_of is not None else None

    data: dict[str, np.ndarray] = {}
    raw: dict[str, pd.Series | pd.DataFrame] = {}
    parse_failed: dict[str, np.ndarray] = {}
    hints: dict[str, str] = {}
    sources = {c: describe_source(s) for c, s in full.items()}
    for spec in specs:
        if spec.name not in full:
            continue
        src = full[spec.name]
        if isinstance(src, tuple):  # derived amount: product of the source columns
            parts = df.loc[:, list(src)]
            raw[spec.name] = parts
            prod = np.ones(n, dtype="float64")
            failed = np.zeros(n, dtype=bool)
            for c in src:
                v, f = _coerce.to_float(df[c])
                prod *= v
                if f is not None:
                    failed |= f
            data[spec.name] = prod
            if failed.any():
                parse_failed[spec.name] = failed
            continue
        s = df[src]
        raw[spec.name] = s
        t = spec.type
        if t == "id":
            values, failed = _coerce.to_id(s)
        elif t == "label":
            values, failed = _coerce.to_label(s)
        elif t == "kind":
            values, failed = _coerce.to_kind(s)
        elif t == "datetime":
            values, failed, hint = _coerce.to_datetime(s)
            if hint:
                hints[spec.name] = hint
        elif t in ("amount", "score", "hours", "flag", "cost"):
            values, failed = _coerce.to_float(s)
        elif t == "number":
            values, failed = _coerce.to_number(s)
        else:  # "any": left as it is
            values, failed = s.to_numpy(copy=True), None
        data[spec.name] = values
        if failed is not None:
            parse_failed[spec.name] = failed

    frame = pd.DataFrame(data, copy=False)
    end = None
    if as_of_ts is not None:
        end = history_end(as_of_ts)
        if kind == "customers" and "signup_date" not in frame:
            end = None
    validate(frame, kind, specs, history_end=end, as_of=as_of_ts, raw=raw,
             parse_failed=parse_failed, sources=sources, labels=df.index, hints=hints)
    if kind == "contacts":
        _check_contact_pairs(data, df.index, sources)
        data["treated"] = data["treated"].astype("int64")

    notes.extend(_observations(data, kind, drop_returns, drop_zero_amounts))
    keep, dropped = _row_policies(data, drop_returns, drop_zero_amounts)

    # the result, built once from column arrays (no block consolidation copies)
    out: dict = {}
    for name, values in data.items():
        out[name] = _coerce.to_object(values, keep)
    consumed = {s for s in full.values() if not isinstance(s, tuple)}
    for c in df.columns:  # extra columns, kept under their own names after the canonical ones
        if c not in consumed and c not in out:
            arr = df[c].array
            out[c] = arr.copy() if keep is None else arr[keep]
    index = df.index if keep is None else df.index[keep]
    frame = pd.DataFrame(out, index=index.copy(), copy=False)
    # Exact duplicates are counted whether or not they are dropped, so a report always says
    # how many there were. A customer table cannot have any (a repeated id is an error).
    n_dup = None
    if kind != "customers":
        dup = _duplicated_rows(frame, data, keep)
        n_dup = int(dup.sum())
        if drop_duplicates:
            dropped["duplicates"] = n_dup
            if n_dup:
                frame = frame.loc[~dup]
        elif n_dup:
            notes.append(f"{n_dup:,} exact duplicate row(s) (equal in every column to an "
                         "earlier row) were kept; drop_duplicates=True drops them")
    elif drop_duplicates:
        dropped["duplicates"] = 0

    report = DataQualityReport(kind=kind, rows_in=n, rows_out=len(frame), dropped=dropped,
                               columns=sources, notes=notes, exact_duplicates=n_dup)
    if report.n_dropped:
        warnings.warn(f"standardize: {report.summary()}", DataPolicyWarning, stacklevel=2)
    log.debug("standardize %s", report.summary())
    frame.attrs = {ATTRS_KEY: report.to_dict()}
    return (frame, report) if return_report else frame


def _check_contact_pairs(data: dict, labels: pd.Index, sources: Mapping) -> None:
    """A customer appears at most once per campaign (a second row would count twice)."""
    key = pd.DataFrame({"c": np.asarray(data["customer_id"]),
                        "k": np.asarray(data["campaign_id"])})
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        pos = np.flatnonzero(dup)
        shown = [f"row {labels[p]!r}: customer_id={key['c'].iat[p]!r}, "
                 f"campaign_id={key['k'].iat[p]!r}" for p in pos[:5]]
        where = "contacts.customer_id" + (
            f" (your column {sources['customer_id']!r})"
            if sources.get("customer_id", "customer_id") != "customer_id" else "")
        raise DataValidationError(
            f"{where}: {len(pos):,} rows break rule 'one row per customer and campaign' (a "
            "customer is contacted (or held out) at most once per campaign; drop the repeated "
            f"rows or give the campaigns distinct ids). Offending rows: {'; '.join(shown)}",
            column="customer_id", rule="one row per customer and campaign",
            rows=[labels[p] for p in pos])


def _duplicated_rows(frame: pd.DataFrame, data: dict, keep: np.ndarray | None) -> np.ndarray:
    """Rows equal to an earlier row in every column (``DataFrame.duplicated(keep="first")``).

    Id columns are compared by their category codes (one code per distinct string), which
    is several times faster than hashing millions of Python strings again.
    """
    key = {}
    for name in frame.columns:
        values = data.get(name)
        if isinstance(values, pd.Categorical):
            key[name] = values.codes if keep is None else values.codes[keep]
        else:
            key[name] = frame[name].to_numpy()
    key = pd.DataFrame(key, copy=False)
    # Exact duplicates are rare and counted on every call: hash each row first (about 3x
    # faster than duplicated() on 10M rows) and compare exactly only the rows whose hash
    # repeats. Equal rows have equal hashes once floats are normalised (-0.0 == 0.0 and every
    # NaN equal, as duplicated() treats them), so no duplicate is missed.
    hashed = pd.DataFrame({c: np.where(np.isnan(v), np.nan, v + 0.0)
                           if isinstance(v.dtype, np.dtype) and v.dtype.kind == "f"
                           else v for c, v in key.items()}, copy=False)
    candidate = pd.Series(pd.util.hash_pandas_object(hashed, index=False).to_numpy()) \
        .duplicated(keep=False).to_numpy()
    dup = np.zeros(len(key), dtype=bool)
    if candidate.any():
        dup[candidate] = key.loc[candidate].duplicated(keep="first").to_numpy()
    return dup


def _observations(data: dict, kind: str, drop_returns: bool,
                  drop_zero_amounts: bool) -> list[str]:
    notes = []
    if kind == "transactions":
        amount = data["amount"]
        n_neg = int((amount < 0).sum())
        if n_neg and not drop_returns:
            notes.append(f"{n_neg:,} row(s) have a negative amount (returns) and were kept; "
                         "drop_returns=True drops them")
        n_zero = int((amount == 0).sum())
        if n_zero and not drop_zero_amounts:
            notes.append(f"{n_zero:,} row(s) have a zero amount and were kept; "
                         "drop_zero_amounts=True drops them")
    if kind == "interactions":
        counts = pd.Series(data["kind"]).value_counts()
        unknown = [k for k in counts.index if counts[k] and k not in KNOWN_INTERACTION_KINDS]
        if unknown:
            shown = ", ".join(f"{k!r} ({counts[k]:,})" for k in unknown[:10])
            notes.append(f"interaction kinds outside {sorted(KNOWN_INTERACTION_KINDS)} were "
                         f"kept: {shown}")
    return notes


def _row_policies(data: dict, drop_returns: bool,
                  drop_zero_amounts: bool) -> tuple[np.ndarray | None, dict[str, int]]:
    """Rows kept by the amount policies (None = all) and the count each policy dropped."""
    dropped: dict[str, int] = {}
    keep = None
    if drop_returns:
        keep = data["amount"] >= 0
        dropped["returns"] = int((~keep).sum())
    if drop_zero_amounts:
        nz = data["amount"] != 0
        before = keep if keep is not None else np.ones(len(nz), dtype=bool)
        dropped["zero_amounts"] = int((before & ~nz).sum())
        keep = before & nz
    if keep is not None and keep.all():
        keep = None
    return keep, dropped
