"""Skew-aware scaling for CRM features.

CRM features are heavy-tailed (a few customers buy 100x more than the median), so plain
standardisation lets the tail dominate every distance. For each feature, on the fitting data:

* ``|skewness| > skew_threshold`` and no negative values -> ``log1p`` then standardise;
* ``|skewness| > skew_threshold`` with negative values -> quantile transform to a normal
  distribution (handles any sign, robust to outliers);
* otherwise -> standardise only.

``scaling="log"`` forces log1p for every non-negative feature, ``"quantile"`` forces the
quantile transform for every feature and ``"standard"`` only standardises.
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

__all__ = ["choose_transforms", "make_preprocessor"]


def choose_transforms(X: pd.DataFrame, scaling: str = "auto",
                      skew_threshold: float = 1.0) -> dict[str, str]:
    """Pick ``"log"``, ``"quantile"`` or ``"standard"`` for each column (rule above)."""
    if scaling not in ("auto", "log", "quantile", "standard"):
        raise ValueError(f"scaling must be auto, log, quantile or standard, got {scaling!r}")
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
        parts.append(("log", FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
                      by_kind["log"]))
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
