"""A fitted ARIMAForecaster as JSON and as an MLflow pyfunc model.

The state (orders, coefficients, state-space matrices, the aggregate history it was fitted on)
is written as plain JSON - no pickle. The pyfunc takes a frame with a column ``h`` (and
optionally ``level``) and returns ``timestamp``, ``forecast``, ``lower``, ``upper``.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

_STATE = ("freq_", "season_length_", "m_fit_", "lambda_", "fallback_", "notes_", "clip_",
          "exog_columns_", "n_filled_")


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


def _arima_engines() -> dict:
    """The ARIMA engine classes by the ``type`` name they are saved under."""
    from crm_ml.forecast.arima.engines import AutoArimaEngine, BaggedArimaEngine, FastArimaEngine

    return {"arima": AutoArimaEngine, "fast_arima": FastArimaEngine,
            "bagged_arima": BaggedArimaEngine}


def forecaster_to_dict(f) -> dict:
    """JSON-ready state of a fitted :class:`~crm_ml.forecast.ARIMAForecaster`."""
    f._check_fitted()
    eng = f.engine_
    kind = next((k for k, cls in _arima_engines().items() if isinstance(eng, cls)), None)
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
    params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in f.get_params().items()}
    state = {k: getattr(f, k) for k in _STATE}
    history = {"index": [str(t) for t in f.y_.index], "values": f.y_.to_numpy(),
               "name": f.y_.name}
    return _encode({"params": params, "state": state, "engine": engine, "history": history})


def forecaster_from_dict(d: dict):
    """Rebuild a fitted :class:`~crm_ml.forecast.ARIMAForecaster` from :func:`forecaster_to_dict`."""
    from crm_ml.forecast.arima.engines import SimpleEngine
    from crm_ml.forecast.forecaster import ARIMAForecaster

    d = _decode(d)
    f = ARIMAForecaster(**d["params"])
    for k, v in d["state"].items():
        setattr(f, k, v)
    e = d["engine"]
    engines = _arima_engines()
    if e["type"] in engines:
        options = {k: e[k] for k in ("n_bagged", "random_state", "n_averaged") if k in e}
        f.engine_ = engines[e["type"]](e["season_length"], **options)
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
    f.run_id_ = None
    return f


def save_forecaster(f, path) -> Path:
    """Write a fitted forecaster to ``path`` (JSON)."""
    path = Path(path)
    path.write_text(json.dumps(forecaster_to_dict(f)))
    return path


def load_forecaster(path):
    """Read a forecaster written by :func:`save_forecaster`."""
    return forecaster_from_dict(json.loads(Path(path).read_text()))


def forecast_signature():
    """The pyfunc's MLflow signature: whole-number ``h`` and optional ``level`` (80, 95...).

    Declared rather than inferred from an example, which would make ``level`` unknown to
    MLflow (dropped with a warning) or required, and ``h`` a double that refuses ``12``
    (MLflow will not cast integers to doubles).
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("long", "h"), ColSpec("long", "level", required=False)])
    outputs = Schema([ColSpec("long", "request"), ColSpec("string", "timestamp"),
                      ColSpec("double", "forecast"), ColSpec("double", "lower"),
                      ColSpec("double", "upper")])
    return ModelSignature(inputs=inputs, outputs=outputs)


class ForecastPyfunc(mlflow.pyfunc.PythonModel):
    """Pyfunc: input rows with ``h`` (and optional ``level``) -> the forecast table.

    Output columns: ``timestamp``, ``forecast``, ``lower``, ``upper`` (one block of ``h``
    rows per input row, with ``request`` = the input row number).
    """

    def load_context(self, context):
        self.forecaster = load_forecaster(context.artifacts["forecaster"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        out = []
        for i, row in enumerate(frame.itertuples(index=False)):
            h = int(row.h)
            level = float(getattr(row, "level", 95) or 95)
            fc = self.forecaster.predict(h, level=level).reset_index(names="timestamp")
            fc.insert(0, "request", i)
            fc["timestamp"] = fc["timestamp"].astype(str)
            out.append(fc)
        return pd.concat(out, ignore_index=True)
