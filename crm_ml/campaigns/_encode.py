"""Encode a customer feature table for the uplift model's LightGBM boosters (JSON state).

A small encoder of its own (a model module does not import another model module):

* numeric and boolean columns pass through as float, missing values stay NaN (LightGBM
  handles them); infinities become NaN;
* datetime columns become days since 1970-01-01, timedeltas days;
* other columns are categories: the levels shared by at least ``min_level_customers``
  customers (at most ``max_categories``) get integer codes, every other level and missing
  values are NaN, so no level shared by fewer than k customers is stored
  (:mod:`crm_ml.data.privacy`);
* columns that look like personal identifiers or free text are dropped with one
  :class:`~crm_ml.data.privacy.PersonalDataWarning`; columns empty in training are dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.data.privacy import (
    MIN_LEVEL_CUSTOMERS,
    frequent_levels,
    screen_columns,
    warn_dropped,
)
from crm_ml.errors import DataValidationError

KINDS = ("numeric", "datetime", "timedelta", "categorical")


def customer_frame(X, what: str = "X") -> pd.DataFrame:
    """``X`` as a DataFrame indexed by customer_id (a ``customer_id`` column moves to the index).

    Raises
    ------
    DataValidationError
        ``X`` is not a DataFrame (or a 2-D array), or has no rows.
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if not isinstance(X, pd.DataFrame):
        arr = np.asarray(X) if X is not None else np.empty((0, 0))
        if arr.ndim != 2:
            raise DataValidationError(f"{what}: expected a DataFrame (one row per customer), "
                                      f"got {type(X).__name__}", column=None, rule="DataFrame")
        X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    if not all(isinstance(c, str) for c in X.columns):
        X = X.rename(columns=str)
    if "customer_id" in X.columns:
        X = X.set_index("customer_id")
    if len(X) == 0:
        raise DataValidationError(f"{what}: no customers (0 rows)", column=None,
                                  rule="non-empty")
    return X


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(s):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(s):
        return "timedelta"
    if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in (
            "floating", "integer", "mixed-integer-float", "decimal"):
        return "numeric"
    return "categorical"


class FeatureEncoder:
    """Fit on a training table, then turn any table with its columns into a float matrix.

    Parameters
    ----------
    max_categories : int, default 30
    min_level_customers : int, default 20
    allow_columns : list of str, optional
        Kept although they look like personal identifiers.
    """

    def __init__(self, max_categories: int = 30,
                 min_level_customers: int = MIN_LEVEL_CUSTOMERS, allow_columns=None):
        self.max_categories = max_categories
        self.min_level_customers = min_level_customers
        self.allow_columns = allow_columns

    def fit(self, X: pd.DataFrame) -> FeatureEncoder:
        """Learn columns, kinds and kept category levels."""
        self.columns_, self.kinds_, self.categories_ = [], {}, {}
        personal = screen_columns(X, self.allow_columns)
        for col in X.columns:
            s = X[col]
            if col in personal or s.isna().all():
                continue
            kind = _kind(s)
            if kind == "categorical":
                keep = frequent_levels(s, int(self.min_level_customers), self.max_categories)
                if not keep:
                    continue
                self.categories_[col] = sorted(keep)
            self.columns_.append(col)
            self.kinds_[col] = kind
        warn_dropped(personal, "X", "UpliftModel(allow_columns={cols})", stacklevel=4)
        if not self.columns_:
            raise DataValidationError("X: no usable feature columns", column=None,
                                      rule="at least one feature")
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The float matrix (rows as in ``X``) the boosters read.

        Raises
        ------
        DataValidationError
            A column seen in training is missing.
        """
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataValidationError(f"X: missing feature column(s) {missing[:5]} the model "
                                      "was trained on", column=missing[0],
                                      rule="required feature")
        out = np.empty((len(X), len(self.columns_)))
        for j, col in enumerate(self.columns_):
            s, kind = X[col], self.kinds_[col]
            if kind == "numeric":
                v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            elif kind == "datetime":
                t = pd.to_datetime(s, errors="coerce")
                v = (t - pd.Timestamp(0)).dt.total_seconds().to_numpy(
                    dtype=float, na_value=np.nan) / 86_400.0
            elif kind == "timedelta":
                v = pd.to_timedelta(s, errors="coerce").dt.total_seconds().to_numpy(
                    dtype=float, na_value=np.nan) / 86_400.0
            else:
                idx = pd.Index(self.categories_[col]).get_indexer(
                    s.astype(str).where(s.notna(), None))
                v = np.where(idx < 0, np.nan, idx.astype(float))
            v[~np.isfinite(v)] = np.nan
            out[:, j] = v
        return out

    def categorical_indices(self) -> list[int]:
        """Positions of the integer-coded categorical columns."""
        return [j for j, c in enumerate(self.columns_) if self.kinds_[c] == "categorical"]

    def to_dict(self) -> dict:
        """JSON-serialisable state (kept levels only)."""
        return {"columns": list(self.columns_), "kinds": dict(self.kinds_),
                "categories": {k: list(v) for k, v in self.categories_.items()},
                "max_categories": self.max_categories,
                "min_level_customers": self.min_level_customers}

    @classmethod
    def from_dict(cls, d: dict) -> FeatureEncoder:
        """Rebuild from :meth:`to_dict`; malformed state raises ``ValueError``."""
        cols, kinds, cats = d["columns"], d["kinds"], d["categories"]
        if (not isinstance(cols, list) or not all(isinstance(c, str) for c in cols)
                or not isinstance(kinds, dict) or set(kinds) != set(cols)
                or any(k not in KINDS for k in kinds.values())
                or not isinstance(cats, dict)
                or {c for c, k in kinds.items() if k == "categorical"} != set(cats)):
            raise ValueError("encoder state is malformed")
        self = cls(max_categories=d.get("max_categories", 30),
                   min_level_customers=d.get("min_level_customers", MIN_LEVEL_CUSTOMERS))
        self.columns_, self.kinds_ = list(cols), dict(kinds)
        self.categories_ = {k: [str(x) for x in v] for k, v in cats.items()}
        return self
