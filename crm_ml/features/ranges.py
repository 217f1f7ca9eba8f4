"""Training ranges of a model's numeric inputs, and the check that refuses impossible values.

Every registered crm_ml model stores, next to its fitted state, the range of each numeric
input it was trained on (``input_ranges.json``: per field the minimum, the maximum and whether
it is a duration or count that cannot be negative). Before scoring, :meth:`InputRanges.check`
applies three rules to each numeric field, in this order:

1. **finite**: ``inf``, ``-inf`` and numbers beyond :data:`LARGEST` (about 3.4e38, the
   largest float32, where scikit-learn's trees turn a number into ``inf``) are refused.
   Missing values (None / NaN) are not judged here: they pass where the model accepts them.
2. **non-negative**: a duration or count (``recency_days``, ``n_orders``, CLV's
   ``frequency`` / ``recency`` / ``T`` ...) cannot be negative. A stored feature counts as one
   only when no training value was negative.
3. **training range**: a value must lie in
   ``[min - t * width, max + t * width]`` where ``min`` and ``max`` are the training
   extremes, ``width = max - min`` (``max(|max|, 1)`` when every training value was the
   same) and ``t`` is the tolerance (:data:`DEFAULT_TOLERANCE` = 1, i.e. up to one training
   range beyond either end). Trees and fitted curves only extrapolate flatly or wildly
   past what they saw, so such a score is not one to act on.

Rules 1 and 2 describe values that cannot occur and always refuse. Rule 3 follows ``mode``:
``"refuse"`` (the default for the predict functions) raises, ``"warn"`` scores and emits an
:class:`InputRangeWarning`, ``"off"`` skips it. A model logged before ranges were stored has
no ``input_ranges.json``: then rules 1 and 2 apply (durations and counts known by name) and
rule 3 is skipped.

Privacy: ranges are aggregates, but the minimum or maximum of a feature is one customer's
exact value (e.g. the largest spend). Only numeric fields are stored, never text or
identifiers, in line with the rule that MLflow holds no customer rows.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError

__all__ = ["DEFAULT_TOLERANCE", "LARGEST", "MODES", "RANGES_FILE", "InputRangeWarning",
           "InputRanges", "check_inputs", "is_never_negative", "load_input_ranges"]

#: File name of the ranges artifact stored with each model.
RANGES_FILE = "input_ranges.json"
#: How many training-range widths a value may lie beyond the training extremes.
DEFAULT_TOLERANCE = 1.0
#: What the training-range rule does with a value outside the allowed range.
MODES = ("refuse", "warn", "off")
#: Largest magnitude accepted as a finite input (float32's maximum: tree models cast to it).
LARGEST = float(np.finfo(np.float32).max)
_FORMAT = 1
_EXAMPLES = 5

# Durations and counts among crm_ml's features (crm_ml.features.build, customer_summary,
# segmentation_features, CLV's purchase summary): they cannot be negative. Not
# days_since_signup: a guest buyer may sign up after as_of.
_NEVER_NEGATIVE = frozenset({
    "recency_days", "tenure_days", "n_orders", "n_purchase_days", "n_days", "n_returns",
    "mean_gap_days", "std_gap_days", "max_gap_days", "gap_ratio", "orders_per_month",
    "n_products", "n_channels", "mean_resolution_hours", "days_since_last_interaction",
    "frequency", "recency", "T", "purchase_rate",
})
_WINDOWED_COUNT = re.compile(r"^(orders|tickets|complaints)_\d+d$")


class InputRangeWarning(UserWarning):
    """Values outside the training range were scored (``range_check="warn"``)."""


def is_never_negative(name: str) -> bool:
    """True when ``name`` is a crm_ml duration or count feature (never negative)."""
    return name in _NEVER_NEGATIVE or bool(_WINDOWED_COUNT.match(name))


def _float_matrix(frame: pd.DataFrame, positions: list[int]) -> np.ndarray:
    """The columns at ``positions`` of ``frame`` as floats; a value that is not a number
    becomes NaN here (the model's own checks name it)."""
    try:
        # take by position: several times faster than frame[names] on a one-row frame
        return frame.take(positions, axis=1).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return np.column_stack([pd.to_numeric(frame.iloc[:, i], errors="coerce")
                                .to_numpy(dtype=np.float64, na_value=np.nan)
                                for i in positions])


def _fmt(x: float) -> str:
    return f"{x:.6g}"


class InputRanges:
    """Per-field training range of a model's numeric inputs, checked before scoring.

    Build one with :meth:`from_training` at fit time, store it with :meth:`save` next to the
    model, read it with :func:`load_input_ranges` in the pyfunc's ``load_context`` (once per
    loaded model) and call :meth:`check` on every input.

    Parameters
    ----------
    fields : sequence of str
        Numeric input fields.
    low, high : array-like of float
        Training minimum and maximum per field (NaN: not known, the range rule is skipped).
    never_negative : array-like of bool
        Per field: a duration or count that cannot be negative.
    """

    def __init__(self, fields: Sequence[str], low, high, never_negative):
        self.fields = tuple(str(f) for f in fields)
        self.low = np.asarray(low, dtype=np.float64).reshape(len(self.fields))
        self.high = np.asarray(high, dtype=np.float64).reshape(len(self.fields))
        self.never_negative = np.asarray(never_negative, dtype=bool).reshape(len(self.fields))
        self._position = {f: i for i, f in enumerate(self.fields)}
        self._bounds: dict[float, tuple[np.ndarray, np.ndarray]] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_training(cls, frame: pd.DataFrame, fields: Iterable[str],
                      never_negative: Iterable[str] | None = None) -> InputRanges:
        """Ranges of ``fields`` over the finite values of the training table ``frame``.

        Parameters
        ----------
        frame : DataFrame
            The training inputs.
        fields : iterable of str
            Numeric columns of ``frame`` to record.
        never_negative : iterable of str, optional
            Fields that cannot be negative; default: crm_ml's durations and counts
            (:func:`is_never_negative`). A field whose training values include a negative one
            is never marked.
        """
        fields = [f for f in fields if f in frame.columns]
        values = (_float_matrix(frame, [frame.columns.get_loc(f) for f in fields]) if fields
                  else np.empty((0, 0)))
        finite = np.where(np.isfinite(values), values, np.nan)
        with warnings.catch_warnings():  # an all-missing column: no range (NaN)
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanmin(finite, axis=0), np.nanmax(finite, axis=0)
        wanted = (set(never_negative) if never_negative is not None
                  else {f for f in fields if is_never_negative(f)})
        nonneg = [f in wanted and not (lo < 0) for f, lo in zip(fields, low, strict=True)]
        return cls(fields, low, high, nonneg)

    @classmethod
    def rules_only(cls, fields: Iterable[str],
                   never_negative: Iterable[str] | None = None) -> InputRanges:
        """No training range (a model logged before ranges were stored): only the finite and
        non-negative rules apply."""
        fields = list(fields)
        wanted = (set(never_negative) if never_negative is not None
                  else {f for f in fields if is_never_negative(f)})
        nan = np.full(len(fields), np.nan)
        return cls(fields, nan, nan, [f in wanted for f in fields])

    # ------------------------------------------------------------------ storage
    def to_dict(self) -> dict:
        """JSON-ready ``{"format": 1, "fields": {name: {min, max, never_negative}}}``."""
        def num(x):
            return float(x) if np.isfinite(x) else None

        return {"format": _FORMAT, "fields": {
            f: {"min": num(lo), "max": num(hi), "never_negative": bool(nn)}
            for f, lo, hi, nn in zip(self.fields, self.low, self.high, self.never_negative,
                                     strict=True)}}

    @classmethod
    def from_dict(cls, d: dict) -> InputRanges:
        """Inverse of :meth:`to_dict`."""
        fields = d.get("fields") or {}
        def num(x):
            return np.nan if x is None else float(x)

        return cls(list(fields), [num(v.get("min")) for v in fields.values()],
                   [num(v.get("max")) for v in fields.values()],
                   [bool(v.get("never_negative")) for v in fields.values()])

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_dict` as JSON to ``path``; return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")
        return path

    # ------------------------------------------------------------------ checking
    def allowed(self, tolerance: float = DEFAULT_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
        """Lowest and highest allowed value per field at ``tolerance`` (NaN: no range)."""
        tolerance = _check_tolerance(tolerance)
        bounds = self._bounds.get(tolerance)
        if bounds is None:
            width = self.high - self.low
            flat = np.maximum(np.abs(self.high), 1.0)
            width = np.where(width > 0, width, flat)
            lo = self.low - tolerance * width
            lo = np.where(self.never_negative, np.maximum(lo, 0.0), lo)
            bounds = (lo, self.high + tolerance * width)
            if len(self._bounds) < 8:  # callers use one or two tolerances; stay bounded
                self._bounds[tolerance] = bounds
        return bounds

    def check(self, frame: pd.DataFrame, *, mode: str = "refuse",
              tolerance: float = DEFAULT_TOLERANCE, labels: Sequence | None = None,
              model: str = "the model") -> None:
        """Refuse impossible values in ``frame``; refuse or warn about far-out ones.

        Parameters
        ----------
        frame : DataFrame
            Inputs, one row per customer; fields it lacks are not checked.
        mode : {"refuse", "warn", "off"}
            What the training-range rule does (the finite and non-negative rules always
            refuse).
        tolerance : float, default 1.0
            Training-range widths allowed beyond the training extremes (>= 0).
        labels : sequence, optional
            The customer id of each row, to name offending records; without it they are
            named by position.
        model : str
            The model's name for messages.

        Raises
        ------
        DataValidationError
            Naming the field, the rule, the allowed range and up to five offending records.
        """
        if mode not in MODES:
            raise DataValidationError(
                f"range_check: must be one of {MODES}, got {mode!r}", column="range_check",
                rule="allowed value")
        tolerance = _check_tolerance(tolerance)
        # (position in frame, position in self.fields) of each checked column
        present = [(j, self._position[c]) for j, c in enumerate(frame.columns)
                   if c in self._position]
        if not present or len(frame) == 0:
            return
        idx = np.asarray([i for _, i in present])
        values = _float_matrix(frame, [j for j, _ in present])
        lo_all, hi_all = self.allowed(tolerance)
        lo, hi = lo_all[idx], hi_all[idx]
        with np.errstate(invalid="ignore"):
            infinite = np.abs(values) > LARGEST  # NaN: False
            negative = (values < 0) & self.never_negative[idx]
            outside = (values < lo) | (values > hi)  # NaN bounds or values: False
        if infinite.any():
            self._refuse(labels, values, infinite, idx, lo, hi, model,
                         "finite", f"must be a finite number of magnitude <= {LARGEST:.3g}")
        if negative.any():
            self._refuse(labels, values, negative, idx, lo, hi, model,
                         "non-negative", "cannot be negative")
        if mode == "off" or not outside.any():
            return
        if mode == "refuse":
            self._refuse(labels, values, outside, idx, lo, hi, model, "training range",
                         f"lies outside the range seen in training widened by tolerance "
                         f"{tolerance:g}")
        notes = [self._describe(labels, values, outside, j, idx, lo, hi)
                 for j in np.flatnonzero(outside.any(axis=0))]
        warnings.warn(f"{model}: values outside the training range scored anyway "
                      f"(range_check='warn'): {'; '.join(notes)}", InputRangeWarning,
                      stacklevel=3)

    def _offenders(self, labels, values, mask, j, idx, lo, hi):
        """Field ``j``'s name, its number of offending rows, its allowed range (text), a few
        offending records (text) and their keys."""
        rows = np.flatnonzero(mask[:, j])
        shown = rows[:_EXAMPLES]
        examples = ", ".join(f"{name}: {_fmt(values[r, j])}"
                             for name, r in zip(_row_names(labels, shown), shown, strict=True))
        allowed = _range_text(lo[j], hi[j], self.never_negative[idx[j]])
        return self.fields[idx[j]], len(rows), allowed, examples, _row_keys(labels, shown)

    def _describe(self, labels, values, mask, j, idx, lo, hi) -> str:
        field, n, allowed, examples, _ = self._offenders(labels, values, mask, j, idx, lo, hi)
        return f"{field} in {n} record(s) (allowed {allowed}; {examples})"

    def _refuse(self, labels, values, mask, idx, lo, hi, model, rule, what):
        j = int(np.flatnonzero(mask.any(axis=0))[0])
        field, n, allowed, examples, keys = self._offenders(labels, values, mask, j, idx, lo,
                                                            hi)
        fix = ("fix the input" if rule != "training range" else
               "check the input; to score anyway pass range_check='warn' (or a larger "
               "range_tolerance)")
        raise DataValidationError(
            f"{field}: {n} record(s) refused by {model}: the value {what} (rule: {rule}; "
            f"allowed {allowed}); offending records: {examples}; {fix}",
            column=field, rule=rule, rows=keys)


def _range_text(lo: float, hi: float, never_negative: bool) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return "any finite number >= 0" if never_negative else "any finite number"
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _row_keys(labels, rows: np.ndarray) -> list:
    if labels is None:
        return [int(r) for r in rows]
    return np.asarray(labels, dtype=object)[rows].tolist()


def _row_names(labels, rows: np.ndarray) -> list[str]:
    if labels is None:
        return [f"record {int(r)}" for r in rows]
    return [f"customer_id {key!r}" for key in _row_keys(labels, rows)]


def _check_tolerance(tolerance) -> float:
    try:
        t = float(tolerance)
    except (TypeError, ValueError):
        t = math.nan
    if isinstance(tolerance, bool) or not (math.isfinite(t) and t >= 0):
        raise DataValidationError(
            f"range_tolerance: must be a finite number >= 0, got {tolerance!r}",
            column="range_tolerance", rule="number >= 0")
    return t


def load_input_ranges(path: str | os.PathLike | None, fields: Iterable[str],
                      never_negative: Iterable[str] | None = None) -> InputRanges:
    """The ranges a model stored at ``path``, or the rules alone when it stored none.

    Parameters
    ----------
    path : path-like or None
        The model's ``input_ranges`` artifact (None for models logged before ranges were
        stored).
    fields, never_negative
        The model's numeric inputs and its durations/counts, for :meth:`InputRanges.rules_only`
        when there is no file.
    """
    if path is None or not Path(path).is_file():
        return InputRanges.rules_only(fields, never_negative)
    return InputRanges.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def check_inputs(ranges: InputRanges, frame: pd.DataFrame, params: dict | None = None,
                 model: str = "the model") -> None:
    """:meth:`InputRanges.check` with the options of a pyfunc call's ``params``.

    ``params`` may hold ``range_check`` (default ``"refuse"``), ``range_tolerance`` (default
    :data:`DEFAULT_TOLERANCE`) and ``row_labels`` (the customer id of each row, for callers
    such as :mod:`crm_ml.serve` whose model input lacks them). Without ``row_labels``,
    offending records are named by the ``customer_id`` column, else by an index named
    ``customer_id``, else by position. The pyfunc wrappers call this first in ``predict``.
    """
    params = params or {}
    labels = params.get("row_labels")
    if labels is None and "customer_id" in frame.columns:
        labels = frame["customer_id"].to_numpy()
    elif labels is None and frame.index.name == "customer_id":
        labels = frame.index.to_numpy()
    ranges.check(frame, mode=params.get("range_check", "refuse"),
                 tolerance=params.get("range_tolerance", DEFAULT_TOLERANCE),
                 labels=labels, model=model)
