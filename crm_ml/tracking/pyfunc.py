"""A generic pyfunc wrapper for a scikit-learn estimator stored with skops.

Model modules with more involved inputs write their own ``PythonModel``; this one covers the
simple case (a fitted estimator on named feature columns) and is the reference pattern:
stateless wrapper, fitted state in native files, loaded in ``load_context``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

from crm_ml.tracking.models import ModelLogResult, log_pyfunc_model
from crm_ml.tracking.serialization import load_json, load_sklearn, save_json, save_sklearn


class SkopsEstimatorModel(mlflow.pyfunc.PythonModel):
    """Pyfunc model around a skops-saved estimator.

    Artifacts: ``estimator`` (``.skops`` file) and ``spec`` (JSON with ``feature_columns``,
    ``output_column``, ``method`` = ``"predict_proba"`` | ``"predict"``).
    ``predict`` takes a frame with (at least) the feature columns and returns a one-column
    DataFrame ``output_column`` with the input's index.
    """

    def load_context(self, context):
        self.spec = load_json(context.artifacts["spec"],
                              required=("feature_columns", "output_column", "method"))
        self.estimator = load_sklearn(context.artifacts["estimator"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        missing = [c for c in self.spec["feature_columns"] if c not in model_input.columns]
        if missing:
            from crm_ml.errors import DataValidationError

            raise DataValidationError(f"input lacks feature columns {missing}",
                                      column=missing[0], rule="required")
        X = model_input[self.spec["feature_columns"]]
        if self.spec["method"] == "predict_proba":
            values = self.estimator.predict_proba(X)[:, 1]
        else:
            values = self.estimator.predict(X)
        return pd.DataFrame({self.spec["output_column"]: values}, index=model_input.index)


def log_sklearn_model(run, estimator, *, feature_columns: list[str], input_example: pd.DataFrame,
                      output_column: str = "score", method: str = "predict_proba",
                      name: str = "model", registered_name: str | None = None) -> ModelLogResult:
    """Save ``estimator`` with skops and log it as a :class:`SkopsEstimatorModel`.

    Parameters are those of :func:`crm_ml.tracking.log_pyfunc_model`, plus the feature
    columns the estimator was fitted on, the output column name and the prediction method.
    """
    if method not in ("predict_proba", "predict"):
        raise ValueError(f"method must be 'predict_proba' or 'predict', got {method!r}")
    with tempfile.TemporaryDirectory() as tmp:
        est = save_sklearn(estimator, Path(tmp) / "estimator.skops")
        spec = save_json({"feature_columns": list(feature_columns), "output_column": output_column,
                          "method": method}, Path(tmp) / "spec.json")
        return log_pyfunc_model(run, SkopsEstimatorModel(),
                                artifacts={"estimator": str(est), "spec": str(spec)},
                                input_example=input_example, name=name,
                                registered_name=registered_name)
