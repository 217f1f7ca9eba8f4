"""Predict functions for other backends: registered champions, loaded once, thread-safe.

>>> from crm_ml.serve import predict_churn
>>> predict_churn([{"customer_id": "42", "recency_days": 12, ...}])   # doctest: +SKIP

Each function takes a DataFrame, a list of dicts (one per customer) or one dict, loads the
registered model (``models:/NAME@champion`` by default) on first use and keeps it in a
process-wide cache guarded by a lock, checks that every field the model's signature needs is
present, checks numeric fields against the ranges the model was trained on, and returns a
DataFrame indexed by ``customer_id`` when the input carries one.

Range check (:mod:`crm_ml.features.ranges`): ``inf``/``-inf`` (and numbers beyond float32's
range, about 3.4e38) and a negative duration or count are always refused; a value outside
``[min - t * width, max + t * width]`` of the training values (``width = max - min``,
``t = range_tolerance``, default 1) is refused with ``range_check="refuse"`` (the default),
scored with an :class:`~crm_ml.features.ranges.InputRangeWarning` with ``"warn"``, and not
looked at with ``"off"``. Missing values (None) pass where the model accepts them. The refusal is a
:class:`crm_ml.DataValidationError` naming the field, the rule, the allowed range and up to
five offending records (customer ids, or positions when the records carry none).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from crm_ml.data._coerce import to_id, to_object
from crm_ml.errors import DataValidationError
from crm_ml.features.ranges import DEFAULT_TOLERANCE
from crm_ml.model_names import CHURN, CLV, RECOMMEND, SEGMENTS, UPLIFT
from crm_ml.tracking.registry import load_model
from crm_ml.tracking.runs import tracking_uri

CHURN_MODEL = CHURN
CLV_MODEL = CLV
SEGMENT_MODEL = SEGMENTS
RECOMMEND_MODEL = RECOMMEND
UPLIFT_MODEL = UPLIFT

_cache: dict[tuple[str, str, str], Any] = {}
_lock = threading.Lock()


def get_model(name: str, alias: str = "champion"):
    """The pyfunc model ``models:/name@alias`` from the cache, loading it once.

    Raises
    ------
    crm_ml.ModelNotFoundError
        When the registry has no such model or alias.
    """
    key = (tracking_uri(), name, str(alias))
    model = _cache.get(key)
    if model is None:
        with _lock:
            model = _cache.get(key)
            if model is None:
                model = load_model(name, str(alias))
                _cache[key] = model
    return model


def clear_cache() -> None:
    """Forget loaded models (e.g. after a new champion was promoted)."""
    with _lock:
        _cache.clear()


def _as_frame(records) -> tuple[pd.DataFrame, dict[str, list[int]]]:
    """The records as a frame, and for each key the positions of the records that lack it."""
    if isinstance(records, pd.DataFrame):
        return records.copy(), {}
    if isinstance(records, Mapping):
        return pd.DataFrame({k: [v] for k, v in records.items()}), {}
    if isinstance(records, Sequence) and not isinstance(records, str | bytes):
        if not all(isinstance(r, Mapping) for r in records):
            raise DataValidationError(
                "records: expected a DataFrame, a dict or a list of dicts (one per customer)",
                column="records", rule="type")
        # columns from lists: several times faster than pandas' list-of-dicts path, which
        # matters for one-customer calls
        keys = list(dict.fromkeys(k for r in records for k in r))
        absent = {k: [i for i, r in enumerate(records) if k not in r] for k in keys}
        frame = pd.DataFrame({k: [r.get(k) for r in records] for k in keys})
        return frame, {k: rows for k, rows in absent.items() if rows}
    raise DataValidationError(
        f"records: expected a DataFrame, a dict or a list of dicts, got {type(records).__name__}",
        column="records", rule="type")


def required_fields(model) -> list[str]:
    """Required input column names of a pyfunc model's signature (empty when it has none).

    Columns the signature marks optional (``required=False``, e.g. a hybrid CLV model's
    ``total_spend``) are passed on when the caller gives them, never demanded.
    """
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return []
    return [spec.name for spec in schema.inputs if getattr(spec, "required", True)]


def _match_types(model, frame: pd.DataFrame) -> pd.DataFrame:
    """Cast whole-number inputs to float where the signature wants floats.

    JSON and hand-written dicts give ``3`` for ``3.0``; MLflow's schema check would refuse it.
    """
    schema = model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return frame
    kinds = {name: dtype.kind for name, dtype in frame.dtypes.items()}
    # integer, unsigned, boolean or object (mixed / text) columns where floats are wanted
    to_cast = [spec.name for spec in schema.inputs
               if getattr(spec.type, "name", "") in ("double", "float")
               and kinds.get(spec.name, "f") in "iubO"]
    if not to_cast:
        return frame
    frame = frame.copy()
    for name in to_cast:
        try:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        except (TypeError, ValueError) as exc:
            bad = frame[name][pd.to_numeric(frame[name], errors="coerce").isna()
                              & frame[name].notna()]
            raise DataValidationError(
                f"{name}: must be a number (rule: numeric field); offending rows: "
                f"{bad.head(5).to_dict()}", column=name, rule="numeric",
                rows=bad.index[:5].tolist()) from exc
    return frame


def _python_model(model):
    """The crm_ml wrapper inside a pyfunc model.

    Calling it directly skips MLflow's schema enforcement, which rebuilds the frame column by
    column and is the largest cost of a one-customer call; :func:`_predict` has already done
    the checks that matter here (every signature field present, numbers as floats).
    """
    return model.unwrap_python_model()


def _predict(name: str, records, alias: str, range_check: str = "refuse",
             range_tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    frame, absent = _as_frame(records)
    if frame.empty:
        raise DataValidationError("records: no customers given", column="records",
                                  rule="non-empty")
    if "customer_id" not in frame.columns and frame.index.name == "customer_id":
        frame = frame.reset_index()
    has_ids = "customer_id" in frame.columns
    if has_ids:  # the same id strings as standardize gives the batch tables (12346.0 -> "12346")
        frame["customer_id"] = to_object(to_id(frame["customer_id"])[0]).astype(str)
    model = get_model(name, alias)
    needed = required_fields(model)
    if "customer_id" in needed and not has_ids:
        # The model keys its output by customer_id; row numbers stand in for missing ids.
        frame["customer_id"] = [str(i) for i in range(len(frame))]
    missing = [c for c in needed if c not in frame.columns]
    partly = [c for c in needed if c in absent]
    if partly:
        # a record without a field is more likely a bug than an unknown value (pass None)
        raise DataValidationError(
            f"{partly[0]}: missing from record(s) {absent[partly[0]][:5]} (rule: every record "
            f"gives every field of model {name}@{alias}; use None for an unknown value)",
            column=partly[0], rule="required field", rows=absent[partly[0]][:5])
    if missing:
        raise DataValidationError(
            f"{', '.join(missing)}: required by model {name}@{alias} but missing from the input "
            f"(rule: every field of the model's signature must be given; got columns "
            f"{sorted(frame.columns)[:20]})", column=missing[0], rule="required field")
    ids = frame["customer_id"].to_numpy() if has_ids else None
    frame = _match_types(model, frame[needed] if needed else frame)
    # the wrapper checks the ranges (crm_ml.features.ranges.check_inputs); the ids name the
    # offending records, as the model's input may lack them
    params = {"range_check": range_check, "range_tolerance": range_tolerance,
              "row_labels": ids}
    out = _python_model(model).predict(None, frame, params=params)
    out = out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)
    out = out.drop(columns="customer_id", errors="ignore").reset_index(drop=True)
    if ids is not None:
        out.index = pd.Index(ids, name="customer_id")
    return out


def predict_churn(records, alias: str = "champion", name: str = CHURN_MODEL, *,
                  range_check: str = "refuse",
                  range_tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Churn probability for customers given their feature fields.

    Parameters
    ----------
    records : DataFrame, dict or list of dicts
        One row per customer with the fields of the churn feature table
        (``crm_ml.features.build``); ``customer_id`` optional.
    alias : str, default "champion"
        Registry alias (or version number) of ``name``.
    name : str, default :data:`crm_ml.model_names.CHURN`
    range_check : {"refuse", "warn", "off"}, default "refuse"
        What a value outside the training range (widened by ``range_tolerance``) does:
        refuse the call, score with a warning, or nothing. Infinite values and negative
        durations or counts are refused whatever this says.
    range_tolerance : float, default 1.0
        How many training-range widths a value may lie beyond the training extremes.

    Returns
    -------
    DataFrame
        ``churn_probability`` (and any other columns the model documents).

    Raises
    ------
    crm_ml.DataValidationError
        A field is missing or not a number, or a value is impossible or (by default) far
        outside the training range; the message names the field, rule and records.
    """
    return _predict(name, records, alias, range_check, range_tolerance)


def predict_clv(records, alias: str = "champion", name: str = CLV_MODEL, *,
                range_check: str = "refuse",
                range_tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Expected purchases, p_alive and CLV from each customer's purchase summary.

    ``records`` holds ``frequency``, ``recency``, ``T`` and ``monetary_value`` in the model's
    time unit (``crm_ml.clv.purchase_summary(tx, as_of, time_unit)``); all four are never
    negative. ``range_check`` and ``range_tolerance`` are as in :func:`predict_churn`.
    """
    return _predict(name, records, alias, range_check, range_tolerance)


def assign_segment(records, alias: str = "champion", name: str = SEGMENT_MODEL, *,
                   range_check: str = "refuse",
                   range_tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Cluster segment (label and name) for customers given their feature fields.

    ``range_check`` and ``range_tolerance`` are as in :func:`predict_churn`.
    """
    return _predict(name, records, alias, range_check, range_tolerance)


def _recent_rows(customer_id: str, recent_products) -> dict[str, list]:
    """Long-form history columns of one customer from ids, (id, timestamp) pairs or dicts."""
    if recent_products is None:
        recent_products = []
    if isinstance(recent_products, str | bytes | Mapping) \
            or not hasattr(recent_products, "__iter__"):
        raise DataValidationError(
            "recent_products: expected a list of product ids, of (product_id, timestamp) "
            f"pairs or of dicts, got {type(recent_products).__name__}",
            column="recent_products", rule="type")
    products, stamps = [], []
    for item in recent_products:
        if isinstance(item, Mapping):
            products.append(item.get("product_id"))
            stamps.append(item.get("timestamp"))
        elif isinstance(item, tuple | list) and len(item) == 2:
            products.append(item[0])
            stamps.append(item[1])
        else:
            products.append(item)
            stamps.append(None)
    if not products:  # no history: one row without a product (popular items)
        products, stamps = [None], [None]
    rows = {"customer_id": [customer_id] * len(products), "product_id": products}
    if any(t is not None for t in stamps):
        rows["timestamp"] = stamps
    return rows


def recommend_products(customer_id, recent_products, k: int = 10, segment=None, *,
                       alias: str = "champion", name: str = RECOMMEND_MODEL,
                       exclude_purchased: bool = True) -> pd.DataFrame:
    """The next ``k`` products for one customer, from the products they bought recently.

    The registered model holds no customer ids, so the caller sends the customer's recent
    purchases (from the CRM backend or the transactions).

    Parameters
    ----------
    customer_id : str
        Echoed in the output.
    recent_products : list
        Product ids the customer bought (most relevant: the last months), or
        ``(product_id, timestamp)`` pairs, or dicts with ``product_id`` and ``timestamp``
        (recent purchases weigh more). Empty: the customer gets popular items.
    k : int, default 10
        Number of products.
    segment : str, optional
        The customer's segment (e.g. region) when the model was fitted with one: its popular
        items fill in for customers with little history.
    alias : str, default "champion"
        Registry alias (or version number) of ``name``.
    name : str, default :data:`crm_ml.model_names.RECOMMEND`
    exclude_purchased : bool, default True
        Leave out the products in ``recent_products``.

    Returns
    -------
    DataFrame
        ``customer_id, rank, product_id, score, reason`` (rank 1..k; fewer rows when the
        catalogue is smaller); products the model never saw are ignored in the input.

    Raises
    ------
    crm_ml.DataValidationError
        ``customer_id`` empty, ``recent_products`` not a list, a timestamp that is not a
        date, or ``k`` < 1.
    crm_ml.ModelNotFoundError
        No such registered model or alias.
    """
    from crm_ml.recommend.pyfunc import OUTPUT_COLUMNS, check_k, parse_timestamps

    if customer_id is None or str(customer_id).strip() == "":
        raise DataValidationError("customer_id: empty (rule: name the customer)",
                                  column="customer_id", rule="non-empty")
    k = check_k(k)
    customer = str(to_object(to_id(pd.Series([customer_id]))[0])[0])
    rows = _recent_rows(customer, recent_products)
    rows["product_id"] = [None if p is None or p != p or str(p).strip() == "" else str(p)
                          for p in rows["product_id"]]
    if "timestamp" in rows:
        stamps = parse_timestamps(pd.Series(rows["timestamp"], dtype=object))
        bad = [i for i, (raw, ts) in enumerate(zip(rows["timestamp"], stamps, strict=True))
               if raw is not None and ts is pd.NaT]
        if bad:
            raise DataValidationError(
                f"timestamp: not a date in recent_products item(s) {bad[:5]}",
                column="timestamp", rule="date", rows=bad[:5])
        rows["timestamp"] = stamps
    model = get_model(name, alias)
    # the pyfunc's own path (crm_ml.recommend.pyfunc.recommend_rows) without its frame checks,
    # done above on the lists: they are most of a one-customer call's cost
    segments = None if segment is None else pd.Series({customer: str(segment)})
    out = _python_model(model).model.recommend_for(
        pd.DataFrame(rows), k=k, exclude_purchased=exclude_purchased, segments=segments)
    return out.reset_index(drop=True)[OUTPUT_COLUMNS]


def predict_uplift(records, alias: str = "champion", name: str = UPLIFT_MODEL, *,
                   range_check: str = "refuse",
                   range_tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """Campaign uplift and response probability for customers given their feature fields.

    ``records`` holds the fields of the feature table the uplift model was fitted on
    (``crm_ml.features.build``, as :func:`crm_ml.campaigns.uplift_frame` gives them).
    ``range_check`` and ``range_tolerance`` are as in :func:`predict_churn`.

    Returns
    -------
    DataFrame
        ``uplift`` (change in the probability to convert when contacted) and
        ``response_probability`` (P(convert | contacted)).
    """
    return _predict(name, records, alias, range_check, range_tolerance)
