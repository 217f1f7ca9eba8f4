"""MLflow pyfunc model for CLV: parameters as JSON, per-customer summary in, CLV out.

Input: one row per customer with ``frequency``, ``recency``, ``T`` (model time unit) and
``monetary_value`` -- the columns of :func:`crm_ml.features.customer_summary` -- and, for a
model whose ``method_`` is ``"hybrid"``, ``total_spend`` (spend up to ``as_of``, first purchase included; :func:`input_columns`).
A hybrid model's signature adds ``total_spend`` as an optional column
(:data:`OPTIONAL_IN_SIGNATURE`): batch scoring passes it, and :mod:`crm_ml.serve` passes it
when the caller gives it; without it a hybrid falls back to its probabilistic ``clv`` with a
:class:`crm_ml.clv.CLVAssumptionWarning` (:meth:`CLVModel.predict`). Rows come back
in input order (MLflow's signature enforcement drops a ``customer_id`` column, so callers
reattach ids by position, as :mod:`crm_ml.serve` does; without enforcement a ``customer_id``
column becomes the index). Output: ``expected_purchases``, ``p_alive``,
``expected_value``, ``clv``, ``clv_tier`` (tiers by the absolute CLV cut-offs of the training
customers, so scoring one customer gives the same tier as scoring all of them).
``params`` at predict time may override ``horizon``, ``discount_rate`` and ``margin``, and
set ``range_check`` / ``range_tolerance``: inputs are checked against the training ranges
stored in the ``input_ranges`` artifact first (:mod:`crm_ml.features.ranges`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd

from crm_ml.errors import DataValidationError
from crm_ml.features.ranges import RANGES_FILE, InputRanges, check_inputs, load_input_ranges

INPUT_COLUMNS = ["frequency", "recency", "T", "monetary_value"]
#: A hybrid model's signature holds total_spend as an optional column
#: (crm_ml.serve.required_fields demands only the required ones)
OPTIONAL_IN_SIGNATURE = True


def input_columns(model) -> list[str]:
    """The summary columns ``model`` predicts from: :data:`INPUT_COLUMNS`, plus
    ``total_spend`` when its ``method_`` is ``"hybrid"``."""
    hybrid = getattr(model, "method_", "probabilistic") == "hybrid"
    return INPUT_COLUMNS + ["total_spend"] if hybrid else list(INPUT_COLUMNS)


class CLVPyfuncModel(mlflow.pyfunc.PythonModel):
    """Stateless wrapper; the fitted state is the ``params`` JSON artifact."""

    def load_context(self, context):
        from crm_ml.clv.model import CLVModel
        from crm_ml.tracking.serialization import load_json

        self.spec = load_json(context.artifacts["params"], required=(
            "model", "horizon", "discount_rate", "margin", "tier_thresholds"))
        self.model = CLVModel.from_dict(self.spec["model"])
        self.columns = input_columns(self.model)
        # models logged before ranges were stored have no "input_ranges": rules only
        self.input_ranges = load_input_ranges(context.artifacts.get("input_ranges"),
                                              INPUT_COLUMNS, never_negative=INPUT_COLUMNS)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        params = dict(params or {})
        df = pd.DataFrame(model_input)
        columns = [c for c in getattr(self, "columns", INPUT_COLUMNS)
                   if c in INPUT_COLUMNS or c in df.columns]  # total_spend is optional
        missing = [c for c in INPUT_COLUMNS if c not in df.columns]
        if missing:
            raise DataValidationError(f"input lacks column(s) {missing}; expected {columns}",
                                      column=missing[0], rule="required column")
        ids = df["customer_id"].astype(str).to_numpy() if "customer_id" in df.columns else None
        check_inputs(self.input_ranges, df, params, "the CLV model")
        if ids is not None:
            df = df.set_index(pd.Index(ids))
        df.index.name = "customer_id"
        spec = self.spec
        out = self.model.predict(
            horizon=float(params.get("horizon", spec["horizon"])),
            discount_rate=float(params.get("discount_rate", spec["discount_rate"])),
            margin=float(params.get("margin", spec["margin"])),
            summary=df[columns], tier_thresholds=tuple(spec["tier_thresholds"]))
        out["clv_tier"] = out["clv_tier"].astype(str)
        return out


def model_spec(model, horizon: float = 52, discount_rate: float = 0.0,
               margin: float = 1.0) -> dict:
    """The JSON spec stored with the pyfunc: parameters, defaults and tier cut-offs."""
    import warnings

    summary = getattr(model, "summary_", None)
    if summary is not None and not OPTIONAL_IN_SIGNATURE:  # cut-offs of what it will serve
        summary = summary[INPUT_COLUMNS]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = model.predict(horizon, discount_rate, margin, summary=summary)
    return {"model": model.to_dict(), "horizon": float(horizon),
            "discount_rate": float(discount_rate), "margin": float(margin),
            "tier_thresholds": list(model.tier_thresholds(pred["clv"]))}


def input_example(time_unit: str = "W", hybrid: bool = False) -> pd.DataFrame:
    """Three synthetic customers (never real rows); with ``total_spend`` for a hybrid."""
    scale = {"D": 7.0, "W": 1.0, "M": 7 / 30.4375}[time_unit]
    out = pd.DataFrame({"frequency": [0.0, 2.0, 6.0],
                        "recency": np.array([0.0, 10.0, 30.0]) * scale,
                        "T": np.array([20.0, 30.0, 40.0]) * scale,
                        "monetary_value": [0.0, 25.0, 60.0]})
    if hybrid:
        out["total_spend"] = [30.0, 80.0, 400.0]
    return out


def signature(model):
    """The pyfunc's MLflow signature: the four summary columns required, ``total_spend``
    optional for a hybrid model (None for a probabilistic one: inferred as before)."""
    from mlflow.models import infer_signature
    from mlflow.types.schema import ColSpec, Schema

    if len(input_columns(model)) == len(INPUT_COLUMNS) or not OPTIONAL_IN_SIGNATURE:
        return None
    example = input_example(model.time_unit, hybrid=True)
    out = model.predict(1.0, summary=example)
    out["clv_tier"] = out["clv_tier"].astype(str)
    sig = infer_signature(example, out.reset_index(drop=True))
    sig.inputs = Schema([ColSpec(c.type, c.name, required=c.name != "total_spend")
                         for c in sig.inputs.inputs])
    return sig


def save_artifacts(model, directory, **spec_kwargs) -> dict[str, str]:
    """Write the pyfunc's artifacts into ``directory``: the parameters JSON and, when the
    model still holds its training summary, the training ranges of its inputs."""
    from crm_ml.tracking.serialization import save_json

    d = Path(directory)
    paths = {"params": str(save_json(model_spec(model, **spec_kwargs), d / "clv_params.json"))}
    summary = getattr(model, "summary_", None)
    if summary is not None:  # None: a model rebuilt with from_dict (no customer data)
        ranges = InputRanges.from_training(summary, INPUT_COLUMNS,
                                           never_negative=INPUT_COLUMNS)
        paths["input_ranges"] = str(ranges.save(d / RANGES_FILE))
    return paths


def save_pyfunc(model, path, **spec_kwargs) -> Path:
    """Save the model as an MLflow pyfunc directory at ``path`` (no tracking server needed).

    Like every crm_ml model it is a model from code (no pickle), so
    :func:`crm_ml.tracking.trust.load_trusted` accepts it.
    """
    from crm_ml.tracking.models import _model_code_file

    with tempfile.TemporaryDirectory() as tmp:
        mlflow.pyfunc.save_model(str(path),
                                 python_model=_model_code_file(CLVPyfuncModel(), tmp),
                                 artifacts=save_artifacts(model, tmp, **spec_kwargs),
                                 input_example=input_example(model.time_unit),
                                 signature=signature(model))
    return Path(path)
