"""Churn labels as users have them: 0/1, True/False or two words, in a Series, array or list.

:func:`binary_target` turns any of them into the 0/1 vector the model trains on and the two
labels as given, ``(negative, positive)``. The model keeps them as scikit-learn does:
``classes_`` sorted (:func:`sorted_classes`) and ``pos_label_`` the churn label. Which label
means "churned" is ``pos_label`` when given, otherwise inferred:

- True for booleans, 1 for numbers;
- for text, the one label that reads as churn, ignoring case and surrounding spaces
  (:data:`POSITIVE_LABELS`: "1", "true", "yes", "y", "churn", "churned", "churner",
  "left", "lost", "lapsed", "inactive", "cancelled", "canceled", "attrited").

When no label (or both) reads as churn, a :class:`~crm_ml.errors.DataValidationError` asks
for ``pos_label=``.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import DataConversionWarning

from crm_ml.errors import DataValidationError

__all__ = ["POSITIVE_LABELS", "binary_target", "encode_target", "sorted_classes"]

#: text labels read as "churned" (compared case-insensitively, surrounding spaces ignored)
POSITIVE_LABELS = ("1", "true", "yes", "y", "churn", "churned", "churner", "left", "lost",
                   "lapsed", "inactive", "cancelled", "canceled", "attrited")


def _check_unique(index: pd.Index, name: str) -> None:
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()
        raise DataValidationError(
            f"{name}: {len(dup)} customer id(s) appear more than once, e.g. "
            f"{dup[:5].tolist()}; one row per customer", column=name,
            rule="unique customer_id", rows=dup[:5].tolist())


def _as_label_vector(index: pd.Index, y) -> np.ndarray:
    """``y`` as a 1-D object array in the row order of ``index`` (a Series by index)."""
    _check_unique(index, "X")
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise DataValidationError(f"y: expected one label column, got {y.shape[1]}",
                                      column="y", rule="one column")
        y = y.iloc[:, 0]
    if isinstance(y, pd.Series):
        _check_unique(y.index, "y")
        if not y.index.equals(index):
            missing = index.difference(y.index)
            if len(missing):
                raise DataValidationError(
                    f"y: no label for {len(missing)} customer(s) of X", column="y",
                    rule="label for every row", rows=missing[:5].tolist())
            y = y.reindex(index)
        values = y.to_numpy(dtype=object)
    else:
        if y is None:
            raise DataValidationError("y: ChurnModel requires y to be passed, but the target "
                                      "y is None", column="y", rule="labels given")
        values = None if isinstance(y, str | bytes) else np.asarray(y, dtype=object)
        if values is None or values.ndim == 0:
            raise DataValidationError(f"y: expected a Series, array or list of labels, got "
                                      f"{type(y).__name__}", column="y", rule="1-D labels")
        if values.ndim == 2 and values.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected: its one "
                          "column is used (pass y.ravel() to silence this)",
                          DataConversionWarning, stacklevel=4)
            values = values[:, 0]
        if values.ndim != 1:
            raise DataValidationError(f"y: expected one label per row, got shape "
                                      f"{values.shape}", column="y", rule="1-D labels")
    if len(values) != len(index):
        raise DataValidationError(f"y: {len(values)} labels for {len(index)} rows",
                                  column="y", rule="same length")
    missing = pd.isna(values)
    if missing.any():
        raise DataValidationError("y: labels must not be missing", column="y",
                                  rule="not null", rows=index[missing][:5].tolist())
    return values


def _is_bool(v) -> bool:
    return isinstance(v, bool | np.bool_)


def _is_number(v) -> bool:
    return isinstance(v, numbers.Number) and not _is_bool(v)


def _default_positive(labels: list):
    """The label that means churn when ``pos_label`` is not given, or None."""
    if all(_is_bool(v) for v in labels):
        return True
    if all(_is_number(v) for v in labels):
        return next((v for v in labels if v == 1), None)
    hits = [v for v in labels if str(v).strip().casefold() in POSITIVE_LABELS]
    return hits[0] if len(hits) == 1 else None


def binary_target(index: pd.Index, y, pos_label=None) -> tuple[np.ndarray, tuple]:
    """Encode churn labels for the rows of ``index`` as 0/1.

    Parameters
    ----------
    index : Index
        The customer ids of ``X`` (rows in order).
    y : Series, array, list or one-column DataFrame
        Two distinct labels. A Series is aligned to ``index`` by customer id; anything else
        is taken by position.
    pos_label : optional
        The label that means churned (default: see the module docstring).

    Returns
    -------
    (ndarray of int, tuple)
        The 0/1 labels (1 = churned) and the two labels as given, ``(negative, positive)``.

    Raises
    ------
    DataValidationError
        Duplicate ids, a missing or extra label, more or fewer than two classes, or labels
        whose churn class cannot be told (the message says to pass ``pos_label=``).
    """
    values = _as_label_vector(index, y)
    labels = list(pd.unique(values))
    if len(labels) < 2:
        raise DataValidationError(
            f"y: only one class ({labels[0]!r}) present; a churn model needs both "
            "churners (1) and non-churners (0). Use a longer history or horizon.",
            column="y", rule="two classes")
    if len(labels) > 2 and all(_is_number(v) for v in labels) and any(
            float(v) != round(float(v)) for v in labels):
        raise DataValidationError(
            f"y: continuous values (e.g. {labels[:3]}); Unknown label type: continuous. "
            "Churn labels are two classes: 0/1, True/False or two labels", column="y",
            rule="binary")
    if len(labels) > 2:
        raise DataValidationError(
            f"y: {len(labels)} distinct labels, e.g. {labels[:5]}. Only binary classification "
            "is supported: churn labels are two classes (0/1, True/False or two labels with "
            "pos_label=)", column="y",
            rule="binary", rows=index[~pd.Series(values).isin(labels[:2]).to_numpy()][:5]
            .tolist())
    if pos_label is None:
        positive = _default_positive(labels)
        if positive is None:
            raise DataValidationError(
                f"y: cannot tell which of the labels {labels} means churned; use 0/1, "
                "True/False or yes/no labels, or pass pos_label= (e.g. "
                f"fit(X, y, pos_label={labels[0]!r}))", column="y", rule="binary")
    else:
        matches = [v for v in labels if v == pos_label]
        positive = matches[0] if matches else None
        if not matches:
            raise DataValidationError(f"pos_label: {pos_label!r} is not one of the labels "
                                      f"{labels}", column="pos_label", rule="one of the labels")
    negative = labels[1] if labels[0] == positive else labels[0]
    encoded = np.fromiter((v == positive for v in values), dtype=bool, count=len(values))
    return encoded.astype(int), (negative, positive)


def sorted_classes(negative, positive) -> np.ndarray:
    """The two labels in scikit-learn's order (sorted, as ``np.unique`` gives them).

    scikit-learn reads ``classes_[1]`` as the positive class of a binary classifier and
    ``roc_auc_score`` takes the larger label as positive: with ``classes_`` sorted, the
    ``"roc_auc"`` scorer is right whichever of the labels means churn. Labels that cannot
    be compared keep the order ``[negative, positive]``.
    """
    try:
        pair = sorted([negative, positive])
    except TypeError:
        pair = [negative, positive]
    return np.array(pair)


def encode_target(index: pd.Index, y, classes, pos_label) -> np.ndarray:
    """0/1 labels (1 = ``pos_label``) for new data of a model fitted on ``classes``.

    Labels drawn from ``classes`` are mapped by them; anything else is read as at fit time
    without ``pos_label`` (0/1, True/False, yes/no...).
    """
    values = _as_label_vector(index, y)
    pos = pos_label
    neg = next(c for c in classes if not c == pos)
    if all(v == pos or v == neg for v in pd.unique(values)):
        return np.fromiter((v == pos for v in values), dtype=bool,
                           count=len(values)).astype(int)
    return binary_target(index, values, None)[0]
