"""Recommender files: ``recommender.json`` (parameters, products, tables) and ``arrays.npz``.

Nothing is pickled: the arrays are numeric or fixed-width text, read with
``allow_pickle=False``; the JSON records the SHA-256 of the NPZ, so arrays changed after
saving are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crm_ml.errors import DataValidationError, ModelFilesError, UntrustedModelError

SAVE_FORMAT = "crm_ml.recommend.Recommender/1"
SPEC_FILE = "recommender.json"
ARRAYS_FILE = "arrays.npz"


def _write_atomic(data: bytes, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _csr_arrays(prefix: str, m: sp.csr_matrix) -> dict:
    return {f"{prefix}_data": m.data, f"{prefix}_indices": m.indices.astype(np.int64),
            f"{prefix}_indptr": m.indptr.astype(np.int64),
            f"{prefix}_shape": np.asarray(m.shape, dtype=np.int64)}


def save(model, path, include_histories: bool = True) -> dict:
    """Write ``model`` to the folder ``path`` (see :meth:`Recommender.save`)."""
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"popular": model.popular_.to_numpy(dtype=np.float64),
              "products": np.asarray(model.products_.astype(str), dtype=str),
              "segment_popular": model.segment_popular_.to_numpy(dtype=np.float64)}
    if model.similarity_ is not None:
        arrays.update(_csr_arrays("similarity", model.similarity_))
    if model.item_factors_ is not None:
        arrays["item_factors"] = np.asarray(model.item_factors_, dtype=np.float32)
    keep_histories = include_histories and model.histories_ is not None
    if keep_histories:
        arrays.update(_csr_arrays("histories", model.histories_))
        arrays.update(_csr_arrays("last_bought", model.last_bought_))
        arrays["customer_ids"] = np.asarray(model.customer_ids_.astype(str), dtype=str)
        arrays["customer_id_is_int"] = _int_ids(model.customer_ids_)
        seg = model.customer_segments_
        arrays["segment_customer_ids"] = np.asarray(seg.index.astype(str), dtype=str)
        arrays["segment_customer_id_is_int"] = _int_ids(seg.index)
        arrays["customer_segments"] = np.asarray(
            ["" if v is None or v != v else str(v) for v in seg.to_numpy()], dtype=str)
        arrays["customer_has_segment"] = seg.notna().to_numpy()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    blob = buffer.getvalue()
    params = model.get_params()
    spec = {
        "format": SAVE_FORMAT,
        "params": params,
        "method": model.method_,
        "as_of": model.as_of_.isoformat(),
        "n_customers": int(model.n_customers_),
        "segments": [str(s) for s in model.segment_popular_.index],
        "selection": model.selection_,
        "backtest": None if model.backtest_ is None
        else json.loads(model.backtest_.to_json(orient="split")),
        "histories": bool(keep_histories),
        "customer_id_kind": _id_kind(model.customer_ids_) if keep_histories else None,
        "segment_id_kind": _id_kind(model.customer_segments_.index) if keep_histories
        else None,
        "arrays_sha256": hashlib.sha256(blob).hexdigest(),
    }
    arrays_path, spec_path = folder / ARRAYS_FILE, folder / SPEC_FILE
    _write_atomic(blob, arrays_path)
    _write_atomic(json.dumps(spec, indent=2).encode("utf-8"), spec_path)
    return {"spec": spec_path, "arrays": arrays_path}


def _int_ids(ids: pd.Index) -> np.ndarray:
    """Which ids are integers: stored per id, so ids of mixed types (``1`` and ``"1"``, or
    ints followed by strings) come back as they were fitted."""
    return np.fromiter((isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                        for v in ids), dtype=bool, count=len(ids))


def _restore_ids(arrays, name: str, flags: str, kind) -> np.ndarray:
    ids = arrays[name].astype(object)
    is_int = arrays.get(flags)
    if is_int is None:  # files written before the per-id flags
        return ids.astype(np.int64).astype(object) if kind == "int" else ids
    is_int = is_int.astype(bool)
    ids[is_int] = ids[is_int].astype(np.int64).astype(object)
    return ids


def _id_kind(ids: pd.Index) -> str:
    values = list(ids[:1000])
    if values and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                      for v in values):
        return "int"
    return "str"


def _csr(arrays, prefix: str, dtype) -> sp.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{prefix}_shape"])
    m = sp.csr_matrix((arrays[f"{prefix}_data"].astype(dtype), arrays[f"{prefix}_indices"],
                       arrays[f"{prefix}_indptr"]), shape=shape)
    m.check_format(full_check=True)
    return m


def load(cls, path):
    """Read a folder written by :func:`save` (see :meth:`Recommender.load`)."""
    from crm_ml.tracking.serialization import load_json

    folder = Path(path)
    spec = load_json(folder / SPEC_FILE, required=("format", "params", "arrays_sha256"))
    if spec.get("format") != SAVE_FORMAT:
        raise UntrustedModelError(
            f"Refusing to load {folder}: {SPEC_FILE} has format {spec.get('format')!r}, not "
            f"{SAVE_FORMAT!r}; it was not written by crm_ml's Recommender.save.")
    try:
        blob = (folder / ARRAYS_FILE).read_bytes()
    except OSError as exc:
        raise ModelFilesError(f"{folder / ARRAYS_FILE} is missing or unreadable ({exc}). "
                              "Restore it from a backup, or re-train the model.",
                              path=str(folder / ARRAYS_FILE)) from exc
    if hashlib.sha256(blob).hexdigest() != spec["arrays_sha256"]:
        raise ModelFilesError(
            f"{folder / ARRAYS_FILE} changed after it was saved (its SHA-256 does not match "
            f"{SPEC_FILE}); it is damaged or was edited. Restore it, or re-train the model.",
            path=str(folder / ARRAYS_FILE))
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError as exc:  # object arrays need pickle: refused
        raise UntrustedModelError(f"Refusing to load {folder / ARRAYS_FILE}: it holds Python "
                                  f"objects ({exc}); crm_ml never writes those.") from exc
    known = cls._get_param_names()
    if not isinstance(spec["params"], dict):
        raise ModelFilesError(f"{folder / SPEC_FILE}: params is not a mapping; the file is "
                              "damaged or was edited. Restore it, or re-train the model.",
                              path=str(folder / SPEC_FILE))
    params = {k: v for k, v in spec["params"].items() if k in known}
    try:
        model = cls(**params)
        model._check_params()
    except (DataValidationError, TypeError, ValueError) as exc:
        raise ModelFilesError(f"{folder / SPEC_FILE}: params are not what save writes ({exc});"
                              " the file is damaged or was edited. Restore it, or re-train "
                              "the model.", path=str(folder / SPEC_FILE)) from exc
    try:
        products = pd.Index(arrays["products"].astype(object), name="product_id")
        n_p = len(products)
        model.products_ = products
        model.popular_ = pd.Series(arrays["popular"].astype(np.float64), index=products,
                                   name="popularity")
        segs = spec.get("segments") or []
        model.segment_popular_ = pd.DataFrame(
            arrays["segment_popular"].reshape(len(segs), n_p),
            index=pd.Index(segs, name=model.segment_column), columns=products)
        model.method_ = spec["method"]
        model.as_of_ = pd.Timestamp(spec["as_of"])
        model.n_customers_ = int(spec["n_customers"])
        model.selection_ = dict(spec.get("selection") or {})
        b = spec.get("backtest")
        model.backtest_ = None if b is None else pd.DataFrame(b["data"], columns=b["columns"])
        model.similarity_ = _csr(arrays, "similarity", np.float32) \
            if "similarity_data" in arrays else None
        model.item_factors_ = arrays["item_factors"].astype(np.float32) \
            if "item_factors" in arrays else None
        if spec.get("histories"):
            ids = _restore_ids(arrays, "customer_ids", "customer_id_is_int",
                               spec.get("customer_id_kind"))
            model.customer_ids_ = pd.Index(ids, dtype=object, name="customer_id")
            model.histories_ = _csr(arrays, "histories", np.float32)
            model.last_bought_ = _csr(arrays, "last_bought", np.int32)
            seg_ids = _restore_ids(arrays, "segment_customer_ids", "segment_customer_id_is_int",
                                   spec.get("segment_id_kind"))
            seg_values = arrays["customer_segments"].astype(object)
            seg_values[~arrays["customer_has_segment"]] = None
            model.customer_segments_ = pd.Series(
                seg_values, index=pd.Index(seg_ids, dtype=object, name="customer_id"),
                dtype=object)
        else:
            model.customer_ids_ = pd.Index([], dtype=object, name="customer_id")
            model.histories_ = None
            model.last_bought_ = None
            model.customer_segments_ = None
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ModelFilesError(f"{folder}: the Recommender files are incomplete or "
                              f"inconsistent ({type(exc).__name__}: {exc}). Restore them, or "
                              "re-train the model.", path=str(folder)) from exc
    _check_shapes(model, folder)
    return model


def _check_shapes(model, folder: Path) -> None:
    n_p = len(model.products_)
    problems = []
    if model.method_ not in ("popular", "item_knn", "als"):
        problems.append(f"unknown method {model.method_!r}")
    if model.method_ == "item_knn" and (model.similarity_ is None
                                        or model.similarity_.shape != (n_p, n_p)):
        problems.append("item_knn without a products x products similarity")
    if model.method_ == "als" and (model.item_factors_ is None
                                   or model.item_factors_.shape[0] != n_p):
        problems.append("als without one factor row per product")
    if model.histories_ is not None and (
            model.histories_.shape != (len(model.customer_ids_), n_p)
            or model.last_bought_.shape != model.histories_.shape
            or not np.array_equal(model.last_bought_.indptr, model.histories_.indptr)):
        problems.append("customer histories do not match the customers and products")
    if problems:
        raise ModelFilesError(f"{folder}: inconsistent Recommender files: "
                              f"{'; '.join(problems)}. Restore them, or re-train the model.",
                              path=str(folder))
