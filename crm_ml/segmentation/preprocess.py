"""Skew-aware scaling for CRM features.

CRM features are heavy-tailed (a few customers buy 100x more than the median), so plain
standardisation lets the tail dominate every distance. For each feature, on the fitting data:

* ``|skewness| > skew_threshold`` and no negative values -> ``log1p`` then standardise;
* ``|skewness| > skew_threshold`` with negative values -> quantile transform to a normal
  distribution (handles any sign, robust to outliers);
* otherwise -> standardise only.

``scaling="log"`` forces log1p for every non-negative feature, ``"quantile"`` forces the
quantile transform for every feature and ``"standard"`` only standardises.

Values outside the fitting range are handled the same way at fit and predict: a log-scaled
feature is clipped at 0 first (a negative net spend, returns exceeding purchases, scales like 0;
fitting data are non-negative, so the clip changes nothing there), and the quantile transform
clips to the fitted range.
The result is a scikit-learn ``ColumnTransformer`` + ``StandardScaler`` pipeline, saved with
skops (no pickle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, QuantileTransformer, StandardScaler

from crm_ml.errors import DataValidationError

__all__ = ["choose_transforms", "feature_matrix", "make_preprocessor"]

SCALINGS = ("auto", "log", "quantile", "standard")


def feature_matrix(X: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The float64 feature columns ``cols`` of ``X``, checked to be present and finite.

    Parameters
    ----------
    X : DataFrame
        One row per customer.
    cols : list of str
        Feature columns.

    Returns
    -------
    DataFrame
        ``X[cols]`` as float64.

    Raises
    ------
    DataValidationError
        A column is missing (rule ``"required column"``), not numeric (``"numeric"``) or holds
        NaN / None / infinity (``"finite"``); the error names the column and up to five rows.
    """
    missing = [c for c in cols if c not in X.columns]
    if missing:
        raise DataValidationError(f"X lacks feature column(s) {missing}",
                                  column=missing[0], rule="required column")
    converted = {}
    for c in cols:
        try:
            converted[c] = X[c].astype(np.float64)
        except (TypeError, ValueError):
            bad = pd.to_numeric(X[c], errors="coerce").isna() & X[c].notna()
            rows = X.index[bad.to_numpy()][:5].tolist()
            raise DataValidationError(f"{c}: values must be numeric (rows {rows})",
                                      column=c, rule="numeric", rows=rows) from None
    M = pd.DataFrame(converted, index=X.index)
    bad = ~np.isfinite(M.to_numpy())
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        rows = X.index[bad[:, j]][:5].tolist()
        raise DataValidationError(
            f"{cols[j]}: values must be finite; {int(bad[:, j].sum())} row(s) are "
            f"NaN/None/infinite (rows {rows})", column=cols[j], rule="finite", rows=rows)
    return M


def choose_transforms(X: pd.DataFrame, scaling: str = "auto",
                      skew_threshold: float = 1.0) -> dict[str, str]:
    """Pick ``"log"``, ``"quantile"`` or ``"standard"`` for each column (rule above)."""
    if scaling not in SCALINGS:
        raise DataValidationError(
            f"scaling must be auto, log, quantile or standard, got {scaling!r}",
            column="scaling", rule="allowed value")
    out = {}
    for col in X.columns:
        v = X[col].to_numpy(dtype=np.float64)
        nonneg = bool((v >= 0).all())
        if scaling == "standard":
            out[col] = "standard"
        elif scaling == "quantile":
            out[col] = "quantile"
        elif scaling == "log":
            out[col] = "log" if nonneg else "quantile"
        else:
            s = float(skew(v)) if np.ptp(v) > 0 else 0.0
            out[col] = "standard" if abs(s) <= skew_threshold else ("log" if nonneg else
                                                                   "quantile")
    return out


def make_preprocessor(transforms: dict[str, str], n_rows: int, random_state=0) -> Pipeline:
    """The unfitted scaling pipeline for ``transforms`` (column -> kind)."""
    parts = []
    by_kind: dict[str, list[str]] = {}
    for col, kind in transforms.items():
        by_kind.setdefault(kind, []).append(col)
    if by_kind.get("log"):
        # numpy functions only, so the skops allow-list of load_sklearn accepts the pipeline
        log = Pipeline([
            ("clip", FunctionTransformer(np.clip, kw_args={"a_min": 0.0, "a_max": None},
                                         feature_names_out="one-to-one")),
            ("log1p", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
        ])
        parts.append(("log", log, by_kind["log"]))
    if by_kind.get("quantile"):
        parts.append(("quantile", QuantileTransformer(
            output_distribution="normal", n_quantiles=min(1000, max(n_rows, 2)),
            subsample=100_000, random_state=random_state), by_kind["quantile"]))
    if by_kind.get("standard"):
        parts.append(("standard", "passthrough", by_kind["standard"]))
    return Pipeline([
        ("transform", ColumnTransformer(parts, verbose_feature_names_out=False)),
        ("scale", StandardScaler()),
    ])
