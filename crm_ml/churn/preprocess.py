"""Turn any customer table into a numeric matrix, with a JSON-serialisable specification.

Policies (documented in docs/guide/churn.md):

* numeric and boolean columns pass through as float; missing values stay NaN (both LightGBM
  and scikit-learn's random forest handle NaN natively);
* datetime columns become days since 1970-01-01 (float), timedeltas become days;
* object, string and categorical columns become categories: of the levels shared by at least
  ``min_level_customers`` customers (k, default 20) the ``max_categories`` most frequent are
  kept; every other level -- rarer ones, and levels never seen in training -- maps to the one
  level ``"__other__"`` (or, when training had no such level, to NaN); missing values map to
  NaN (treated as missing). Unseen categories never raise, and no level shared by fewer than
  k customers is stored in the model's spec (privacy: see :mod:`crm_ml.data.privacy`);
* columns that look like personal identifiers or free text (e-mail, phone, names, notes,
  near-unique values ...: :func:`crm_ml.data.privacy.screen_columns`) and categorical columns
  without any level shared by k customers are dropped with one
  :class:`~crm_ml.data.privacy.PersonalDataWarning` (``allow_columns`` forces a column in);
  columns that are empty in training are dropped with a log message;
* a ``customer_id`` column becomes the index.

LightGBM receives categories as integer codes declared categorical; the random forest receives
them one-hot encoded (missing/unseen = all zeros). ``origin_`` maps every encoded column back
to its input column, so SHAP values can be summed per input column.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from crm_ml._logging import get_logger
from crm_ml.data.privacy import (
    MIN_LEVEL_CUSTOMERS,
    OTHER_LEVEL,
    frequent_levels,
    screen_columns,
    warn_dropped,
)
from crm_ml.errors import DataValidationError

log = get_logger("churn")

OTHER = OTHER_LEVEL
# one customer with a missing feature is normal; a whole batch without it is a broken join
_MIN_ROWS_ALL_MISSING_WARNING = 50


_NUMBER_TYPES = ("floating", "integer", "mixed-integer-float", "decimal")


def as_customer_frame(X) -> pd.DataFrame:
    """Return ``X`` as a DataFrame indexed by customer_id (column moved to the index).

    A 2-D array (what scikit-learn steps such as ``StandardScaler`` pass on) becomes columns
    ``x0``, ``x1``... with rows numbered from 0; sparse matrices and complex numbers are
    refused.
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if not isinstance(X, pd.DataFrame):
        if hasattr(X, "tocsr") or hasattr(X, "toarray"):
            raise DataValidationError("X: sparse matrices are not supported; pass a DataFrame "
                                      "or a dense 2-D array", column=None, rule="dense")
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise DataValidationError(f"X: expected a DataFrame or a 2-D array, got "
                                      f"{type(X).__name__}", column=None,
                                      rule="DataFrame") from exc
        if arr.ndim != 2:
            raise DataValidationError(
                f"X: expected a DataFrame or a 2-D array (one row per customer), got "
                f"{type(X).__name__} with {arr.ndim} dimension(s). Reshape your data: "
                "X.reshape(-1, 1) for a single feature", column=None, rule="2-D")
        X = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
    complex_cols = [c for c in X.columns if pd.api.types.is_complex_dtype(X[c])]
    if complex_cols:
        raise DataValidationError(f"X: Complex data not supported (columns "
                                  f"{complex_cols[:5]})", column=str(complex_cols[0]),
                                  rule="real numbers")
    if not all(isinstance(c, str) for c in X.columns):
        X = X.rename(columns=str)  # features are named by text at fit and at scoring alike
    if "customer_id" in X.columns:
        X = X.set_index("customer_id")
    return X


class TabularPreprocessor:
    """Encode a customer table for tree models (see module docstring for the policies).

    Parameters
    ----------
    one_hot : bool, default False
        One-hot encode categories (random forest) instead of integer codes (LightGBM).
    max_categories : int, default 30
        Levels kept per categorical column; other levels become ``"__other__"``.
    min_level_customers : int, default 20
        k: a level is kept only when at least this many customers (rows) share it; rarer
        levels become ``"__other__"`` and are never stored.
    allow_columns : list of str, optional
        Columns kept even though they look like personal identifiers or free text.
    """

    def __init__(self, one_hot: bool = False, max_categories: int = 30,
                 min_level_customers: int = MIN_LEVEL_CUSTOMERS, allow_columns=None):
        self.one_hot = one_hot
        self.max_categories = max_categories
        self.min_level_customers = min_level_customers
        self.allow_columns = allow_columns

    def fit(self, X: pd.DataFrame) -> TabularPreprocessor:
        X = as_customer_frame(X)
        self.columns_: list[str] = []
        self.kinds_: dict[str, str] = {}
        self.categories_: dict[str, list[str]] = {}
        self.dropped_: dict[str, str] = {}
        self.medians_: dict[str, float] = {}
        personal = screen_columns(X, self.allow_columns)
        flagged: dict[str, str] = {}  # dropped for privacy: named in one warning
        k = int(self.min_level_customers)
        for col in X.columns:
            s = X[col]
            name = str(col)
            if s.isna().all():
                self.dropped_[name] = "empty in training"
                continue
            if name in personal:
                self.dropped_[name] = flagged[name] = personal[name]
                continue
            if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s) or (
                    s.dtype == object and pd.api.types.infer_dtype(s, skipna=True)
                    in _NUMBER_TYPES):  # numbers held as objects are still numbers
                kind = "numeric"
            elif pd.api.types.is_datetime64_any_dtype(s):
                kind = "datetime"
            elif pd.api.types.is_timedelta64_dtype(s):
                kind = "timedelta"
            else:
                kind = "categorical"
                keep = frequent_levels(s, k, self.max_categories)
                if not keep:
                    self.dropped_[name] = flagged[name] = \
                        f"no level shared by {k} customers (min_level_customers)"
                    continue
                if s.dropna().astype(str).nunique() > len(keep):
                    keep.append(OTHER)
                self.categories_[name] = sorted(keep)
            self.columns_.append(name)
            self.kinds_[name] = kind
            if kind != "categorical":
                self.medians_[name] = float(np.nanmedian(self._numeric(s, kind)))
        for name, why in self.dropped_.items():
            log.info("churn preprocessing: dropped column %r (%s)", name, why)
        # stacklevel 5: warn_dropped, fit, fit_transform, ChurnModel.fit, the user's call
        warn_dropped(flagged, "X", "ChurnModel(allow_columns={cols})", stacklevel=5)
        if not self.columns_:
            raise DataValidationError("X: no usable feature columns", column=None,
                                      rule="at least one feature")
        self._set_output_names()
        return self

    def _set_output_names(self) -> None:
        self.feature_names_out_, self.origin_ = [], {}
        for name in self.columns_:
            if self.kinds_[name] == "categorical" and self.one_hot:
                for lvl in self.categories_[name]:
                    enc = f"{name}={lvl}"
                    self.feature_names_out_.append(enc)
                    self.origin_[enc] = name
            else:
                self.feature_names_out_.append(name)
                self.origin_[name] = name

    @staticmethod
    def _numeric(s: pd.Series, kind: str) -> np.ndarray:
        if kind == "numeric":
            out = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            unreadable = np.isnan(out) & s.notna().to_numpy()
            if unreadable.any():
                examples = s[unreadable].astype(str).unique()[:3].tolist()
                warnings.warn(f"X: column {s.name!r}: {int(unreadable.sum())} value(s) are not "
                              f"numbers (e.g. {examples}) and are treated as missing",
                              UserWarning, stacklevel=4)
            return out
        if kind == "datetime":
            v = pd.to_datetime(s, errors="coerce")
            if getattr(v.dt, "tz", None) is not None:
                v = v.dt.tz_convert("UTC").dt.tz_localize(None)
            out = v.to_numpy().astype("datetime64[ns]").astype(np.int64) / 86_400e9
            out[v.isna().to_numpy()] = np.nan
            return out
        v = pd.to_timedelta(s, errors="coerce")
        return v.dt.total_seconds().to_numpy(dtype=float, na_value=np.nan) / 86_400.0

    def _codes(self, s: pd.Series, name: str) -> np.ndarray:
        """Category codes: kept levels by position; every other level -> "__other__" (NaN
        when training had no such level); missing -> NaN."""
        cats = pd.Index(self.categories_[name])
        other = float(cats.get_loc(OTHER)) if OTHER in cats else np.nan
        if len(s) <= 100:
            # a few customers (online scoring): plain Python beats pandas' per-call overhead
            code = {lvl: float(i) for i, lvl in enumerate(cats)}
            return np.array([np.nan if pd.isna(v) else code.get(str(v), other)
                             for v in s.to_numpy(dtype=object)], dtype=float)
        missing = s.isna().to_numpy()
        idx = cats.get_indexer(s.astype(str).where(~missing, None))
        out = idx.astype(float)
        out[idx < 0] = other
        out[missing] = np.nan
        return out

    def stored_levels(self, X: pd.DataFrame) -> pd.DataFrame:
        """``X`` with each categorical column's values replaced by the level the model sees:
        a kept level, ``"__other__"`` or missing (for reason texts: no rare level shown)."""
        X = X.copy()
        for name in self.columns_:
            if self.kinds_[name] != "categorical" or name not in X.columns:
                continue
            cats = self.categories_[name]
            s = X[name]
            text = s.astype(str).where(s.notna(), None)
            fallback = OTHER if OTHER in cats else None
            X[name] = text.where(text.isin(cats) | s.isna(), fallback).astype(object)
        return X

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Encode ``X`` into the float matrix the trees were trained on (index kept)."""
        if not hasattr(self, "columns_"):
            from crm_ml.errors import NotFittedError

            raise NotFittedError("TabularPreprocessor is not fitted")
        X = as_customer_frame(X)
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise DataValidationError(
                f"X: missing feature column(s) {missing[:5]} the model was trained on",
                column=missing[0], rule="required feature")
        out = np.empty((len(X), len(self.feature_names_out_)))
        position = {name: i for i, name in enumerate(self.feature_names_out_)}
        dtypes = X.dtypes
        # numeric-typed columns in one conversion (per-column pandas calls dominate the cost
        # of scoring a single customer); the rest column by column
        block = [c for c in self.columns_ if self.kinds_[c] == "numeric"
                 and (pd.api.types.is_numeric_dtype(dtypes[c])
                      or pd.api.types.is_bool_dtype(dtypes[c]))]
        if block:
            out[:, [position[c] for c in block]] = X[block].to_numpy(dtype=float,
                                                                     na_value=np.nan)
        in_block = set(block)
        for name in self.columns_:
            kind = self.kinds_[name]
            if name in in_block:
                continue
            if kind != "categorical":
                out[:, position[name]] = self._numeric(X[name], kind)
                continue
            codes = self._codes(X[name], name)
            if self.one_hot:
                for i, lvl in enumerate(self.categories_[name]):
                    out[:, position[f"{name}={lvl}"]] = codes == i
            else:
                out[:, position[name]] = codes
        if len(X) >= _MIN_ROWS_ALL_MISSING_WARNING:
            # (one-hot encoded categories have no column of their own name; all-zero is fine)
            empty = [name for name in self.columns_
                     if name in position and np.isnan(out[:, position[name]]).all()]
            if empty:
                warnings.warn(f"X: feature column(s) {empty[:5]} are missing for all {len(X)} "
                              "customers (not in this data, or lost in a join?); the model "
                              "treats them as unknown", UserWarning, stacklevel=3)
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)

    def fit_transform(self, X: pd.DataFrame) -> pd.DataFrame:
        return self.fit(X).transform(X)

    def categorical_indices(self) -> list[int]:
        """Positions of integer-coded categorical columns (LightGBM ``categorical_feature``)."""
        if self.one_hot:
            return []
        return [i for i, c in enumerate(self.feature_names_out_)
                if self.kinds_.get(c) == "categorical"]

    def to_dict(self) -> dict:
        """JSON-serialisable state (for the pyfunc model): kept levels only, never the rarer
        ones."""
        return {"one_hot": self.one_hot, "max_categories": self.max_categories,
                "min_level_customers": self.min_level_customers,
                "columns": self.columns_, "kinds": self.kinds_, "categories": self.categories_,
                "dropped": self.dropped_, "medians": self.medians_}

    @classmethod
    def from_dict(cls, d: dict) -> TabularPreprocessor:
        """Rebuild a fitted preprocessor from :meth:`to_dict` output."""
        self = cls(one_hot=d["one_hot"], max_categories=d["max_categories"],
                   min_level_customers=d.get("min_level_customers", MIN_LEVEL_CUSTOMERS))
        self.columns_, self.kinds_ = list(d["columns"]), dict(d["kinds"])
        self.categories_ = {k: list(v) for k, v in d["categories"].items()}
        self.dropped_ = dict(d.get("dropped", {}))
        self.medians_ = dict(d.get("medians", {}))
        self._set_output_names()
        return self
