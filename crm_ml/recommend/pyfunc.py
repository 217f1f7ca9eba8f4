"""The ``crm-recommend`` pyfunc model: each customer's recent products in, top-k products out.

The logged model holds product statistics only (item similarities or factors, popularity per
segment; :meth:`Recommender.save` with ``include_histories=False``), never a customer id. So
the input carries each customer's recent products, in long form, one row per purchase:

=============== ======================================================================
``customer_id`` the customer (any string; echoed in the output)
``product_id``  a product the customer bought recently; empty (None) for a customer with
                no purchases, who gets popular items
``timestamp``   optional: when it was bought (recent purchases weigh more)
``segment``     optional: the customer's segment (e.g. region), whose popular items fill
                in when the history says little
=============== ======================================================================

Output: ``customer_id, rank, product_id, score, reason``, the top ``k`` per customer (one block
per customer, in order of first appearance; ``k`` is a predict-time param, default 10;
``exclude_purchased``, default True, leaves out products in the customer's input rows).
Products the model never saw in fit are ignored in the input and never recommended.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from crm_ml.data.windows import utc_naive
from crm_ml.errors import DataValidationError

#: Output columns, in order.
OUTPUT_COLUMNS = ["customer_id", "rank", "product_id", "score", "reason"]
#: Input columns: required, then optional.
REQUIRED_INPUTS = ["customer_id", "product_id"]
OPTIONAL_INPUTS = ["timestamp", "segment"]
#: Default number of recommendations per customer.
DEFAULT_K = 10
MODEL_FOLDER = "recommender"


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"customer_id": pd.Series(dtype=object),
                         "rank": pd.Series(dtype="int64"),
                         "product_id": pd.Series(dtype=object),
                         "score": pd.Series(dtype="float64"),
                         "reason": pd.Series(dtype=object)})


def check_k(value) -> int:
    """``value`` as the number of recommendations (a whole number >= 1), else a typed error."""
    try:
        k = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        k = 0
    if k < 1 or isinstance(value, bool) or (isinstance(value, float) and value != k):
        raise DataValidationError(f"k: must be a whole number >= 1, got {value!r}",
                                  column="k", rule="k >= 1")
    return k


def parse_timestamps(values) -> pd.Series:
    """Dates of a history as naive UTC (time-zone-aware ones converted, naive ones taken as
    UTC, as everywhere in crm_ml); NaT where a value is missing or not a date.

    Mixed inputs (``"2024-01-01T00:00:00+05:00"`` beside ``"2024-01-02"``, or several
    offsets) are read value by value: pandas would refuse them, or read the naive ones as NaT.
    """
    raw = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return utc_naive(raw)
    try:  # the common case, ISO dates or datetimes: no format guessing
        ts = pd.to_datetime(raw, format="ISO8601", utc=True)
    except (TypeError, ValueError):
        ts = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    return ts.dt.tz_localize(None)


def check_history(frame) -> pd.DataFrame:
    """The input frame checked and normalised: ids as strings, missing products as None.

    Raises
    ------
    DataValidationError
        When ``frame`` is not a DataFrame, lacks ``customer_id`` or ``product_id``, has an
        empty ``customer_id``, or a ``timestamp`` that is not a date.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataValidationError(
            f"input: expected a DataFrame with columns {REQUIRED_INPUTS}, got "
            f"{type(frame).__name__}", column="input", rule="DataFrame")
    missing = [c for c in REQUIRED_INPUTS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{missing[0]}: column is missing; the input needs {REQUIRED_INPUTS} (one row per "
            f"recent purchase; product_id None for a customer with none) and may have "
            f"{OPTIONAL_INPUTS}; got {sorted(map(str, frame.columns))[:20]}",
            column=missing[0], rule="required column")
    df = frame[[c for c in REQUIRED_INPUTS + OPTIONAL_INPUTS if c in frame.columns]]
    df = df.reset_index(drop=True)
    no_id = df["customer_id"].isna() | (df["customer_id"].astype(str).str.strip() == "")
    if no_id.any():
        rows = list(np.flatnonzero(no_id.to_numpy())[:5])
        raise DataValidationError(
            f"customer_id: empty in row(s) {rows} (rule: every row names its customer)",
            column="customer_id", rule="non-empty", rows=rows)
    df = df.assign(customer_id=df["customer_id"].astype(str))
    product = df["product_id"]
    blank = product.isna() | (product.astype(str).str.strip() == "")
    df = df.assign(product_id=product.astype(str).where(~blank, None))
    if "timestamp" in df.columns:
        ts = parse_timestamps(df["timestamp"])
        bad = ts.isna() & df["timestamp"].notna()
        if bad.any():
            rows = list(np.flatnonzero(bad.to_numpy())[:5])
            raise DataValidationError(
                f"timestamp: not a date in row(s) {rows}: "
                f"{df['timestamp'][bad].head(3).tolist()}", column="timestamp",
                rule="date", rows=rows)
        df = df.assign(timestamp=ts)
    return df


def recommend_rows(model, frame: pd.DataFrame, k: int = DEFAULT_K,
                   exclude_purchased: bool = True) -> pd.DataFrame:
    """Top-``k`` recommendations for the customers of a long-form history frame.

    The path of the pyfunc and of ``crm-ml score`` (:func:`crm_ml.serve.recommend_products`
    makes the same checks on its lists, then calls ``recommend_for`` the same way).

    Parameters
    ----------
    model : Recommender
        Fitted (typically loaded without histories).
    frame : DataFrame
        As described in the module docstring (checked by :func:`check_history`); the
        ``segment`` of a customer is taken from their first row that has one.
    k : int
        Recommendations per customer (>= 1).
    exclude_purchased : bool
        Leave out the products in the customer's rows.

    Returns
    -------
    DataFrame
        :data:`OUTPUT_COLUMNS`, one block of up to ``k`` rows per customer, customers in order
        of first appearance.
    """
    k = check_k(k)
    df = check_history(frame)
    if df.empty:
        return _empty()
    segments = None
    if "segment" in df.columns:
        seg = df.dropna(subset=["segment"]).drop_duplicates("customer_id")
        segments = pd.Series(seg["segment"].astype(str).to_numpy(),
                             index=pd.Index(seg["customer_id"], name="customer_id"),
                             name="segment")
    # customers without a product keep a row (product None): they get popular items
    history = df[[c for c in ("customer_id", "product_id", "timestamp") if c in df]]
    out = model.recommend_for(history, k=k, exclude_purchased=exclude_purchased,
                              segments=segments)
    out = out.reset_index(drop=True)[OUTPUT_COLUMNS]
    return out.astype({"rank": "int64", "score": "float64"})


class RecommendPyfuncModel(mlflow.pyfunc.PythonModel):
    """Stateless wrapper; the fitted state is the recommender folder (JSON + NPZ) artifact."""

    def load_context(self, context):
        from crm_ml.recommend.model import Recommender

        self.model = Recommender.load(context.artifacts["model"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        params = dict(params or {})
        return recommend_rows(self.model, pd.DataFrame(model_input),
                              k=params.get("k", DEFAULT_K),
                              exclude_purchased=bool(params.get("exclude_purchased", True)))


def save_artifacts(model, directory) -> dict[str, str]:
    """Save ``model`` without customer histories into ``directory``; the artifacts dict."""
    path = Path(directory) / MODEL_FOLDER
    model.save(path, include_histories=False)
    return {"model": str(path)}


def input_example(model) -> pd.DataFrame:
    """Two synthetic customers who bought the model's two most popular products (never real
    rows or ids)."""
    top = [str(p) for p in model.popular_.sort_values(ascending=False).index[:2]]
    top = (top * 2)[:2]
    when = pd.Timestamp(model.as_of_).normalize()
    return pd.DataFrame({"customer_id": ["synthetic-1", "synthetic-2"], "product_id": top,
                         "timestamp": [when - pd.Timedelta(days=30),
                                       when - pd.Timedelta(days=7)]})


def signature(model):
    """``customer_id`` and ``product_id`` required, ``timestamp`` and ``segment`` optional;
    the output columns; params ``k`` (default 10) and ``exclude_purchased`` (default True)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "customer_id"), ColSpec("string", "product_id"),
                     ColSpec("datetime", "timestamp", required=False),
                     ColSpec("string", "segment", required=False)])
    outputs = Schema([ColSpec("string", "customer_id"), ColSpec("long", "rank"),
                      ColSpec("string", "product_id"), ColSpec("double", "score"),
                      ColSpec("string", "reason")])
    params = ParamSchema([ParamSpec("k", "long", DEFAULT_K),
                          ParamSpec("exclude_purchased", "boolean", True)])
    return ModelSignature(inputs=inputs, outputs=outputs, params=params)
