"""A fitted ARIMAForecaster as a plain JSON-ready dict (no pickle), and back.

The state: constructor parameters, fitted facts, the engine's fitted models (orders,
coefficients, residuals; the Akaike-weighted or bagged members) and the aggregate series it
was fitted on. Every engine round-trips exactly: the loaded forecaster forecasts the same
numbers. Used by :meth:`ARIMAForecaster.save`/``load`` and the MLflow pyfunc model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crm_ml.forecast.arima.engines import (
    AutoArimaEngine,
    BaggedArimaEngine,
    FastArimaEngine,
    SimpleEngine,
)

_STATE = ("freq_", "season_length_", "m_fit_", "lambda_", "fallback_", "notes_", "clip_",
          "exog_columns_", "n_filled_")
#: constructor parameters that no longer exist; files saved with them still load
_REMOVED_PARAMS = ("track", "backtest_windows")
#: the ARIMA engine classes by the ``type`` name they are saved under
_ARIMA_ENGINES = {"arima": AutoArimaEngine, "fast_arima": FastArimaEngine,
                  "bagged_arima": BaggedArimaEngine}


def _encode(obj):
    if isinstance(obj, np.ndarray):
        return {"__nd__": obj.tolist(), "dtype": str(obj.dtype), "shape": list(obj.shape)}
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return {"__float__": str(obj)}
    return obj


def _decode(obj):
    if isinstance(obj, dict):
        if "__nd__" in obj:
            return np.asarray(obj["__nd__"], dtype=obj["dtype"]).reshape(obj["shape"])
        if "__tuple__" in obj:
            return tuple(_decode(v) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def to_dict(f) -> dict:
    """JSON-ready state of a fitted :class:`~crm_ml.forecast.ARIMAForecaster`."""
    f._check_fitted()
    eng = f.engine_
    kind = next((k for k, cls in _ARIMA_ENGINES.items() if isinstance(eng, cls)), None)
    if kind:
        engine = {"type": kind, "season_length": eng.season_length, "model": eng.model}
        if kind == "bagged_arima":  # how the copies were made, for the record
            engine.update(n_bagged=eng.n_bagged, random_state=eng.random_state)
        elif kind == "fast_arima":
            engine.update(n_averaged=eng.n_averaged)
    else:
        engine = {"type": "simple", "kind": eng.kind, "season_length": eng.season_length,
                  "last": eng.last, "level_": eng.level_, "sigma": eng.sigma,
                  "n_obs": eng.n_obs}
    state = {k: getattr(f, k) for k in _STATE}
    history = {"index": [str(t) for t in f.y_.index], "values": f.y_.to_numpy(),
               "name": f.y_.name}
    return _encode({"params": f.get_params(), "state": state, "engine": engine,
                    "history": history})


def from_dict(d: dict, cls):
    """Rebuild a fitted ``cls`` (:class:`~crm_ml.forecast.ARIMAForecaster`) from
    :func:`to_dict`'s output."""
    d = _decode(d)
    params = {k: v for k, v in d["params"].items() if k not in _REMOVED_PARAMS}
    f = cls(**params)
    for k, v in d["state"].items():
        setattr(f, k, v)
    e = d["engine"]
    if e["type"] in _ARIMA_ENGINES:
        options = {k: e[k] for k in ("n_bagged", "random_state", "n_averaged") if k in e}
        f.engine_ = _ARIMA_ENGINES[e["type"]](e["season_length"], **options)
        f.engine_.model = e["model"]
    else:
        f.engine_ = SimpleEngine(e["kind"], e["season_length"], np.asarray(e["last"]),
                                 e["level_"], e["sigma"], e["n_obs"])
    h = d["history"]
    idx = pd.DatetimeIndex(pd.to_datetime(h["index"]), freq=f.freq_, name="timestamp") \
        if f.freq_ else pd.RangeIndex(len(h["values"]))
    f.y_ = pd.Series(h["values"], index=idx, name=h["name"])
    f.X_ = None
    f.last_forecast_ = None
    return f
