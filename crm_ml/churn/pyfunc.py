"""The churn model as an MLflow pyfunc: feature table in, ``churn_probability`` out.

Artifacts are native formats only: the LightGBM text model (``model.txt``) or the random
forest in skops format (``model.skops``), plus ``spec.json`` (preprocessing, calibration,
parameters). The wrapper itself holds no fitted state.

Dependencies run one way: this module imports the model; the model never imports it
(:func:`crm_ml.churn.log_model` loads it when a model is logged).
"""

from __future__ import annotations

import tempfile

import mlflow.pyfunc
import pandas as pd

from crm_ml.churn.model import ChurnModel
from crm_ml.features.ranges import check_inputs, load_input_ranges
from crm_ml.model_names import CHURN

REGISTERED_NAME = CHURN  # kept for existing imports; the names live in crm_ml.model_names


class ChurnPyfuncModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper around :class:`crm_ml.churn.ChurnModel`.

    Input: the feature table (:func:`crm_ml.features.build` output or the customer table
    the model was trained on) with a ``customer_id`` column (the signature requires it;
    categorical columns are passed as strings, MLflow schemas have no categorical type).
    Output: a DataFrame ``customer_id``, ``churn_probability``, one row per input row, in
    input order. Numeric inputs are checked against their training ranges first
    (:mod:`crm_ml.features.ranges`; ``params`` ``range_check`` and ``range_tolerance``).
    """

    def load_context(self, context):
        arts = context.artifacts
        self.model = ChurnModel.load(model_path=arts["model"], spec_path=arts["spec"])
        # models logged before ranges were stored have no "input_ranges": rules only
        self.input_ranges = load_input_ranges(arts.get("input_ranges"),
                                              self.model.numeric_features())

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        df = pd.DataFrame(model_input)
        ids = df["customer_id"].to_numpy() if "customer_id" in df.columns else None
        check_inputs(self.input_ranges, df, params, "the churn model")
        proba = self.model.predict_proba(df)
        out = pd.DataFrame({"churn_probability": proba.to_numpy(dtype=float)})
        if ids is not None:
            out.insert(0, "customer_id", ids)
        return out


def log_churn_model(model, run, registered_name: str | None = None, name: str = "model"):
    """Log only the pyfunc model of a fitted ChurnModel in ``run`` (optionally registered as
    challenger); :func:`crm_ml.churn.log_model` also logs its parameters, metrics and plots.

    The input example is synthetic (:meth:`ChurnModel.synthetic_example`); no customer row or
    id is logged.

    Returns
    -------
    crm_ml.tracking.ModelLogResult
    """
    from crm_ml.tracking import log_pyfunc_model

    with tempfile.TemporaryDirectory() as tmp:
        paths = model.save(tmp)
        example = model.synthetic_example().reset_index()  # ids are "synthetic-1", ...
        return log_pyfunc_model(
            run, ChurnPyfuncModel(), artifacts=paths, input_example=example, name=name,
            registered_name=registered_name,
            metadata={"module": "churn", "algorithm": model.algorithm,
                      "output": "churn_probability (calibrated)" if model.calibrate
                      else "churn_probability"})
