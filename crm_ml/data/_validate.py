"""pandera schemas for canonical frames, and translation of pandera failures into
:class:`crm_ml.DataValidationError`.

All checks are vectorised (whole-column numpy/pandas operations), so validating 10M rows costs
a few column passes, never a Python call per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import pandas as pd

from crm_ml.data.columns import Spec
from crm_ml.errors import DataValidationError

MAX_ROWS_SHOWN = 5

#: Largest accepted magnitude of one transaction amount. Far above any real single sale
#: (a trillion units of any currency), yet low enough that per-customer sums, means and
#: squared deviations of millions of such amounts stay far inside float32 (models cast
#: features to float32, max 3.4e38) and amounts keep cent precision in float64 (the spacing
#: of float64 numbers near 1e12 is 1.2e-4). Corrupt values such as 1e308 would otherwise
#: overflow to infinity deep inside scikit-learn or LightGBM, without naming the column.
MAX_ABS_AMOUNT = 1e12
#: Largest accepted ``resolution_hours`` (about 114 years): longer is a corrupt value, and
#: per-customer means of such values overflow the same way.
MAX_RESOLUTION_HOURS = 1e6
AMOUNT_RULE = "magnitude at most 1e12"
HOURS_RULE = "at most 1,000,000 hours"
PARSE_RULES = ("parseable timestamp", "numeric")

# rule names (what users see) -> a short explanation appended to the message
RULE_HELP = {
    "not null": "every row needs a value",
    "non-empty": "values must not be empty strings",
    "unique": "each value may appear only once",
    "parseable timestamp": "values must be dates/times pandas can parse",
    "numeric": "values must be numbers",
    "finite": "values must be finite numbers (no NaN, inf or missing values)",
    "on or before as_of": "no timestamps after the as_of day are allowed",
    "between 1 and 5": "satisfaction scores run from 1 to 5",
    "0 or 1": "values must be 0 or 1 (1 = yes)",
    "one row per customer and campaign": ("a customer is contacted (or held out) at most "
                                          "once per campaign"),
    "non-negative": "values must be >= 0 and finite",
    AMOUNT_RULE: ("an amount beyond a trillion currency units is a corrupt or mis-scaled value; "
                  "fix or drop those rows, or convert the column to a larger unit "
                  "(e.g. thousands)"),
    HOURS_RULE: ("a resolution time beyond about 114 years is a corrupt value (minutes or "
                 "seconds read as hours?); fix or drop those rows"),
}


@lru_cache(maxsize=1)
def _pa():
    import pandera.pandas as pa  # imported on first use: pandera takes ~1 s to import

    return pa


def _finite(s: pd.Series) -> pd.Series:
    return pd.Series(np.isfinite(s.to_numpy(dtype="float64")), index=s.index)


def _non_empty(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):  # ids are validated as categoricals
        ok = np.append(s.cat.categories.to_numpy(dtype=object) != "", True)
        return pd.Series(ok[s.cat.codes.to_numpy()], index=s.index)
    return pd.Series(s.to_numpy(dtype=object) != "", index=s.index)


def _bounded(limit: float):
    """Check that passes |value| <= limit; non-finite values are left to the finite check."""

    def check(s: pd.Series) -> pd.Series:
        v = s.to_numpy(dtype="float64")
        return pd.Series(~np.isfinite(v) | (np.abs(v) <= limit), index=s.index)

    return check


def _non_negative(s: pd.Series) -> pd.Series:
    v = s.to_numpy(dtype="float64")
    return pd.Series((v >= 0) & np.isfinite(v), index=s.index)


def _between_1_5(s: pd.Series) -> pd.Series:
    v = s.to_numpy(dtype="float64")
    return pd.Series((v >= 1) & (v <= 5), index=s.index)


def _zero_one(s: pd.Series) -> pd.Series:
    v = s.to_numpy(dtype="float64")
    return pd.Series((v == 0) | (v == 1), index=s.index)


def check_amounts(amount: pd.Series, what: str = "transactions") -> None:
    """Refuse the amounts :func:`crm_ml.data.standardize` refuses, for frames that skipped it.

    An infinite amount breaks rule ``"finite"``, one beyond +-1e12 rule :data:`AMOUNT_RULE`
    (a corrupt value such as 1e308 would sum to an infinite revenue); the error names the
    column, the rule and the first rows (index labels). Missing values are left to the caller.
    """
    v = amount.to_numpy(dtype="float64", na_value=np.nan)
    for bad, rule, why in ((np.isinf(v), "finite", "are infinite"),
                           (np.abs(np.nan_to_num(v, posinf=0, neginf=0)) > MAX_ABS_AMOUNT,
                            AMOUNT_RULE, f"break rule '{AMOUNT_RULE}' (a corrupt or "
                                         "mis-scaled value)")):
        if bad.any():
            rows = amount.index[bad][:MAX_ROWS_SHOWN].tolist()
            raise DataValidationError(
                f"amount: {int(bad.sum()):,} row(s) of {what} {why}; first rows {rows}, "
                f"values {v[bad][:MAX_ROWS_SHOWN].tolist()}", column="amount", rule=rule,
                rows=rows)


def build_schema(kind: str, specs: tuple[Spec, ...], present: list[str], history_end=None,
                 parse_failed: Mapping | None = None):
    """The pandera DataFrameSchema of the canonical columns in ``present``.

    ``parse_failed`` maps a column to a boolean array (by row position) of input values that
    could not be converted; they fail a ``parseable timestamp`` / ``numeric`` check.
    """
    pa = _pa()
    cols = {}
    for spec in specs:
        if spec.name not in present:
            continue
        checks = []
        dtype = None
        if spec.type in ("id", "kind"):
            dtype = None  # categorical of strings while validating, object afterwards
            checks.append(pa.Check(_non_empty, name="non-empty"))
        elif spec.type == "label":
            dtype = None
        elif spec.type == "datetime":
            dtype = "datetime64[ns]"
            if history_end is not None:
                end = np.datetime64(pd.Timestamp(history_end).to_datetime64(), "ns")
                checks.append(pa.Check(
                    lambda s, end=end: pd.Series(s.to_numpy() < end, index=s.index),
                    name="on or before as_of"))
        elif spec.type == "amount":
            dtype = "float64"
            checks.append(pa.Check(_finite, name="finite"))
            checks.append(pa.Check(_bounded(MAX_ABS_AMOUNT), name=AMOUNT_RULE))
        elif spec.type == "score":
            dtype = "float64"
            checks.append(pa.Check(_between_1_5, name="between 1 and 5"))
        elif spec.type == "flag":
            dtype = "float64"
            checks.append(pa.Check(_zero_one, name="0 or 1"))
        elif spec.type == "cost":
            dtype = "float64"
            checks.append(pa.Check(_non_negative, name="non-negative"))
            checks.append(pa.Check(_bounded(MAX_ABS_AMOUNT), name=AMOUNT_RULE))
        elif spec.type == "hours":
            dtype = "float64"
            checks.append(pa.Check(_non_negative, name="non-negative"))
            checks.append(pa.Check(_bounded(MAX_RESOLUTION_HOURS), name=HOURS_RULE))
        pf = (parse_failed or {}).get(spec.name)
        if pf is not None:
            rule = PARSE_RULES[0] if spec.type == "datetime" else PARSE_RULES[1]
            checks.insert(0, pa.Check(
                lambda s, pf=pf: pd.Series(~pf[s.index.to_numpy()], index=s.index),
                name=rule, ignore_na=False))
        cols[spec.name] = pa.Column(dtype, checks=checks, nullable=spec.nullable,
                                    unique=spec.unique, required=True)
    return pa.DataFrameSchema(cols, name=kind, strict=False, ordered=False, coerce=False)


def validate(frame: pd.DataFrame, kind: str, specs, *, history_end=None, as_of=None,
             raw: Mapping[str, pd.Series | pd.DataFrame], parse_failed: Mapping,
             sources: Mapping[str, str], labels: pd.Index, hints: Mapping[str, str]) -> None:
    """Validate the coerced ``frame`` (RangeIndex) with pandera; raise DataValidationError.

    ``raw`` holds the original input values of each canonical column (shown in the message),
    ``parse_failed`` the rows whose values could not be converted, ``labels`` the row labels of
    the input frame (position -> label).
    """
    pa = _pa()
    schema = build_schema(kind, specs, list(frame.columns), history_end, parse_failed)
    try:
        schema.validate(frame, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as exc:
        groups = _group_failures(exc.failure_cases, parse_failed, specs)
        if not groups:  # pragma: no cover - pandera reported only non-column failures
            raise DataValidationError(f"{kind}: {exc}", rule="schema") from None
        raise _make_error(kind, groups, raw, sources, labels, hints, as_of) from None
    except pa.errors.SchemaError as exc:  # pragma: no cover - lazy=True collects instead
        raise DataValidationError(f"{kind}: {exc}", rule="schema") from None


def _rule_of(check: str) -> str:
    """pandera built-in check name -> the rule name users see."""
    if check == "not_nullable":
        return "not null"
    if check == "field_uniqueness":
        return "unique"
    return check


def _group_failures(fc: pd.DataFrame, parse_failed: Mapping, specs) -> list[tuple]:
    """[(column, rule, positions)] in canonical column order; parse failures split from nulls."""
    order = {s.name: i for i, s in enumerate(specs)}
    fc = fc[fc["schema_context"] == "Column"]
    groups = []
    for (column, check), part in fc.groupby(["column", "check"], sort=False):
        pos = part["index"].dropna().to_numpy(dtype="int64")
        pos = np.unique(pos)
        rule = _rule_of(str(check))
        spec = next((s for s in specs if s.name == column), None)
        pf = parse_failed.get(column)
        if rule == "not null" and pf is not None:
            pos = pos[~pf[pos]]  # reported by the parse check
        if rule == "not null" and spec is not None and spec.type == "amount":
            rule = "finite"  # a missing amount is a NaN amount
        if len(pos):
            groups.append((column, rule, pos, 0 if rule in PARSE_RULES else 1))
    # merge groups with the same (column, rule) (e.g. NaN from not_nullable + inf from finite)
    merged: dict[tuple, list] = {}
    for column, rule, pos, prio in groups:
        key = (column, rule)
        if key in merged:
            merged[key][0] = np.union1d(merged[key][0], pos)
        else:
            merged[key] = [pos, prio]
    ranked = sorted(merged.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[1][1]))
    return [(c, r, p) for (c, r), (p, _) in ranked]


def _show_value(v) -> str:
    if isinstance(v, pd.Series):
        return ", ".join(f"{k}={_show_value(x)}" for k, x in v.items())
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "<missing>" if v is None else "nan"
    if isinstance(v, np.generic):
        v = v.item()
    if v is pd.NaT:
        return "NaT"
    if isinstance(v, pd.Timestamp):
        return str(v)
    return repr(v)


def _make_error(kind, groups, raw, sources, labels, hints, as_of) -> DataValidationError:
    column, rule, pos = groups[0]
    shown = pos[:MAX_ROWS_SHOWN]
    src = sources.get(column, column)
    values = raw[column]
    rows = [labels[p] for p in shown]
    items = []
    for p, lab in zip(shown, rows, strict=True):
        v = values.iloc[p]
        items.append(f"row {lab!r}: {_show_value(v)}")
    where = f"{kind}.{column}" + (f" (your column {src!r})" if src != column else "")
    help_ = RULE_HELP.get(rule, "")
    if rule == "on or before as_of" and as_of is not None:
        help_ += f" (as_of={pd.Timestamp(as_of).date()})"
    if rule == "parseable timestamp" and hints.get(column):
        help_ += f"; {hints[column]}"
    n = len(pos)
    msg = (f"{where}: {n:,} row{'s' if n != 1 else ''} break{'s' if n == 1 else ''} rule "
           f"'{rule}' ({help_}). First {len(shown)} offending row{'s' if len(shown) != 1 else ''}"
           f" (row label: value): " + "; ".join(items))
    others = [f"{c} '{r}' ({len(p):,} rows)" for c, r, p in groups[1:]]
    if others:
        msg += ". Also failing: " + ", ".join(others)
    return DataValidationError(msg, column=column, rule=rule, rows=rows)
