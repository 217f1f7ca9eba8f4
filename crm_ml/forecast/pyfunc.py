"""A fitted ARIMAForecaster as JSON and as an MLflow pyfunc model.

The state (orders, coefficients, state-space matrices, the aggregate history it was fitted on)
is written as plain JSON - no pickle. The pyfunc takes a frame with a column ``h`` (and
optionally ``level``) and returns ``timestamp``, ``forecast``, ``lower``, ``upper``.
"""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from crm_ml.forecast import _state
from crm_ml.forecast.forecaster import ARIMAForecaster


def forecaster_to_dict(f) -> dict:
    """JSON-ready state of a fitted :class:`~crm_ml.forecast.ARIMAForecaster`."""
    return _state.to_dict(f)


def forecaster_from_dict(d: dict) -> ARIMAForecaster:
    """Rebuild a fitted :class:`~crm_ml.forecast.ARIMAForecaster` from :func:`forecaster_to_dict`."""
    return _state.from_dict(d, ARIMAForecaster)


def save_forecaster(f, path) -> Path:
    """Write a fitted forecaster to ``path`` (JSON); same as ``f.save(path)``."""
    return f.save(path)


def load_forecaster(path):
    """Read a forecaster written by :func:`save_forecaster`: an ARIMAForecaster, or a
    :class:`~crm_ml.forecast.CombinationForecaster` when the file says so."""
    import json

    if json.loads(Path(path).read_text()).get("type") == "combination":
        from crm_ml.forecast.combination import CombinationForecaster

        return CombinationForecaster.load(path)
    return ARIMAForecaster.load(path)


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
